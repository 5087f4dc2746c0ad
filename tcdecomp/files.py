"""Files: safe loading (nothing is ever unpickled), atomic writes, JSON-lines stores, one writer per folder.

* :func:`load_arrays` reads ``.npz`` / ``.npy`` / ``.pt`` inputs with ``allow_pickle=False`` and
  ``torch.load(weights_only=True)``: a crafted file cannot run code, it can only fail to load.
* :func:`atomic_write_bytes` / :func:`atomic_write_text` write a temp file in the same folder,
  fsync it, and rename it over the target: a kill leaves the old file or the new one, never half.
* :func:`read_jsonl` skips a torn (half-written) line instead of failing on it.
* :class:`DirectoryLock` is an exclusive ``fcntl.flock`` on ``<folder>/.lock``; the kernel releases
  it when its process dies, even by kill -9, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

log = logging.getLogger(__name__)

LOCK_FILE = ".lock"


def one_line(exc: BaseException) -> str:
    """An exception's message folded onto one line (torch's unpickling errors span many)."""
    text = " ".join(str(exc).split())
    return text if len(text) <= 300 else text[:297] + "..."


#: what to do about the file-system errors a writer meets, by errno
OS_ERROR_ADVICE = {
    errno.EROFS: "the file system is read-only: choose a writable --out-dir",
    errno.EACCES: "permission denied: choose a folder you may write to",
    errno.EPERM: "permission denied: choose a folder you may write to",
    errno.ENOSPC: "the disk is full: free space or choose another --out-dir (what was written before is intact)",
    errno.EDQUOT: "the disk quota is used up: free space or choose another --out-dir",
    errno.ENOTDIR: "a part of the path is a file, not a folder: choose another path",
    errno.EISDIR: "it is a folder, not a file: pass a file",
    errno.ENOENT: "no such file or folder",
    errno.ENAMETOOLONG: "the path is too long",
}


def describe_os_error(exc: OSError) -> str:
    """One line for a file-system error: the path, what went wrong and what to do."""
    where = exc.filename if exc.filename is not None else "a file"
    advice = OS_ERROR_ADVICE.get(exc.errno, exc.strerror or type(exc).__name__)
    return f"{where}: {advice} ({exc.strerror or type(exc).__name__})"


def read_toml(path, what: str = "file") -> dict:
    """A TOML file as a dict; a missing or malformed file is one ``ValueError`` line."""
    file = Path(path)
    if not file.is_file():
        raise ValueError(f"{what} not found: {path}")
    try:
        with open(file, "rb") as fh:
            return tomllib.load(fh)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not valid TOML: {exc}") from None


def describe_load_error(exc: BaseException) -> str:
    """One line on why a file did not load; for a refused pickle, what it tried to build (never the advice
    to load it unsafely, which torch's own message gives)."""
    text = " ".join(str(exc).split())
    if type(exc).__name__ == "UnpicklingError" or "allow_pickle" in text:
        found = re.search(r"(unsupported GLOBAL [^ ]+|Unsupported global: [^ ]+|Unsupported operand \d+)", text, re.I)
        detail = f" ({found.group(1)})" if found else ""
        return f"it is not a plain array file: it holds pickled Python objects{detail}, which tcdecomp never unpickles"
    return one_line(exc) if text else f"{type(exc).__name__} (is the file empty?)"


#: the first bytes of each input format: a .npy header, a zip archive (.npz, and .pt since torch 1.6), or a
#: legacy .pt's pickle protocol byte (torch's weights-only loader reads those without running code)
SIGNATURES = {".npy": (b"\x93NUMPY",), ".npz": (b"PK\x03\x04", b"PK\x05\x06"), ".pt": (b"PK\x03\x04", b"\x80")}
SIGNATURES[".pth"] = SIGNATURES[".pt"]


def _what_it_looks_like(head: bytes) -> str:
    text = head.lstrip()
    if text[:1] in (b"{", b"["):
        return "it starts like JSON text"
    if head[:1] == b"\x80":
        return "it is a Python pickle, which tcdecomp never unpickles"
    if head and all(32 <= c < 127 or c in (9, 10, 13) for c in head):
        return "it is plain text"
    return "its first bytes match no array format" if head else "it is empty"


#: tables read by pandas (the optional ``tables`` extra), their columns' names kept
TABLE_SUFFIXES = (".csv", ".parquet")


def load_table(file: Path):
    """A .csv or .parquet file as a pandas DataFrame (one line if pandas, or parquet's engine, is missing)."""
    try:
        import pandas as pd
    except ImportError:
        raise ValueError(f"reading {file.suffix} files needs pandas: pip install 'tcdecomp[tables]'") from None
    try:
        if file.suffix.lower() == ".csv":
            return pd.read_csv(file)
        return pd.read_parquet(file)
    except ImportError:
        raise ValueError("reading .parquet files needs pyarrow: pip install 'tcdecomp[tables]'") from None
    except Exception as exc:  # a damaged or foreign file: one line
        raise ValueError(
            f"could not read {file}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        ) from None


def load_arrays(path) -> dict:
    """The arrays of an ``.npz``, ``.npy`` or ``.pt`` file as a dict (``x`` for a single array; a ``.csv`` or
    ``.parquet`` table is ``x``, a DataFrame). The file's first
    bytes must be its format's signature: a JSON or random file named ``.npy`` is one line saying so."""
    file = Path(path)
    if file.is_dir():
        raise ValueError(f"{path} is a folder; pass an .npz, .npy or .pt file")
    if not file.is_file():
        raise ValueError(f"no such file: {path}")
    suffix = file.suffix.lower()
    if suffix in TABLE_SUFFIXES:
        return {"x": load_table(file)}
    if suffix not in (".npz", ".npy", ".pt", ".pth"):
        raise ValueError(f"{path}: unknown file type {suffix!r}; use .npz, .npy, .pt, .csv or .parquet")
    with open(file, "rb") as fh:
        head = fh.read(64)
    if not head.startswith(SIGNATURES[suffix]):
        raise ValueError(f"could not read {path}: it is not a {suffix} file ({_what_it_looks_like(head)})")
    try:
        if suffix == ".npz":
            with np.load(file, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
        if suffix == ".npy":
            return {"x": np.load(file, allow_pickle=False)}
        obj = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # a corrupt, foreign or pickled-object file: one line, nothing executed
        raise ValueError(f"could not read {path}: {describe_load_error(exc)}") from None
    if isinstance(obj, torch.Tensor):
        return {"x": obj}
    if isinstance(obj, dict):
        return dict(obj)
    raise ValueError(f"{path} holds a {type(obj).__name__}; save a tensor or a dict of tensors")


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # not every platform opens folders
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path, data: bytes) -> None:
    """Replace ``path`` by ``data`` in one step (temp file, fsync, rename)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def read_jsonl(path) -> list[dict]:
    """The records of a JSON-lines file; torn or foreign lines are skipped with a warning naming the file."""
    path = Path(path)
    if not path.exists():
        return []
    out = []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            record = None
        if not isinstance(record, dict):
            log.warning("%s line %d is torn or not a JSON object; skipped", path, number)
            continue
        out.append(record)
    return out


def append_jsonl(path, record: dict) -> None:
    """Append one record as a line, on a fresh line if a kill tore the last one, and fsync it."""
    path = Path(path)
    torn = path.exists() and path.stat().st_size > 0 and not path.read_bytes().endswith(b"\n")
    with open(path, "a") as fh:
        fh.write(("\n" if torn else "") + json.dumps(record) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


class DirectoryLock:
    """An exclusive lock on a folder: ``with DirectoryLock(folder, "training"):``.

    A second holder fails at once with a one-line ``ValueError`` naming the holder, or with
    ``wait=True`` blocks until the lock is free. The folder is created if needed; a path that
    is a file is refused. The new holder removes the temp files of a killed writer's
    unfinished atomic writes.
    """

    def __init__(self, folder, purpose: str, wait: bool = False):
        self.folder, self.purpose, self.wait = Path(folder), purpose, wait
        self._fd: int | None = None

    def __enter__(self) -> DirectoryLock:
        if self.folder.exists() and not self.folder.is_dir():
            raise ValueError(f"{self.folder} is a file, not a folder; choose another output folder")
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # no flock on this platform: one writer per folder is the user's job
            log.warning("no fcntl here: %s is not locked against a second writer", self.folder)
            return self
        fd = os.open(self.folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if self.wait else fcntl.LOCK_NB))
        except BlockingIOError:
            holder = os.read(fd, 200).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise ValueError(
                f"{self.folder} is in use by {holder}; wait for it to finish or choose another output folder"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} ({self.purpose}, since {time.strftime('%H:%M:%S')})".encode(), 0)
        self._fd = fd
        for stale in self.folder.glob(".*.tmp"):  # a killed writer's unfinished atomic writes: never renamed
            stale.unlink(missing_ok=True)
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None
