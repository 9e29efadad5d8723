"""Lease globs: `*` within one path segment, `**` across segments, `?` and `[...]`.

Two globs overlap when one's fixed prefix (the text before its first wildcard)
starts with the other's: conservative, so a lease is never granted twice.

A class of one character is that character, so a literal file name keeps its
`[`, `*` and `?` by writing each as `[[]`, `[*]`, `[?]` (`escape`): the key of
the file `app/[slug]/page.tsx` is `app/[[]slug]/page.tsx`, a plain path, not a
glob. Keys are kept `canonical` (a one-character class of any other character
is written as the character), so one file always has one key. The escaping
maps each character to a token and no token is a prefix of another, so fixed
prefixes and SQL range scans work on keys as they are stored.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ctui.core.errors import UsageError

WILDCARDS = "*?["
ESCAPES = {ch: f"[{ch}]" for ch in WILDCARDS}


def escape(path: str) -> str:
    """The key text of a literal path: `[`, `*` and `?` each as a one-character class."""
    if not any(ch in path for ch in WILDCARDS):
        return path
    return "".join(ESCAPES.get(ch, ch) for ch in path)


def _tokens(key: str) -> list[tuple[str, str | None]]:
    """(text, the literal character it stands for, or None for a wildcard) for each token."""
    out: list[tuple[str, str | None]] = []
    i, n = 0, len(key)
    while i < n:
        ch = key[i]
        if ch in "*?":
            out.append((ch, None))
        elif ch == "[":
            start = i + 2 if key.startswith("[!", i) or key.startswith("[]", i) else i + 1
            end = key.find("]", start)
            if end < 0:
                out.append((key[i:], None))  # malformed: `compile_glob` says so
                break
            body = key[i + 1 : end]
            one = len(body) == 1 and body != "!"
            out.append((key[i : end + 1], body if one else None))
            i = end
        else:
            out.append((ch, ch))
        i += 1
    return out


def is_glob(key: str) -> bool:
    if not any(ch in key for ch in WILDCARDS):
        return False
    return any(char is None for _, char in _tokens(key))


def canonical(key: str) -> str:
    """The key with every one-character class of an ordinary character written plainly."""
    if "[" not in key:
        return key
    return "".join(
        ESCAPES.get(char, char) if char is not None else text for text, char in _tokens(key)
    )


def unescape(key: str) -> str:
    """The file name a plain key stands for (`app/[[]slug]/x` -> `app/[slug]/x`)."""
    if "[" not in key:
        return key
    return "".join(char if char is not None else text for text, char in _tokens(key))


def fixed_prefix(key: str) -> str:
    """The text before the first wildcard (the whole key for a plain path)."""
    if not any(ch in key for ch in WILDCARDS):
        return key
    out = []
    for text, char in _tokens(key):
        if char is None:
            break
        out.append(text)
    return "".join(out)


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
            out.append("[" + body.replace("\\", "\\\\").replace("[", "\\[") + "]")
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
    return compile_glob(pattern).match(unescape(path)) is not None
