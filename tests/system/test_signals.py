"""A SIGTERM the kernel hands to any thread of ``horae server`` still stops it.

A process-directed signal may be delivered to any thread that does not block it; Python
runs the handler only when the main thread runs bytecode. A main thread blocked in an
endless wait slept through such a signal: the server never stopped.
"""

from __future__ import annotations

import ctypes
import os
import platform
import signal
from pathlib import Path

import pytest

from tests.conftest import eventually
from tests.system.procs import spawn, stop

#: tgkill(2): a signal to one thread of another process (no Python wrapper exists).
TGKILL = {"x86_64": 234, "aarch64": 131}.get(platform.machine())


def tgkill(pid: int, tid: int, signum: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(TGKILL, pid, tid, signum) != 0:
        raise OSError(ctypes.get_errno(), f"tgkill({pid}, {tid}, {signum})")


def other_threads(pid: int) -> list[int]:
    return sorted(int(t) for t in os.listdir(f"/proc/{pid}/task") if int(t) != pid)


@pytest.mark.skipif(TGKILL is None, reason=f"no tgkill number for {platform.machine()}")
def test_a_sigterm_delivered_to_another_thread_stops_the_server(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/h.db"
    log = tmp_path / "server.log"
    proc = spawn(url, "server", "--no-api", log=log)
    try:
        eventually(lambda: b"Press Ctrl-C" in log.read_bytes(), timeout=30)
        # Its scheduler and worker threads run by now; the signal goes to one of them.
        tgkill(proc.pid, other_threads(proc.pid)[-1], signal.SIGTERM)
        assert proc.wait(timeout=20) == 0, log.read_text(errors="replace")
    finally:
        stop(proc, timeout=5)
    assert "stopped" in log.read_text(errors="replace")
