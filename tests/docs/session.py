"""Run a page's shell examples as a new user would: in a fresh directory and database.

Substitution rules (the examples stand for a real deployment; the test has one machine):

- ``postgresql://…`` (any PostgreSQL URL) is the page's fresh database, a SQLite file:
  the commands behave the same on both.
- ``localhost:8765``, ``127.0.0.1:8765`` and ``scheduler.internal:8765`` are the address of
  the first server the page started; a command that starts ``horae server`` or ``horae
  api`` is given a free ``--port`` of its own.
- ``hor_4b5823e6_il6uJ3EE...`` (a token ending in ``...``) is the admin token the page's
  first server printed, and ``4b5823e6`` its id.
- ``myproject.jobs`` is the file block ``# myproject/jobs.py`` of docs/embedding.md,
  written into every page's directory.
- A command whose output shows ``Password:`` gets a password on stdin (twice).
- ``$ cat FILE`` followed by lines shows a file the example uses: FILE is written with them.

A command that starts a long-running process (``horae … server|scheduler|worker|api``) runs
in the background until the page ends; it must print its banner, and exit 0 on SIGTERM.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import eventually
from tests.docs.blocks import Block

BIN = Path(sys.executable).parent
LONG_RUNNING = re.compile(
    r"^(?:exec\s+)?horae\b.*\s(server|scheduler|worker|api)\b(?!\s+(?:list|show))")
TOKEN_PLACEHOLDER = re.compile(r"hor_([0-9a-f]{8})_\w*\.\.\.")
TOKEN = re.compile(r"\bhor_([0-9a-f]{8})_[\w-]+")
PASSWORD = "doc-example-password-1"


@dataclass
class Command:
    text: str
    shown: list[str]
    where: str


def commands(block: Block) -> list[Command]:
    """The commands of a shell block, each with the output it shows (console only)."""
    result: list[Command] = []
    lines = block.text.rstrip("\n").split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        start = block.line + 1 + i
        if block.lang == "console" and not line.startswith("$ "):
            assert result, f"{block.page}:{start}: output before any `$ command`"
            if line.strip():
                result[-1].shown.append(line)
            i += 1
            continue
        text = line[2:] if block.lang == "console" else line
        # A command goes on after a `\\` at the end of a line, or inside an open quote.
        while (text.rstrip().endswith("\\") or not _complete(text)) and i + 1 < len(lines):
            i += 1
            if text.rstrip().endswith("\\"):
                text = text.rstrip()[:-1] + " " + lines[i].strip()
            else:
                text += "\n" + lines[i]
        if text.strip() and not text.lstrip().startswith("#"):
            result.append(Command(text.strip(), [], f"{block.page}:{start}"))
        i += 1
    return result


def _complete(text: str) -> bool:
    try:
        shlex.split(text, comments=True)
    except ValueError:  # no closing quotation
        return False
    return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Session:
    """One page's directory, database, environment and background processes."""

    root: Path
    files: dict[str, str]
    procs: list[tuple[str, subprocess.Popen[bytes], Path]] = field(default_factory=list)
    address: str | None = None
    token: str | None = None
    last_rc: int = 0

    def __post_init__(self) -> None:
        for name, text in self.files.items():
            (self.root / name).parent.mkdir(parents=True, exist_ok=True)
            (self.root / name).write_text(text)
        self.db_url = f"sqlite:///{self.root}/horae.db"
        self.state = self.root / ".state"
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("HORAE_", "VIRTUAL_ENV", "PYTHON"))}
        self.env.update(PATH=f"{BIN}{os.pathsep}{self.env.get('PATH', '')}",
                        HORAE_DATABASE_URL=self.db_url, PYTHONPATH=str(self.root),
                        PYTHONUNBUFFERED="1")

    # -- substitutions ---------------------------------------------------------------
    def substitute(self, text: str) -> str:
        text = re.sub(r"postgresql://\S*?(?=['\"\s]|$)", self.db_url, text)
        if self.address:
            text = re.sub(r"\b(?:localhost|127\.0\.0\.1|scheduler\.internal):8765",
                          self.address, text)
        if self.token:
            text = TOKEN_PLACEHOLDER.sub(self.token, text)
            text = text.replace("4b5823e6", TOKEN.search(self.token).group(1))  # type: ignore[union-attr]
        return text

    # -- background processes --------------------------------------------------------
    def start(self, cmd: Command) -> None:
        text = self.substitute(cmd.text)
        role = LONG_RUNNING.match(text).group(1)  # type: ignore[union-attr]
        port = None
        if role in ("server", "api") and "--port" not in text:
            port = free_port()
            text = re.sub(rf"\b{role}\b", f"{role} --port {port}", text, count=1)
        log = self.root / f".proc{len(self.procs)}.log"
        proc = subprocess.Popen(["bash", "-c", f"exec {text}"], cwd=self.root, env=self.env,
                                stdout=open(log, "wb"), stderr=subprocess.STDOUT,  # noqa: SIM115
                                stdin=subprocess.DEVNULL, start_new_session=True)
        self.procs.append((cmd.where, proc, log))

        def up() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"{cmd.where}: `{text}` exited {proc.returncode}:\n"
                                     f"{log.read_text()}")
            return "Press Ctrl-C to stop" in log.read_text()

        eventually(up, timeout=60, interval=0.1)
        output = log.read_text()
        if port is not None and self.address is None:
            self.address = f"127.0.0.1:{port}"
        found = TOKEN.search(output)
        if found and self.token is None:
            self.token = found.group(0)
        check_shown(cmd, output, 0)

    def start_server(self) -> None:
        """A server for examples that talk to one: the demo and myproject.jobs' tasks."""
        self.start(Command("horae -A myproject.jobs:horae server --demo", [], "(test server)"))

    def stop(self) -> list[str]:
        """Stop the background processes; the problems (an exit code other than 0)."""
        problems = []
        for where, proc, log in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                code = proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                code = proc.wait()
            if code != 0:
                problems.append(f"{where}: exited {code} on SIGTERM:\n{log.read_text()}")
        self.procs.clear()
        return problems

    # -- commands --------------------------------------------------------------------
    def run(self, cmd: Command) -> None:
        cmd = Command(cmd.text, [self.substitute(line) for line in cmd.shown], cmd.where)
        if LONG_RUNNING.match(self.substitute(cmd.text)):
            self.start(cmd)
            return
        text = self.substitute(cmd.text)
        shows_file = re.fullmatch(r"cat ([\w.-]+)", text)
        if shows_file and cmd.shown:
            (self.root / shows_file.group(1)).write_text("\n".join(cmd.shown) + "\n")
        # Every variable a command sets is exported and saved (set -a; export -p), so the
        # next command, a process of its own, sees it; `$?` is the previous command's code.
        script = (f"set -a; set -o pipefail; [ -f {self.state} ] && . {self.state}; "
                  f"(exit {self.last_rc}); {text}\n__rc=$?; export -p > {self.state}; "
                  f"exit $__rc")
        stdin = f"{PASSWORD}\n{PASSWORD}\n" if any(
            line.startswith("Password:") for line in cmd.shown) else ""
        done = subprocess.run(["bash", "-c", script], cwd=self.root, env=self.env,
                              input=stdin.encode(), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=120, start_new_session=True)
        output = done.stdout.decode()
        self.last_rc = done.returncode
        check_shown(cmd, output, done.returncode, text)


