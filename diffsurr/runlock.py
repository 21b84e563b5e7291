"""Who may work in a run folder at once: train alone; evaluate and generalise, which only read
model.pt and each write their own file, side by side (Snakemake runs them so). They hold an OS
file lock (``fcntl.flock`` on ``<run>/.run.lock``: exclusive for train, shared for the
readers), which the system releases when the process dies, so a killed stage never leaves a
stale lock behind."""

from __future__ import annotations

import datetime as _dt
import fcntl
import os
from contextlib import contextmanager
from pathlib import Path

LOCK_NAME = ".run.lock"
READERS = ("evaluate", "generalise")


class RunBusy(RuntimeError):
    """Another process holds the run folder's lock."""


@contextmanager
def run_lock(folder: str | os.PathLike, stage: str, run: str):
    """Hold the lock of run folder ``folder`` (which must exist) for ``stage`` (shared for
    the READERS, exclusive otherwise); RunBusy at once, naming ``run`` and the holders' pids,
    if another process holds it in a way that excludes ``stage``."""
    path = Path(folder) / LOCK_NAME
    shared = stage in READERS
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    held = False
    try:
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunBusy(f"run {run} is in use by {_holders(path)}; wait until it ends (or "
                          f"stop it) and run {stage} again") from None
        held = True
        if not shared:
            os.ftruncate(fd, 0)             # the lines of earlier (ended) holders
        now = _dt.datetime.now().isoformat(timespec="seconds")
        os.write(fd, f"pid {os.getpid()} ({stage}, since {now})\n".encode())
        yield
    finally:
        if held and not shared:
            os.ftruncate(fd, 0)
        os.close(fd)                        # closing the descriptor releases the lock


def _holders(path: Path) -> str:
    """The holder lines of processes still alive, or a general phrase."""
    alive = [line for line in path.read_text(errors="replace").splitlines()
             if line.startswith("pid ") and _alive(line.split()[1])]
    return "; ".join(alive) or "another process"


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True
