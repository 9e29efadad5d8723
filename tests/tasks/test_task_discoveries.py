"""Discoveries: add with tags, list by tag, instance and time, search."""

from __future__ import annotations

import pytest

from ctui.core import Coordinator
from ctui.core.errors import NotFound, UsageError
from tests.support import FakeClock
from tests.tasks.support import fingerprint


def test_add_list_filter_and_search(tc: Coordinator, clock: FakeClock) -> None:
    w = tc.instances.register(instance_id="w1", role="worker").id
    first = tc.discoveries.add(
        "The auth tests need Redis running", instance=w, tags=["Testing", "#redis"]
    )
    clock.advance(60)
    second = tc.discoveries.add(
        "utils/dates.py already parses ISO weeks", instance="operator", tags="utils"
    )
    assert first.tags == ["testing", "redis"]
    assert first.to_dict()["created_at"].endswith("Z")
    assert [d.id for d in tc.discoveries.list()] == [second.id, first.id]
    assert [d.id for d in tc.discoveries.list(tag="redis")] == [first.id]
    assert [d.id for d in tc.discoveries.list(instance="operator")] == [second.id]
    assert [d.id for d in tc.discoveries.list(since=clock.now - 1)] == [second.id]
    assert [d.id for d in tc.discoveries.list(after_id=first.id)] == [second.id]
    assert [d.id for d in tc.discoveries.search("redis auth")] == [first.id]
    assert [d.id for d in tc.discoveries.search("UTILS")] == [second.id]
    assert tc.discoveries.search("100%_") == []
    events = [e for e in tc.events.since(0) if e.kind == "discovery.added"]
    assert [e.actor for e in events] == [w, "operator"]


@pytest.mark.parametrize(
    ("text", "kwargs", "error", "message"),
    [
        ("", {}, UsageError, "needs text"),
        ("x", {"tags": ["no spaces allowed"]}, UsageError, "bad tag"),
        ("x", {"instance": "ghost"}, NotFound, "no instance 'ghost'"),
    ],
)
def test_bad_discoveries_change_nothing(
    tc: Coordinator, text: str, kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    before = fingerprint(tc.store.db_path)
    with pytest.raises(error, match=message):
        tc.discoveries.add(text, **{"instance": "operator", **kwargs})  # type: ignore[arg-type]
    assert fingerprint(tc.store.db_path) == before


def test_search_needs_a_word(tc: Coordinator) -> None:
    with pytest.raises(UsageError, match="at least one word"):
        tc.discoveries.search("  !! ")
