"""Fenced code blocks of README.md and docs/*.md, with the directive written before each.

A block's language says what the test does with it:

- ``python``: a program, run in a fresh directory against a fresh database. A block
  preceded by ``<!-- example: continues -->`` continues the page's previous Python block
  (one program); a block whose first line is a comment naming a file (``# myproject/jobs.py``)
  is that file: it is written into the directory for later blocks to import, and run.
- ``bash``/``sh``: commands, one per line (``\\`` continues a line).
- ``console``: ``$ command`` lines, each followed by the output it shows.
- ``text``/``json``: shown, not run (``json`` must parse).

``<!-- example: skip (reason) -->`` before a block skips it, saying why; ``<!-- quickstart:… -->``
blocks are run by tests/system/test_quickstart.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGES = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]
RUN = {"python", "bash", "sh", "console"}
SHOWN = {"text", "json"}

_FENCE = re.compile(r"^```(\S*)[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)
_DIRECTIVE = re.compile(r"<!--\s*(example|quickstart):\s*([^>]*?)\s*-->\s*$")
_FILE = re.compile(r"#\s*([\w./-]+\.py)\s*$")


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    lang: str
    text: str
    directive: str = ""  # "continues", "skip (reason)", "quickstart:run"

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def skip_reason(self) -> str | None:
        if self.directive.startswith("quickstart:"):
            return "run by tests/system/test_quickstart.py"
        match = re.fullmatch(r"skip\s*\((.*)\)", self.directive)
        if self.directive.startswith("skip") and not match:
            raise AssertionError(f"{self.where}: a skip must say why: skip (reason)")
        return match.group(1).strip() if match else None

    @property
    def file_name(self) -> str | None:
        """The file a Python block is, when its first line names one."""
        first = self.text.split("\n", 1)[0]
        match = _FILE.fullmatch(first) if self.lang == "python" else None
        return match.group(1) if match else None


def page_blocks(page: str) -> list[Block]:
    text = (ROOT / page).read_text()
    blocks = []
    for match in _FENCE.finditer(text):
        before = text[:match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        directive = _DIRECTIVE.search(before)
        name = ""
        if directive:
            name = (directive.group(2) if directive.group(1) == "example"
                    else f"quickstart:{directive.group(2)}")
        blocks.append(Block(page, text.count("\n", 0, match.start()) + 1, match.group(1),
                            match.group(2), name))
    return blocks


def all_blocks() -> list[Block]:
    return [block for page in PAGES for block in page_blocks(page)]


def python_programs(blocks: list[Block]) -> list[tuple[list[Block], str]]:
    """The page's Python programs: each a list of blocks (continuations joined)."""
    programs: list[list[Block]] = []
    for block in blocks:
        if block.lang != "python" or block.skip_reason is not None:
            continue
        if block.directive == "continues":
            assert programs, f"{block.where}: continues, but no Python block comes before it"
            programs[-1].append(block)
        else:
            programs.append([block])
    return [(group, "\n".join(b.text for b in group)) for group in programs]
