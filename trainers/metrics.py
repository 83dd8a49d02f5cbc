"""Where a training run's per-step metrics go: JSONL (always), TensorBoard, W&B (optional).

``metrics.jsonl`` is the record a resumed run trims back to its checkpoint, so every step
appears exactly once; lines are appended with fsync, and a torn last line (kill -9 during
the write) is dropped on resume. TensorBoard event files live in ``tensorboard/``; W&B runs
offline when ``WANDB_MODE=offline``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

REPORTERS = ("tensorboard", "wandb")


def _read_lines(path: Path) -> list[dict[str, Any]]:
    """Every complete line of a metrics file (a torn last line is ignored)."""
    rows = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue
    return rows


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The per-step rows of a metrics file (not the provenance header lines)."""
    return [row for row in _read_lines(path) if "step" in row]


def read_provenance(path: Path) -> list[dict[str, Any]]:
    """The provenance header of a metrics file: one per run that wrote to it (a resumed run adds one)."""
    return [row["provenance"] for row in _read_lines(path) if "provenance" in row]


def check_reporters(report_to: list[str]) -> None:
    unknown = set(report_to) - set(REPORTERS)
    if unknown:
        raise ValueError(f"report_to takes {', '.join(REPORTERS)}; unknown: {', '.join(sorted(unknown))}")


class MetricsLog:
    def __init__(
        self,
        out_dir: Path,
        report_to: list[str],
        config: dict[str, Any],
        resume_step: int,
        *,
        provenance: dict[str, Any] | None = None,
        enabled: bool = True,
    ):
        """``enabled`` False: a training process other than the coordinator, which writes nothing."""
        check_reporters(report_to)
        self.path, self.enabled = Path(out_dir) / "metrics.jsonl", enabled
        self.tensorboard = self.wandb = None
        if not enabled:
            return
        self._trim(resume_step)
        if provenance is not None:  # how the run was produced: first line, and one more per resume
            self._append({"provenance": {**provenance, "from_step": resume_step + 1}})
        if "tensorboard" in report_to:
            from torch.utils.tensorboard import SummaryWriter

            self.tensorboard = SummaryWriter(str(Path(out_dir) / "tensorboard"), purge_step=resume_step + 1)
        if "wandb" in report_to:
            try:
                import wandb
            except ImportError:
                raise ValueError(
                    "report_to wandb needs the wandb package: pip install wandb (WANDB_MODE=offline works)"
                ) from None
            self.wandb = wandb.init(
                project="atropos-envs",
                dir=str(out_dir),
                config=config,
                resume="allow",
                id=Path(out_dir).resolve().name,
            )

    def _trim(self, step: int) -> None:
        """Keep the metrics of checkpointed steps only: the steps after it will be redone."""
        if self.path.exists():
            kept = [row for row in _read_lines(self.path) if row.get("step", 0) <= step]
            tmp = self.path.with_name(".metrics.jsonl.tmp")
            tmp.write_text("".join(json.dumps(row) + "\n" for row in kept))
            tmp.replace(self.path)

    def _append(self, row: dict[str, Any]) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps(row) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def write(self, metrics: dict[str, Any]) -> None:
        if not self.enabled:
            return
        self._append(metrics)
        step = metrics["step"]
        numbers = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and k != "step"}
        if self.tensorboard is not None:
            for key, value in numbers.items():
                self.tensorboard.add_scalar(key, value, step)
            self.tensorboard.flush()
        if self.wandb is not None:
            self.wandb.log(numbers, step=step)

    def close(self) -> None:
        if self.tensorboard is not None:
            self.tensorboard.close()
        if self.wandb is not None:
            self.wandb.finish()


def plot_metrics(metrics_path: Path, png_path: Path) -> None:
    """Reward, completion length, KL (or loss) and, for PPO, value loss per step, as one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_metrics(metrics_path)
    panels = [("mean_reward", "mean reward"), ("mean_completion_tokens", "completion tokens")]
    panels.append(("kl", "KL to reference") if any("kl" in r for r in rows) else ("loss", "policy loss"))
    if any("value_loss" in r for r in rows):
        panels.append(("value_loss", "value loss"))
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.2))
    for ax, (key, title) in zip(axes, panels):
        points = [(r["step"], r[key]) for r in rows if key in r]
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", markersize=3)
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    tmp = png_path.with_name(png_path.name + ".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(png_path)
