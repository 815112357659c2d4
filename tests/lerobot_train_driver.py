"""Run lerobot 0.6.1's own `lerobot-train` (its `main()`, unchanged) and record, at full precision, what it
computed at every optimizer step: loss, grad norm and the dataset indices of the batch.

    python tests/lerobot_train_driver.py RECORD.json -- --dataset.repo_id=... (lerobot-train flags)

Only observes: `update_policy` is wrapped to read the MetricsTracker it returns; lerobot's log line rounds
to 3 decimals, which is too coarse to compare two trainers.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> None:
    record_path = Path(sys.argv[1])
    args = sys.argv[sys.argv.index("--") + 1 :]
    import lerobot.scripts.lerobot_train as lerobot_train

    records: list[dict] = []
    original = lerobot_train.update_policy

    def recording_update_policy(train_metrics, policy, batch, *rest, **kwargs):
        indices = batch["index"].tolist()
        tracker, output = original(train_metrics, policy, batch, *rest, **kwargs)
        records.append({"loss": tracker.loss.val, "grad_norm": tracker.grad_norm.val, "indices": indices})
        return tracker, output

    lerobot_train.update_policy = recording_update_policy
    sys.argv = ["lerobot-train", *args]
    lerobot_train.main()
    record_path.write_text(json.dumps(records))


if __name__ == "__main__":
    main()
