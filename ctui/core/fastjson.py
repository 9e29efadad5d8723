"""`json.loads` and `json.dumps` for the hook's path, without importing `json`.

`json` compiles regular expressions as it loads, so it brings `re` and `enum`:
measured in CPU time, about a sixth of a hook call. Both functions here drive
the C accelerator `json` itself uses (`_json`) the way `json` does, so on
success they return exactly what `json.loads` / `json.dumps` would; on any
failure, or input `json` would treat specially (a byte-order mark, UTF-16 or
UTF-32 bytes), they hand the call to `json` itself, which answers or raises
exactly as always. Without `_json` (not CPython), they are `json`'s.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

try:
    import _json
except ImportError:  # pragma: no cover - every CPython has it
    _json = None  # type: ignore[assignment]

WHITESPACE = " \t\n\r"
_scanner: Callable[[str, int], tuple[Any, int]] | None = None


class _Context:
    """What `_json.make_scanner` reads from a `json.JSONDecoder()`: its defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo: dict[str, str] = {}

    @staticmethod
    def parse_constant(name: str) -> float:
        return {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}[name]


def loads(data: str | bytes) -> Any:
    """`json.loads(data)`."""
    global _scanner
    if _json is not None:
        text: str | None = None
        if isinstance(data, bytes):
            plain = data[:1] not in (b"\xef", b"\xfe", b"\xff", b"\x00") and data[1:2] != b"\x00"
            if plain:
                try:
                    text = data.decode("utf-8", "surrogatepass")
                except UnicodeDecodeError:
                    text = None
        elif isinstance(data, str) and not data.startswith("\ufeff"):
            text = data
        if text is not None:
            if _scanner is None:
                _scanner = _json.make_scanner(_Context())  # type: ignore[arg-type]
            start = len(text) - len(text.lstrip(WHITESPACE))
            try:
                value, end = _scanner(text, start)
            except Exception:  # a SystemError even: `_json` raises json's error only once
                pass  # `json.decoder` is loaded, and `json` below does that
            else:
                if len(text[end:].lstrip(WHITESPACE)) == 0:
                    return value
    import json  # the same call through json: the same answer, or the same error

    return json.loads(data)


def _no_default(value: Any) -> Any:
    raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")


def dumps(
    value: Any,
    *,
    ensure_ascii: bool = True,
    separators: tuple[str, str] | None = None,
    default: Callable[[Any], Any] | None = None,
) -> str:
    """`json.dumps(value, ensure_ascii=..., separators=..., default=...)`."""
    if _json is not None:
        item, key = separators or (", ", ": ")
        encode_text = _json.encode_basestring_ascii if ensure_ascii else _json.encode_basestring
        try:
            if isinstance(value, str):
                return str(encode_text(value))
            encoder = _json.make_encoder(
                {}, default or _no_default, encode_text, None, key, item, False, False, True
            )
            return "".join(encoder(value, 0))
        except Exception:  # `json` below raises it again, as it always would
            pass
    import json

    return json.dumps(value, ensure_ascii=ensure_ascii, separators=separators, default=default)
