"""Starting and stopping real ``horae`` processes in system tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

HORAE = str(Path(sys.executable).with_name("horae"))
ROOT = Path(__file__).resolve().parents[2]


def spawn(db_url: str, *args: str, app: str | None = "tests.system.apps:app",
          log: Path | None = None) -> subprocess.Popen[bytes]:
    """Run ``horae [-A app] --db URL ARGS...`` as a child process."""
    env = dict(os.environ, HORAE_DATABASE_URL=db_url,
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    cmd = [HORAE, "--db", db_url, *(["-A", app] if app else []), *args]
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - closed with the child
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    LOGS[proc.pid] = log
    return proc


#: Each spawned process's log file, so a failure can show what it said.
LOGS: dict[int, Path | None] = {}


def kill_hard(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


def stop(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> int:
    """SIGTERM and wait; returns the exit code (SIGKILL if it did not stop in time)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            # Ask it for every thread's stack (horae serve registers SIGUSR1 with
            # faulthandler), so its log says what it was waiting for.
            proc.send_signal(signal.SIGUSR1)
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log = LOGS.get(proc.pid)
            said = log.read_text(errors="replace")[-12000:] if log and log.exists() else ""
            raise AssertionError(f"{' '.join(map(str, proc.args))} did not stop within "
                                 f"{timeout:g}s of SIGTERM; its log, with every thread's "
                                 f"stack:\n{said}") from None
    return proc.returncode
