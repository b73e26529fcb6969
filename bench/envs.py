"""One virtual environment per peer under ``bench/.venvs/`` (ignored by git).

Peers are never dependencies of the ``horae`` package: each lives in its own venv, made
with ``python -m venv`` and filled with pip from pinned requirements. An environment that
fails to install is recorded as "not installable here" and its benchmarks are reported as
such, not as a crash.

    python -m bench.envs            # create/refresh every env, print installed versions
    python -m bench.envs celery     # just one
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
VENVS = BENCH / ".venvs"

# env name -> (pinned requirements, distributions whose versions the results quote)
ENVS: dict[str, tuple[list[str], list[str]]] = {
    # redis: the RedisJobStore of the polling workload (seed 004's own design)
    "apscheduler3": (["apscheduler==3.11.3", "sqlalchemy>=2.0,<2.2", "redis>=5,<9"],
                     ["apscheduler", "sqlalchemy", "redis"]),
    "apscheduler4": (["apscheduler[sqlalchemy,asyncpg,psycopg]==4.0.0a6", "aiosqlite>=0.20",
                      "psycopg[binary]>=3.2", "asyncpg>=0.29",
                      "anyio>=4.4,<4.10", "sniffio"],  # what 4.0.0a6 was built against
                     ["apscheduler", "sqlalchemy", "anyio", "aiosqlite", "asyncpg", "psycopg"]),
    "celery": (["celery[redis]==5.7.0", "celery-redbeat==2.4.2", "django-celery-beat==2.9.0",
                "psycopg[binary]>=3.2"],
               ["celery", "celery-redbeat", "django-celery-beat", "django", "redis", "kombu"]),
    "dramatiq": (["dramatiq[redis]==2.2.1"], ["dramatiq", "redis"]),
    "rq": (["rq==2.12.0"], ["rq", "redis"]),
    "procrastinate": (["procrastinate==3.10.0", "psycopg[binary]>=3.2"],
                      ["procrastinate", "psycopg"]),
    "pgqueuer": (["pgqueuer==1.6.0", "asyncpg>=0.29"], ["pgqueuer", "asyncpg"]),
    "plot": (["matplotlib>=3.8"], ["matplotlib"]),  # bench-only tool: draws the chart
}


def python_of(env: str) -> Path:
    return VENVS / env / "bin" / "python"


def status_file(env: str) -> Path:
    return VENVS / f"{env}.json"


def status(env: str) -> dict[str, object]:
    """``{"ok": bool, "versions": {...}, "error": str}`` of an env, as last installed."""
    try:
        data = json.loads(status_file(env).read_text())
        assert isinstance(data, dict)
        return data
    except (OSError, ValueError, AssertionError):
        return {"ok": False, "versions": {}, "error": "not installed (run without --skip-install)"}


def install(env: str, *, log=print) -> dict[str, object]:  # type: ignore[no-untyped-def]
    reqs, _ = ENVS[env]
    VENVS.mkdir(parents=True, exist_ok=True)
    where = VENVS / env
    t0 = time.monotonic()
    try:
        if not python_of(env).exists():
            subprocess.run([sys.executable, "-m", "venv", str(where)], check=True,
                           capture_output=True, text=True, timeout=300)
        subprocess.run([str(python_of(env)), "-m", "pip", "install", "-q", *reqs],
                       check=True, capture_output=True, text=True, timeout=1200)
        result: dict[str, object] = {"ok": True, "versions": versions(env), "error": ""}
    except subprocess.CalledProcessError as exc:
        tail = (exc.stderr or exc.stdout or "").strip().splitlines()[-3:]
        result = {"ok": False, "versions": {}, "error": "not installable here: " + " / ".join(tail)}
    except subprocess.TimeoutExpired:
        result = {"ok": False, "versions": {}, "error": "not installable here: pip timed out"}
    result["requirements"] = reqs
    status_file(env).write_text(json.dumps(result, indent=1))
    log(f"env {env}: {'ok' if result['ok'] else result['error']} "
        f"({time.monotonic() - t0:.0f}s) {result['versions']}")
    return result


def versions(env: str) -> dict[str, str]:
    _, dists = ENVS[env]
    code = ("import json, sys, importlib.metadata as m\n"
            "out = {}\n"
            "for d in sys.argv[1:]:\n"
            "    try: out[d] = m.version(d)\n"
            "    except m.PackageNotFoundError: pass\n"
            "out['python'] = sys.version.split()[0]\n"
            "print(json.dumps(out))")
    res = subprocess.run([str(python_of(env)), "-c", code, *dists], capture_output=True,
                         text=True, check=True, timeout=60)
    data = json.loads(res.stdout)
    assert isinstance(data, dict)
    return data


def ensure(envs: list[str], *, skip_install: bool = False) -> dict[str, dict[str, object]]:
    out = {}
    for env in envs:
        st = status(env)
        if not skip_install and not st.get("ok"):
            st = install(env)
        out[env] = st
    return out


if __name__ == "__main__":
    names = sys.argv[1:] or list(ENVS)
    for name in names:
        install(name)
