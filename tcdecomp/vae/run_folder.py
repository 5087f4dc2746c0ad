"""What tcdecomp writes into a run folder, and its one rule: nothing there is replaced unless asked.

``tcdecomp train`` into a folder that already holds a run, or ``tcdecomp evaluate`` into one that already
holds an evaluation, is refused with one line naming ``--resume`` (training), ``--overwrite`` and a fresh
``--out-dir``; with ``overwrite=True`` the old outputs are removed first, so no picture or evaluation of
the old model is left beside the new one. A sweep's store and a training run never share a folder.
"""

from __future__ import annotations

from pathlib import Path

from .checkpoint import CHECKPOINT

METRICS = "metrics.jsonl"
CONFIG_FILE = "config.json"
EVALUATION = "evaluation.json"
TRAVERSAL = "traversal.png"
RECONSTRUCTIONS = "reconstructions.png"
#: a training run's own files, and an evaluation's (which describe one model: stale beside another)
TRAINING_OUTPUTS = (CHECKPOINT, METRICS, CONFIG_FILE)
EVALUATION_OUTPUTS = (EVALUATION, TRAVERSAL, RECONSTRUCTIONS)
#: the files that mark a sweep's store (tcdecomp.sweeps.runner)
SWEEP_MARKERS = ("results.jsonl", "sweep.json")


def present(folder, names) -> list[str]:
    """Which of ``names`` exist in ``folder``."""
    folder = Path(folder)
    return [name for name in names if (folder / name).exists()]


def refuse_sweep_store(folder, what: str) -> None:
    """A sweep's store is not a run folder: refuse to write ``what`` into one."""
    found = present(folder, SWEEP_MARKERS)
    if found:
        raise ValueError(f"{folder} holds a sweep's store ({', '.join(found)}), not a run; choose another --out-dir")


def claim(folder, names, overwrite: bool, what: str, hint: str) -> None:
    """Make ``folder`` ready for new outputs: refuse if any of ``names`` is there, or remove them with
    ``overwrite``. ``what`` says what they are, ``hint`` how else to go on."""
    found = present(folder, names)
    if not found:
        return
    if not overwrite:
        raise ValueError(
            f"{folder} already holds {what} ({', '.join(found)}); {hint}pass --overwrite to replace it, "
            "or choose another --out-dir"
        )
    for name in found:
        (Path(folder) / name).unlink()
