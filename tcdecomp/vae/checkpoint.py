"""Checkpoints that cannot run code and cannot pass corruption off as a model.

A checkpoint is a plain nested structure of tensors, numbers, strings, lists and dicts
(the config as a dict, state dicts, RNG and generator states as uint8 tensors), saved
with ``torch.save`` and loaded with ``torch.load(weights_only=True)``: the restricted
unpickler builds only those types, so a crafted file fails to load instead of executing.

Every checkpoint carries the SHA-256 of its content (:func:`content_digest`), checked on
load: flipped bytes give a one-line "corrupted checkpoint" error, never a model whose
ELBO is -5e35. Writes are atomic (temp file, fsync, rename).
"""

from __future__ import annotations

import hashlib
import io
import logging
from pathlib import Path

import torch

from ..io import atomic_write_bytes, describe_load_error

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"
FORMAT = 2
#: the key under which the digest of everything else is stored
DIGEST = "sha256"


def _feed(h, obj) -> None:
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(obj, dict):
        h.update(f"D{len(obj)}".encode())
        for key in sorted(obj, key=repr):
            _feed(h, key)
            _feed(h, obj[key])
    elif isinstance(obj, (list, tuple)):
        h.update(f"{type(obj).__name__[0]}{len(obj)}".encode())
        for item in obj:
            _feed(h, item)
    elif obj is None or isinstance(obj, (bool, int, float, str)):
        h.update(repr((type(obj).__name__, obj)).encode())
    else:
        raise TypeError(f"a checkpoint holds only tensors, numbers, strings, lists and dicts, not {type(obj).__name__}")


def content_digest(state: dict) -> str:
    """SHA-256 over the state's structure, every tensor's dtype, shape and bytes, and every plain value."""
    h = hashlib.sha256()
    _feed(h, {k: v for k, v in state.items() if k != DIGEST})
    return h.hexdigest()


def save_checkpoint(path, state: dict) -> None:
    """Write ``state`` (plain types and tensors only) with its digest, atomically."""
    state = {**state, "format": FORMAT}
    state[DIGEST] = content_digest(state)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def checkpoint_path(path) -> Path:
    path = Path(path)
    return path / CHECKPOINT if path.is_dir() else path


def load_checkpoint(path) -> dict:
    """The state in a checkpoint file (or a run folder); any failure is one ``ValueError`` line."""
    path = checkpoint_path(path)
    if not path.is_file():
        raise ValueError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated, corrupted, foreign, or holding objects the safe unpickler refuses
        raise ValueError(
            f"corrupted or foreign checkpoint {path}: it does not load as plain tensors and values "
            f"({describe_load_error(exc)})"
        ) from None
    if not isinstance(state, dict) or not {"config", "model", "step"} <= set(state):
        raise ValueError(f"{path} is not a tcdecomp checkpoint (no config, model or step); train to create one")
    if DIGEST not in state:
        # Written before checkpoints carried a digest: still loaded safely; the strict state-dict load and the
        # finiteness check on restore are what guard it against corruption.
        log.warning("%s has no content digest (an older checkpoint): its integrity is not verified", path)
        return state
    try:
        intact = content_digest(state) == state[DIGEST]
    except TypeError:  # an entry of a type no checkpoint holds
        intact = False
    if not intact:
        raise ValueError(f"corrupted checkpoint {path}: its content does not match its SHA-256 digest")
    return state


def check_finite_state(state_dict: dict, what: str, path) -> None:
    """Refuse a state whose floating tensors hold NaN or inf (a diverged run), naming the first."""
    for name, value in state_dict.items():
        if isinstance(value, torch.Tensor) and value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise ValueError(
                f"checkpoint {path}: {what} tensor {name!r} holds NaN or inf (the run diverged before "
                "it was saved); resume from an earlier run or lower train.lr"
            )
