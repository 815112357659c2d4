"""The one error type the CLI turns into `Error: ...` on stderr (no traceback unless --debug)."""

from __future__ import annotations

EXIT_RUNTIME = 1
EXIT_USAGE = 2


class KuavoError(Exception):
    """A failure we can explain: a message, an optional fix, and the process exit code."""

    exit_code = EXIT_RUNTIME

    def __init__(self, message: str, hint: str | None = None, exit_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code

    def one_line(self) -> str:
        return f"{self.message} (fix: {self.hint})" if self.hint else self.message


class UsageError(KuavoError):
    """Bad flags, config, dataset or checkpoint given by the user: exit code 2."""

    exit_code = EXIT_USAGE


class ConfigError(UsageError):
    """A config that does not validate; `problems` holds one line per bad field."""

    def __init__(self, problems: list[str], source: str | None = None):
        self.problems = problems
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(where + "; ".join(problems))
