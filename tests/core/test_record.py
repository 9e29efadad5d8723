"""The core's records keep what `@dataclass` gave them: equality, hashing rules, repr, copies."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path

import pytest

from ctui.core.config import Config
from ctui.core.decisions import Decision
from ctui.core.events import Event
from ctui.core.leases import Lease
from ctui.core.paths import GitLayout
from ctui.core.tasks import Task


def _lease(token: int = 1) -> Lease:
    return Lease("src/a.py", False, "me", token, None, 1.0, 1.0, 301.0, 300.0, None)


def test_equality_is_field_by_field_within_one_class() -> None:
    assert _lease() == _lease()
    assert _lease() != _lease(2)
    assert _lease() != ("src/a.py", False, "me", 1, None, 1.0, 1.0, 301.0, 300.0, None)
    assert Lease(*_lease().field_values()) == _lease()


def test_mutable_records_are_unhashable_frozen_ones_hash_and_refuse_changes() -> None:
    with pytest.raises(TypeError):
        hash(_lease())
    event = Event(1, 2.0, "lease.acquired", "me", "src/a.py", {"k": 1})
    with pytest.raises(AttributeError):
        event.kind = "other"  # type: ignore[misc]
    layout = GitLayout(Path("/r"), Path("/r/.git"))
    assert {layout, GitLayout(Path("/r"), Path("/r/.git"))} == {layout}
    assert layout.main_root == Path("/r")


def test_repr_names_every_field_in_order() -> None:
    text = repr(GitLayout(Path("/r"), Path("/r/.git")))
    assert text == f"GitLayout(worktree={Path('/r')!r}, common_dir={Path('/r/.git')!r})"


def test_records_have_no_instance_dict_and_fields_are_the_constructor_order() -> None:
    lease = _lease()
    assert not hasattr(lease, "__dict__")
    assert Lease.FIELDS[:3] == ("path", "is_glob", "holder")
    with pytest.raises(AttributeError):
        lease.colour = "red"  # type: ignore[attr-defined]


def test_defaults_are_fresh_per_record() -> None:
    one, two = Config(), Config()
    one.gate_commands.append("pytest")
    one.raw["x"] = 1
    assert two.gate_commands == [] and two.raw == {}
    assert Config() == Config() and Config(lease_ttl=5.0) != Config()
    assert Config.lease_ttl == 300.0
    first = Decision("DEC-1", "c", "t", "d", "system", "accepted", "me", 1.0, None)
    assert first.tags == [] and first.tags is not Decision(*first.field_values()[:9]).tags


def test_field_dict_copies_lists_and_dicts() -> None:
    task = Task(
        "T-1", "d", 5, "available", ["T-0"], ["a.py"], [], None, None, None, 0, 3,
        None, None, None, 1.0, 1.0, None, None, {"plan": "p"},
    )  # fmt: skip
    data = task.field_dict()
    data["depends_on"].append("T-9")
    data["source"]["plan"] = "q"
    assert task.depends_on == ["T-0"] and task.source == {"plan": "p"}
    assert task.to_dict()["context"] == {"files": ["a.py"], "hints": []}


def test_records_copy_and_pickle() -> None:
    event = Event(1, 2.0, "lease.acquired", "me", "src/a.py", {"k": [1]})
    for record in (event, _lease(), GitLayout(Path("/r"), Path("/r/.git")), Config(lease_ttl=9.0)):
        assert copy.copy(record) == record
        assert copy.deepcopy(record) == record
        assert pickle.loads(pickle.dumps(record)) == record
    assert copy.deepcopy(event).data["k"] is not event.data["k"]
