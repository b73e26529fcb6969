"""A started ``horae`` process tunes its garbage collector (cli/serve.py ``tune_gc``)."""

from __future__ import annotations

import subprocess
import sys

from horae.cli.serve import GC_YOUNG_THRESHOLD


def test_tune_gc_freezes_what_start_up_holds_and_raises_the_young_threshold() -> None:
    # In a child: the tuning is process-wide and must not leak into the test process.
    code = ("import gc; from horae.cli.serve import tune_gc; before = gc.get_threshold();"
            " tune_gc(); after = gc.get_threshold();"
            " print(gc.get_freeze_count() > 0, after[0], after[1:] == before[1:])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout.split()
    assert out == ["True", str(GC_YOUNG_THRESHOLD), "True"]
