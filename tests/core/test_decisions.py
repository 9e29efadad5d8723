"""The decision log: ids, validation, supersedes, filters, full-text search, SkillForge import."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ctui.core import Coordinator
from ctui.core.errors import NotFound, StaleInstance, UsageError
from tests.support import FakeClock, dump

pytestmark = pytest.mark.usefixtures("backend")  # SQLite and PostgreSQL

FIXTURE = Path(__file__).parent.parent / "fixtures" / "decision-log.json"


def test_ids_count_per_utc_day(clocked: Coordinator, clock: FakeClock) -> None:
    clock.now = datetime(2026, 3, 1, 23, 59, tzinfo=UTC).timestamp()
    first = clocked.decisions.add(category="api", title="One", author="operator")
    second = clocked.decisions.add(category="api", title="Two", author="operator")
    clock.advance(120)
    third = clocked.decisions.add(category="api", title="Three", author="operator")
    assert [first.id, second.id, third.id] == [
        "DEC-20260301-0001",
        "DEC-20260301-0002",
        "DEC-20260302-0001",
    ]


def test_add_validates_and_changes_nothing_when_refused(coord: Coordinator) -> None:
    before = dump(coord.store)
    bad = [
        ({"category": "Not OK!", "title": "t"}, UsageError),
        ({"category": "api", "title": "  "}, UsageError),
        ({"category": "api", "title": "t", "scope": "galaxy"}, UsageError),
        ({"category": "api", "title": "t", "status": "maybe"}, UsageError),
        ({"category": "api", "title": "t", "supersedes": "DEC-20200101-0001"}, NotFound),
        ({"category": "api", "title": "t", "author": "ghost"}, NotFound),
    ]
    for kw, error in bad:
        with pytest.raises(error):
            coord.decisions.add(**{"author": "operator", **kw})
    assert dump(coord.store) == before
    me = coord.instances.register(role="a")
    coord.instances.unregister(me.id)
    with pytest.raises(StaleInstance):
        coord.decisions.add(category="api", title="t", author=me.id)


def test_supersedes_and_status(coord: Coordinator) -> None:
    old = coord.decisions.add(
        category="API-Design", title="REST", author="operator", scope="service"
    )
    assert old.category == "api-design" and old.status == "accepted"
    new = coord.decisions.add(
        category="api-design", title="GraphQL", author="operator", supersedes=old.id
    )
    assert new.supersedes == old.id
    assert coord.decisions.get(old.id).status == "superseded"
    assert coord.decisions.set_status(new.id, "rejected").status == "rejected"
    kinds = [e.kind for e in coord.events.since(0)]
    assert kinds == ["decision.logged", "decision.logged", "decision.status"]


def test_list_filters_newest_first(clocked: Coordinator, clock: FakeClock) -> None:
    me = clocked.instances.register(role="db", ttl=10**6).id
    for n in range(5):
        clocked.decisions.add(
            category="db" if n % 2 else "api", title=f"d{n}", author=me if n > 2 else "operator"
        )
        clock.advance(3600)
    assert [d.title for d in clocked.decisions.list()] == ["d4", "d3", "d2", "d1", "d0"]
    assert [d.title for d in clocked.decisions.list(category="DB")] == ["d3", "d1"]
    assert [d.title for d in clocked.decisions.list(author=me)] == ["d4", "d3"]
    assert [d.title for d in clocked.decisions.list(since=clock.now - 2.5 * 3600)] == ["d4", "d3"]
    assert len(clocked.decisions.list(limit=2)) == 2
    with pytest.raises(UsageError):
        clocked.decisions.list(limit=0)


def test_full_text_search(coord: Coordinator) -> None:
    coord.decisions.add(
        category="auth", title="Use JWT tokens", description="15 minute expiry", author="operator"
    )
    coord.decisions.add(
        category="db", title="Postgres", description="JSONB for settings", author="operator"
    )
    assert [d.title for d in coord.decisions.search("jwt")] == ["Use JWT tokens"]
    assert [d.title for d in coord.decisions.search("minut expir")] == [
        "Use JWT tokens"
    ]  # prefixes
    assert [d.title for d in coord.decisions.search("db")] == ["Postgres"]  # category
    assert coord.decisions.search('"jsonb" (settings* NEAR') == []  # every word must appear
    assert coord.decisions.search('"jsonb" (settings*') != []  # FTS syntax is taken as plain words
    assert coord.decisions.search("nothing-like-this") == []
    with pytest.raises(UsageError):
        coord.decisions.search("  ?! ")


def test_import_a_skillforge_log(coord: Coordinator) -> None:
    result = coord.decisions.import_file(FIXTURE)
    assert result == {
        "imported": [
            "DEC-20260108-0001",
            "DEC-20260108-0002",
            "DEC-20260108-0003",
            "DEC-20260109-0001",
            "DEC-20260109-0002",
        ],
        "skipped": [],
    }
    jwt = coord.decisions.get("DEC-20260108-0001")
    assert jwt.author == "claude-20260108-124532-a3f7b2d1"
    assert jwt.scope == "service" and jwt.category == "api-design"
    assert jwt.status == "superseded"
    assert (
        "Rationale: Short-lived" in jwt.description
        and "backend/app/api/routes/auth.py" in jwt.description
    )
    assert "role:backend-system-architect" in jwt.tags and "auth" in jwt.tags
    assert jwt.created_at == datetime(2026, 1, 8, 12, 45, 32, tzinfo=UTC).timestamp()
    assert coord.decisions.get("DEC-20260109-0002").supersedes == "DEC-20260108-0001"
    assert coord.decisions.get("DEC-20260109-0001").status == "rejected"
    assert coord.decisions.search("refresh")[0].id == "DEC-20260109-0002"
    assert coord.decisions.import_file(FIXTURE)["skipped"] == result["imported"]
    assert coord.decisions.count() == 5
    fresh = coord.decisions.add(category="api-design", title="new today", author="operator")
    assert fresh.id.startswith("DEC-") and fresh.id not in result["imported"]


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("not json", "not a JSON decision log"),
        ('{"decisions": 3}', "expected a list"),
        ('{"decisions": [{"category": "x"}]}', "no title"),
        ('{"decisions": [{"title": "t", "scope": "galaxy"}]}', "bad scope"),
        ('{"decisions": [{"title": "t", "made_at": "yesterday"}]}', "bad time"),
        ('{"decisions": [{"title": "ok"}, 7]}', "not an object"),
    ],
)
def test_a_bad_import_is_refused_whole(
    coord: Coordinator, tmp_path: Path, content: str, match: str
) -> None:
    path = tmp_path / "log.json"
    path.write_text(content)
    before = dump(coord.store)
    with pytest.raises(UsageError, match=match):
        coord.decisions.import_file(path)
    assert dump(coord.store) == before


def test_import_maps_skillforge_synonyms(coord: Coordinator, tmp_path: Path) -> None:
    path = tmp_path / "log.json"
    items = [
        {"title": "t", "scope": "Global", "status": "active", "made_at": "2026-01-08T12:00:00"}
    ]
    path.write_text(json.dumps({"decisions": items}))
    (one,) = coord.decisions.import_file(path)["imported"]
    d = coord.decisions.get(one)
    assert (d.scope, d.status, d.category, d.author) == (
        "system",
        "accepted",
        "general",
        "operator",
    )
    assert d.created_at == datetime(2026, 1, 8, 12, tzinfo=UTC).timestamp()


def test_importing_twice_skips_decisions_whose_ids_are_not_dec_ids(
    coord: Coordinator, tmp_path: Path
) -> None:
    path = tmp_path / "log.json"
    item = {"decision_id": "dec-001", "title": "t", "made_by": "a", "made_at": "2026-01-08"}
    path.write_text(json.dumps({"decisions": [item]}))
    assert len(coord.decisions.import_file(path)["imported"]) == 1
    again = coord.decisions.import_file(path)
    assert again == {"imported": [], "skipped": ["dec-001"]}
    assert coord.decisions.count() == 1
