"""Benchmarks: Horae and its peers side by side (see bench/README.md)."""
