"""The CLI says on stderr when a change's runs go to a queue no live worker serves (exit 0)."""

from __future__ import annotations

import os
from pathlib import Path

from click.testing import CliRunner

from horae.cli import cli
from horae.demo import make_app
from horae.models import WorkerInfo

WARNING = "warning: queue: no live worker serves queue 'nowhere'"


def test_add_edit_trigger_and_retry_warn_about_an_unserved_queue(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/h.db"
    app = make_app(url)  # the demo tasks, advertised by a live worker on `default` only
    app.store.worker_register(WorkerInfo("w", "test", os.getpid(), ["default"], 1),
                              [t.info() for t in app.registry])

    def horae(*args: str) -> tuple[str, str]:
        result = CliRunner().invoke(cli, ["--db", url, *args])
        assert result.exit_code == 0, (result.output, result.exception)
        return result.stdout, result.stderr

    _, err = horae("schedules", "add", "served", "--task", "demo.hello", "--every", "1h")
    assert "warning" not in err
    _, err = horae("schedules", "add", "lonely", "--task", "demo.hello", "--every", "1h",
                   "--queue", "nowhere")
    assert WARNING in err
    _, err = horae("schedules", "edit", "served", "--queue", "nowhere")
    assert WARNING in err
    run_id, err = horae("schedules", "trigger", "lonely")
    assert run_id.strip().isdigit() and WARNING in err
    app.runs.cancel(int(run_id))
    retried, err = horae("runs", "retry", run_id.strip())
    assert retried.strip().isdigit() and WARNING in err
    app.stop()
