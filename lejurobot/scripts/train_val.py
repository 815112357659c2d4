"""`python -m lejurobot.scripts.train_val --config FILE` (and under `accelerate launch`) = `kuavo train FILE`."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    from kuavo_cli.cli.app import main as kuavo_main

    args = list(sys.argv[1:] if argv is None else argv)
    if "--config" in args:
        i = args.index("--config")
        args = [*args[:i], *args[i + 1 : i + 2], *args[i + 2 :]]
    args = [a.split("=", 1)[1] if a.startswith("--config=") else a for a in args]
    kuavo_main(["train", *args])


if __name__ == "__main__":
    main()
