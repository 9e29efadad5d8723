"""`ctui.core.fastjson` answers exactly as `json` does: the same text, the same values, the
same errors (it hands anything unusual to `json` itself)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctui.core import fastjson

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False)
    | st.text()
)
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30,
)


def _same(a: Any, b: Any) -> bool:
    """Equal, with NaN equal to NaN."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@settings(max_examples=300, deadline=None)
@given(documents)
def test_dumps_and_loads_match_json(doc: Any) -> None:
    for options in ({}, {"ensure_ascii": False}, {"separators": (",", ":"), "default": str}):
        text = fastjson.dumps(doc, **options)  # type: ignore[arg-type]
        assert text == json.dumps(doc, **options)  # type: ignore[arg-type]
        assert _same(fastjson.loads(text), json.loads(text))
        assert _same(fastjson.loads(f" \n{text}\t\r ".encode()), json.loads(text))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"   ",
        b"not json",
        b'{"a": 1} trailing',
        b'{"a": 1,}',
        b"[1, 2",
        b'"\\ud800"',
        b"\xef\xbb\xbf{}",
        b"\xff\xfe{\x00}\x00",
        '{"a": "é"}'.encode("utf-16"),
        '{"a": 1}'.encode("utf-32-le"),
        b'{"a": "\xff"}',
        b"NaN",
        b"[Infinity, -Infinity]",
        b"[" * 100_000 + b"]" * 100_000,
        "\ufeff{}",
        '{"big": 1e999, "int": 123456789012345678901234567890}',
        b'{"dup": 1, "dup": 2}',
        b'"\\u00e9\\t\\n"',
        b'{"cut": {"short": 1}',  # a `}` at the end of a document not yet whole
        b'{"a": [1, 2}',
    ],
)
def test_loads_answers_and_errors_like_json(data: str | bytes) -> None:
    def outcome(load: Any) -> tuple[str, Any]:
        try:
            return "ok", load(data)
        except (ValueError, RecursionError, TypeError) as exc:
            return type(exc).__name__, str(exc)

    mine, theirs = outcome(fastjson.loads), outcome(json.loads)
    assert mine[0] == theirs[0] and _same(mine[1], theirs[1]), (mine, theirs)


@pytest.mark.parametrize(
    ("value", "options"),
    [
        (object(), {}),
        ({"x": {1, 2}}, {}),
        ({"x": {1, 2}}, {"default": str}),
        ({(1, 2): "tuple key"}, {}),
        ({1: "int key", 2.5: "float key", None: "none", False: "bool"}, {}),
        ([float("nan"), float("inf")], {}),
        ("\ud800", {"ensure_ascii": False}),
        ("\ud800", {}),
    ],
)
def test_dumps_answers_and_errors_like_json(value: Any, options: dict[str, Any]) -> None:
    def outcome(dump: Any) -> tuple[str, str]:
        try:
            return "ok", dump(value, **options)
        except (TypeError, ValueError) as exc:
            return type(exc).__name__, str(exc)

    assert outcome(fastjson.dumps) == outcome(json.dumps)


def test_a_circular_value_fails_like_json() -> None:
    loop: list[Any] = []
    loop.append(loop)
    for dump in (fastjson.dumps, json.dumps):
        with pytest.raises(ValueError, match="Circular reference"):
            dump(loop)


def test_it_never_loads_json() -> None:
    """Not to answer, and an error is still json's own (`_json` alone cannot raise it).

    (`re` and `enum`, which `json` would bring, are the hook test's: test_hook_process.)"""
    code = (
        "import sys;from ctui.core import fastjson;"
        'v=fastjson.loads(b\'{"a": [1, 2.5, "\\\\u00e9"]}\');t=fastjson.dumps(v);'
        "print(t, 'json' in sys.modules);"
        "exec('try: fastjson.loads(b\\'{\"a\": 1\\')\\nexcept ValueError as e: print(repr(e))')"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", f"import sys;sys.path.append({_root()!r});{code}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.stdout.splitlines() == [
        '{"a": [1, 2.5, "\\u00e9"]} False',
        "JSONDecodeError(\"Expecting ',' delimiter: line 1 column 8 (char 7)\")",
    ], out


def _root() -> str:
    from pathlib import Path

    import ctui

    return str(Path(ctui.__file__).resolve().parent.parent)
