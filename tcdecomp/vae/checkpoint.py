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
from pathlib import Path

import torch

from ..files import atomic_write_bytes, describe_load_error

CHECKPOINT = "checkpoint.pt"
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
    state = {**state, DIGEST: content_digest(state)}
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
        raise ValueError(f"{path} carries no content digest, so its integrity cannot be checked; train to create one")
    try:
        intact = content_digest(state) == state[DIGEST]
    except TypeError:  # an entry of a type no checkpoint holds
        intact = False
    if not intact:
        raise ValueError(f"corrupted checkpoint {path}: its content does not match its SHA-256 digest")
    check_fields(state, path)
    return state


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_bytes_tensor(value) -> bool:
    return isinstance(value, torch.Tensor) and value.dtype == torch.uint8 and value.dim() == 1


#: what each field of a training checkpoint must be (a digest proves the file is what was written, not that
#: what was written makes sense: a hand-made file can carry a valid digest)
FIELDS = {
    "config": (lambda v: isinstance(v, dict), "a dict"),
    "model": (lambda v: isinstance(v, dict), "a state dict"),
    "optimizer": (lambda v: isinstance(v, dict), "a state dict"),
    "loss": (lambda v: isinstance(v, dict), "a state dict"),
    "step": (_is_count, "a non-negative integer"),
    "pos": (_is_count, "a non-negative integer"),
    "cpu_threads": (lambda v: _is_count(v) and v > 0, "a positive integer"),
    "torch_rng": (_is_bytes_tensor, "a uint8 tensor"),
    "generator": (_is_bytes_tensor, "a uint8 tensor"),
    "torch_rng_ranks": (
        lambda v: isinstance(v, list) and len(v) > 0 and all(_is_bytes_tensor(t) for t in v),
        "a non-empty list of uint8 tensors",
    ),
    "order": (
        lambda v: v is None or (isinstance(v, torch.Tensor) and v.dtype == torch.int64 and v.dim() == 1),
        "None or a 1-D int64 tensor",
    ),
}


def check_fields(state: dict, path) -> None:
    """Refuse a checkpoint whose fields have the wrong type or range, naming the first, and a position that
    lies outside its own epoch order or beyond its config's steps."""
    for key, (ok, expected) in FIELDS.items():
        if key in state and not ok(state[key]):
            shown = repr(state[key]) if not isinstance(state[key], torch.Tensor) else f"a {state[key].dtype} tensor"
            raise ValueError(f"checkpoint {path}: its {key} is {shown[:60]}, expected {expected}")
    order, pos = state.get("order"), state.get("pos", 0)
    if isinstance(order, torch.Tensor) and pos > len(order):
        raise ValueError(f"checkpoint {path}: its pos {pos} lies beyond its epoch order of {len(order)} rows")
    steps = state["config"].get("train", {}).get("steps") if isinstance(state["config"].get("train"), dict) else None
    if _is_count(steps) and state["step"] > steps:
        raise ValueError(f"checkpoint {path}: its step {state['step']} lies beyond its config's train.steps={steps}")


def check_finite_state(state_dict: dict, what: str, path) -> None:
    """Refuse a state whose floating tensors hold NaN or inf (a diverged run), naming the first."""
    for name, value in state_dict.items():
        if isinstance(value, torch.Tensor) and value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise ValueError(
                f"checkpoint {path}: {what} tensor {name!r} holds NaN or inf (the run diverged before "
                "it was saved); resume from an earlier run or lower train.lr"
            )
