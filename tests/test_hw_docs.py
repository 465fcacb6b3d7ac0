"""hw/'s Markdown: every table row has as many cells as its header. GitHub's renderer drops
the cells beyond the header's and leaves missing ones empty, so text put in an extra cell
(issue 26: "Leave the adapter's 3.3 V and 5 V pins unconnected") never shows."""

import re
from pathlib import Path

import pytest

HW = Path(__file__).resolve().parents[1] / "hw"
DELIMITER = re.compile(r"^\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")


def cells(line: str) -> list[str]:
    """A table row's cells: split on pipes that are neither escaped nor inside a code span,
    without the row's leading and trailing pipe."""
    out, cell, code = [], "", False
    i = 0
    while i < len(line):
        ch = line[i]
        if ch == "\\" and i + 1 < len(line):
            cell += line[i : i + 2]
            i += 2
            continue
        if ch == "`":
            code = not code
        if ch == "|" and not code:
            out.append(cell)
            cell = ""
        else:
            cell += ch
        i += 1
    out.append(cell)
    stripped = line.strip()
    if stripped.startswith("|"):
        out = out[1:]
    if stripped.endswith("|") and not stripped.endswith("\\|"):
        out = out[:-1]
    return [c.strip() for c in out]


def tables(text: str) -> list[tuple[int, list[str]]]:
    """(line number of the header, the table's lines) for each table: a header row, a
    delimiter row, then the rows up to the first line that is not a row."""
    lines = text.splitlines()
    found = []
    i = 0
    while i + 1 < len(lines):
        if "|" in lines[i] and DELIMITER.match(lines[i + 1]):
            j = i + 2
            while j < len(lines) and lines[j].strip() and "|" in lines[j]:
                j += 1
            found.append((i + 1, lines[i:j]))
            i = j
        else:
            i += 1
    return found


def ragged_rows(text: str) -> list[str]:
    problems = []
    for start, rows in tables(text):
        width = len(cells(rows[0]))
        for n, row in enumerate(rows):
            if n != 1 and len(cells(row)) != width:
                problems.append(f"line {start + n}: {len(cells(row))} cells, header {width}")
    return problems


def test_the_parser_sees_cells_and_tables():
    assert cells("| a | `b | c` | d \\| e |") == ["a", "`b | c`", "d \\| e"]
    text = "x\n\n| h1 | h2 |\n| --- | --- |\n| 1 | 2 |\n| 1 | 2 | 3 |\n\nafter | not a row\n"
    assert ragged_rows(text) == ["line 6: 3 cells, header 2"]


@pytest.mark.parametrize("doc", sorted(HW.glob("**/*.md")), ids=lambda p: p.name)
def test_every_table_row_has_the_headers_cells(doc):
    text = doc.read_text(encoding="utf-8")
    assert tables(text), f"{doc.name}: no table found (the parser missed them?)"
    assert ragged_rows(text) == []
