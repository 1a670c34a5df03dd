"""The generated block of a README: the text between a begin and an end marker, replaced on every run."""
from __future__ import annotations

from pathlib import Path


def replace_block(readme: Path, begin: str, end: str, text: str) -> None:
    """Put ``text`` between ``begin`` and ``end`` in ``readme`` (the marker pair is appended when absent)."""
    body = readme.read_text() if readme.exists() else ""
    block = f"{begin}\n{text}\n{end}"
    if begin in body:
        body = body[: body.index(begin)] + block + body[body.index(end) + len(end):]
    else:
        body = body + "\n" + block + "\n"
    readme.write_text(body)
