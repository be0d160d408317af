"""Writes one benchmark's section into BENCHMARKS.md between markers, leaving the rest alone."""

from __future__ import annotations

import datetime as dt
import platform
from pathlib import Path


def write_section(path: Path, name: str, body: str) -> None:
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    stamp = (
        f"_Measured {dt.date.today().isoformat()} on {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.machine()}._"
    )
    block = f"{begin}\n{stamp}\n\n{body}\n{end}"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + f"\n\n## {name}\n\n{block}\n"
    path.write_text(text)
