"""What tcdecomp writes into a run folder, and its one rule: nothing there is replaced unless asked.

``tcdecomp train`` into a folder that already holds a run (its checkpoint), or ``tcdecomp evaluate`` into one
that already holds an evaluation (its evaluation.json), is refused with one line naming ``--resume``
(training), ``--overwrite`` and a fresh ``--out-dir``; with ``overwrite=True`` the old outputs are removed
first, so no picture or evaluation of the old model is left beside the new one. Outputs without their marker
are the leftovers of a writer killed before it finished (a config.json and metrics before the first
checkpoint, pictures before evaluation.json) and are removed without asking. A sweep's store and a training
run never share a folder.
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


def claim(folder, names, markers, overwrite: bool, what: str, hint: str) -> None:
    """Make ``folder`` ready for new outputs ``names``: refuse if one of ``markers`` (the files a finished
    writer leaves) is there, unless ``overwrite``; then remove every one of ``names`` that is there. ``what``
    says what the markers mean, ``hint`` how else to go on."""
    found = present(folder, names)
    finished = [name for name in found if name in markers]
    if finished and not overwrite:
        raise ValueError(
            f"{folder} already holds {what} ({', '.join(found)}); {hint}pass --overwrite to replace it, "
            "or choose another --out-dir"
        )
    for name in found:
        (Path(folder) / name).unlink()
