"""Lease globs: `*` within one path segment, `**` across segments, `?` and `[...]`.

Two globs overlap when one's fixed prefix (the text before its first wildcard)
starts with the other's: conservative, so a lease is never granted twice.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ctui.core.errors import UsageError

WILDCARDS = "*?["


def is_glob(key: str) -> bool:
    return any(ch in key for ch in WILDCARDS)


def fixed_prefix(key: str) -> str:
    """The text before the first wildcard (the whole key for a plain path)."""
    cut = min((i for i in (key.find(ch) for ch in WILDCARDS) if i >= 0), default=len(key))
    return key[:cut]


@lru_cache(maxsize=512)
def compile_glob(pattern: str) -> re.Pattern[str]:
    """Translate a lease glob to a regular expression; a malformed one is a UsageError."""
    out = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*":
            if pattern.startswith("**", i):
                i += 2
                if pattern.startswith("/", i):
                    out.append("(?:.*/)?")
                    i += 1
                else:
                    out.append(".*")
                continue
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = pattern.find(
                "]", i + 2 if pattern.startswith("[!", i) or pattern.startswith("[]", i) else i + 1
            )
            if end < 0:
                raise UsageError(f"bad glob {pattern!r}: '[' without a closing ']'")
            body = pattern[i + 1 : end]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    try:
        return re.compile("".join(out) + r"\Z")
    except re.error as exc:
        raise UsageError(f"bad glob {pattern!r}: {exc}") from exc


def overlaps(a: str, b: str) -> bool:
    """Whether two lease keys could name a common file (conservative for two globs)."""
    a_glob, b_glob = is_glob(a), is_glob(b)
    if not a_glob and not b_glob:
        return a == b
    if a_glob and b_glob:
        pa, pb = fixed_prefix(a), fixed_prefix(b)
        return pa.startswith(pb) or pb.startswith(pa)
    pattern, path = (a, b) if a_glob else (b, a)
    return compile_glob(pattern).match(path) is not None
