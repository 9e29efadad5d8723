"""Literal file names with glob characters: escaped keys, one file each, SHA-1 kept."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctui.core import Coordinator
from ctui.core.errors import LeaseHeld
from ctui.core.leases.globs import canonical, escape, fixed_prefix, is_glob, overlaps, unescape

NAMES = st.text(alphabet="ab/[]*?!.-", min_size=1, max_size=12)


@given(NAMES)
def test_escaped_names_are_plain_keys_that_round_trip(name: str) -> None:
    key = escape(name)
    assert not is_glob(key)
    assert unescape(key) == name
    assert canonical(key) == key
    assert fixed_prefix(key) == key
    assert overlaps(key, key)


@given(NAMES, NAMES)
def test_two_literal_names_overlap_only_when_equal(a: str, b: str) -> None:
    assert overlaps(escape(a), escape(b)) == (a == b)


@given(NAMES, NAMES)
def test_prefixes_agree_with_the_names(a: str, b: str) -> None:
    """Escaping keeps prefixes: the SQL range scan under a glob's prefix stays right."""
    assert escape(a + b).startswith(escape(a))


def test_one_character_classes_are_the_character() -> None:
    assert canonical("src/[a]pp.py") == "src/app.py"
    assert canonical("a[]]b") == "a]b" and not is_glob("a[]]b")
    assert is_glob("app/[slug]/x") and is_glob("a[!b]") and is_glob("a[bc]")


def test_literal_key_through_the_core(coord: Coordinator, repo: Path) -> None:
    page = repo / "app" / "[slug]" / "page.tsx"
    page.parent.mkdir(parents=True)
    page.write_text("export default 1\n")
    a = coord.instances.register(role="a").id
    b = coord.instances.register(role="b").id
    lease = coord.leases.acquire(escape(str(page)), instance=a)
    assert lease.path == "app/[[]slug]/page.tsx" and not lease.is_glob
    assert lease.sha1 == hashlib.sha1(page.read_bytes()).hexdigest()
    assert coord.leases.verify("app/[[]slug]/page.tsx", instance=a).path == lease.path
    coord.leases.acquire("app/s/page.tsx", instance=b)  # the glob reading would collide
    with pytest.raises(LeaseHeld):
        coord.leases.acquire("app/*/page.tsx", instance=b)  # a glob still covers it
    assert coord.leases.check("app/[[]slug]/page.tsx").holder == a  # type: ignore[union-attr]
