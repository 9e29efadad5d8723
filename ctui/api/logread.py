"""A thread's log read for the API: its last lines, or the lines written after a byte offset.

`GET /api/threads/{name}/logs` answers with a `next_offset`; asking again with
`offset=next_offset` returns only what was written since, so a remote
`ctui thread logs --follow` polls the server instead of opening a path that
exists only on the server's machine. Offsets always fall just after a newline:
a line still being written is held back until it ends, or until the thread has
finished (then the log is complete and its last bytes are a line of their own).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ctui.core import private
from ctui.core.threads import tail_bytes

CHUNK = 256 * 1024
BLOCK = 64 * 1024


def tail(path: Path, count: int) -> dict[str, Any]:
    """The last `count` lines (all when 0), and the offset of the end of the last whole line."""
    data, size = tail_bytes(path, count, BLOCK)
    lines = _lines(data)
    partial = bool(data) and not data.endswith(b"\n")
    held = len(data) - (data.rfind(b"\n") + 1) if partial else 0
    return {
        "lines": lines[-count:] if count > 0 else lines,
        "next_offset": size - held,
        "size": size,
        "partial": partial,
        "more": False,
    }


def after(path: Path, offset: int, *, finished: bool) -> dict[str, Any]:
    """The whole lines written after `offset` (at most `CHUNK` bytes of them, `more` if so).

    `finished` (the thread is no longer running, checked before reading) lets
    the unterminated end of the log out as a last line. An offset past the end
    (the log was replaced) starts again from the beginning, with `reset`.
    """
    try:
        with private.open_read(path) as fh:
            size = fh.seek(0, 2)
            reset = offset > size
            start = 0 if reset else offset
            fh.seek(start)
            data = fh.read(CHUNK)
    except FileNotFoundError:
        return {
            "lines": [],
            "offset": 0,
            "next_offset": 0,
            "size": 0,
            "reset": offset > 0,
            "more": False,
        }
    at_end = start + len(data) >= size  # else `more`: ask again at once
    if not data.endswith(b"\n") and not (finished and at_end):
        cut = data.rfind(b"\n") + 1  # hold back the line still being written...
        if cut or len(data) < CHUNK:  # ...unless it alone fills a chunk
            data = data[:cut]
    return {
        "lines": _lines(data),
        "offset": start,
        "next_offset": start + len(data),
        "size": size,
        "reset": reset,
        "more": not at_end,
    }


def _lines(data: bytes) -> list[str]:
    if not data:
        return []
    text = data.decode("utf-8", "replace")
    return [line.rstrip("\r") for line in text.removesuffix("\n").split("\n")]
