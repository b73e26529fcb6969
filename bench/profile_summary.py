"""Summarise a ``py-spy record -f raw`` profile (collapsed stacks): where the time goes.

    py-spy record -r 250 -f raw -o burst.txt -- python -m bench.horae_core burst -n 100000
    python -m bench.profile_summary burst.txt [--top 25] [--only horae]

Prints, for the busiest threads' samples, the functions with the most *inclusive* samples
(the function or anything it called) and the most *self* samples (the frame on top).
Idle frames (waiting on a lock, an event or a socket) are counted apart.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter

IDLE = re.compile(r"\b(wait|select|poll|epoll|sleep|_wait_for_tstate_lock|acquire|recv|"
                  r"accept|notifies|read)\b \(")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("path")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--only", default="", help="keep frames whose text contains this")
    args = ap.parse_args()
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = idle = 0
    with open(args.path) as f:
        lines = f.readlines()
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        total += n
        if IDLE.search(frames[-1]):
            idle += n
            continue
        for f in set(frames):
            if args.only in f:
                inclusive[clean(f)] += n
        own[clean(frames[-1])] += n
    busy = total - idle
    print(f"{total} samples, {idle} idle ({idle / max(total, 1):.0%}), {busy} busy")
    print("\ninclusive (% of busy samples):")
    for f, n in inclusive.most_common(args.top):
        print(f"  {n / max(busy, 1):6.1%}  {f}")
    print("\nself (% of busy samples):")
    for f, n in own.most_common(args.top):
        print(f"  {n / max(busy, 1):6.1%}  {f}")


def clean(frame: str) -> str:
    """'func (path/to/module.py:123)' -> 'func (module.py)' so lines of one function add up."""
    m = re.match(r"(.*) \((.*?):\d+\)$", frame)
    if not m:
        return frame
    path = m.group(2)
    short = "/".join(path.split("/")[-2:])
    return f"{m.group(1)} ({short})"


if __name__ == "__main__":
    main()