def _first(line: str) -> str:
    return line.split()[0] if line.split() else ""


def check_shown(cmd: Command, output: str, code: int, ran: str = "") -> None:
    """The command exits as its shown output implies, and the output's first columns match.

    A shown ``error: FIELD: …`` means the command must fail naming that field; otherwise it
    must exit 0. Each shown line's first column must start a line of the real output, in
    order; a table header (upper-case words) must match word for word. Lines starting with a
    digit or a token (ids, times, counts), and ``...``, stand for whatever the run gives.
    """
    ran = ran or cmd.text
    context = f"{cmd.where}: `{ran}` (exit {code}):\n{output}"
    errors = [line for line in cmd.shown if line.startswith("error:")]
    if errors:
        assert code != 0, f"the example shows an error, but it succeeded: {context}"
        field = " ".join(errors[0].split()[:2])
        assert field in output, f"expected {field!r}: {context}"
        return
    assert code == 0, f"failed: {context}"
    actual = [line.strip() for line in output.splitlines() if line.strip()]
    position = 0
    for line in cmd.shown:
        first = _first(line)
        if first in ("...", "…") or first[:1].isdigit() or first.startswith("hor_"):
            continue
        if first.isupper() and all(word.isupper() for word in line.split()):
            want: object = line.split()
            match = next((i for i in range(position, len(actual))
                          if actual[i].split() == want), None)
        else:
            match = next((i for i in range(position, len(actual))
                          if _first(actual[i]) == first), None)
        assert match is not None, f"shows {line!r}, which is not in the output of {context}"
        position = match + 1
