"""``rollouts.jsonl`` in a training run's folder: what the policy wrote, step by step.

Each line is one episode in the record shape of ``sample``'s files (``messages`` +
``metadata``: env, task id, sample index, reward, components, reason, outcome, completion
tokens, ``kept``: whether its group was trained on), plus the ``step`` that trained on it and
the ``policy_version`` that sampled it. At most ``rollouts_per_step`` episodes (whole groups
first) of every ``rollouts_every``-th step are written, so long runs stay small. Lines are
appended with fsync before the step's metrics; a resumed run drops the lines of steps after
its checkpoint (they are redone), as ``metrics.jsonl`` does, and a torn last line.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainers.task_log import record_line

if TYPE_CHECKING:
    from trainers.rollout import Rollout


def rollout_record(rollout: Rollout, *, env_id: str, kept: bool, version: int) -> dict[str, Any]:
    return rollout.record(env_id, hit_token_limit=rollout.hit_token_limit, kept=kept, policy_version=version)


class RolloutLog:
    def __init__(self, out_dir: Path, resume_step: int, *, enabled: bool = True):
        self.path, self.enabled = Path(out_dir) / "rollouts.jsonl", enabled
        if enabled and self.path.exists():
            self._trim(resume_step)

    def _trim(self, step: int) -> None:
        """Keep the lines of checkpointed steps (streamed: the file may be large)."""
        tmp = self.path.with_name(".rollouts.jsonl.tmp")
        changed = False
        with open(self.path, "rb") as source, open(tmp, "wb") as kept:
            for line in source:
                try:
                    row = json.loads(line) if line.endswith(b"\n") else None
                except ValueError:
                    row = None
                if isinstance(row, dict) and row.get("metadata", {}).get("step", step + 1) <= step:
                    kept.write(line)
                else:
                    changed = True
            kept.flush()
            os.fsync(kept.fileno())
        if changed:
            tmp.replace(self.path)
        else:
            tmp.unlink()

    def write(self, step: int, records: list[dict[str, Any]]) -> None:
        if not self.enabled or not records:
            return
        payload = b"".join(record_line({**r, "metadata": {**r["metadata"], "step": step}}) for r in records)
        with open(self.path, "ab") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
