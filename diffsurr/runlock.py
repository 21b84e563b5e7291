"""One process at a time per run folder: train, evaluate and generalise hold an OS file lock
(``fcntl.flock`` on ``<run>/.run.lock``), which the system releases when the process dies, so
a killed stage never leaves a stale lock behind."""

from __future__ import annotations

import datetime as _dt
import fcntl
import os
from contextlib import contextmanager
from pathlib import Path

LOCK_NAME = ".run.lock"


class RunBusy(RuntimeError):
    """Another process holds the run folder's lock."""


@contextmanager
def run_lock(folder: str | os.PathLike, stage: str, run: str):
    """Hold the lock of run folder ``folder`` (which must exist) for ``stage``; RunBusy at
    once, naming ``run`` and the holder's pid, if another process holds it."""
    path = Path(folder) / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            raise RunBusy(f"run {run} is in use by {holder}; wait until it ends (or stop it) "
                          f"and run {stage} again") from None
        now = _dt.datetime.now().isoformat(timespec="seconds")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} ({stage}, since {now})".encode(), 0)
        yield
    finally:
        os.close(fd)                # closing the descriptor releases the lock
