"""Peer scripts: each runs in its peer's own venv and prints one BENCH_RESULT line."""
