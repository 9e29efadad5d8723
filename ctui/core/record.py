"""Record: the base of the core's row classes, built without `dataclasses`.

Every hook call and every `ctui lock acquire` is a new process, and
`dataclasses` brings `inspect`, `copy` and more at import time: measured
with `-X importtime`, several milliseconds on each edit. A record names its
attributes in `FIELDS` (constructor order; also the public list of names the
API client reads), sets them in an explicit `__init__`, and gets here what
`@dataclass` gave it: equality field by field between records of the same
class, unhashable when mutable, and a readable repr.

For the same reason the modules the hook loads do not import `typing` at
run time (about 4 ms with `warnings`): they set `TYPE_CHECKING = False`
themselves, which mypy reads as true, and import `Any` and friends only
inside `if TYPE_CHECKING:`. With `from __future__ import annotations` no
annotation is evaluated, so those names are never needed when running.
"""

from __future__ import annotations

TYPE_CHECKING = False  # mypy reads any TYPE_CHECKING as true
if TYPE_CHECKING:
    from typing import Any, ClassVar


class Record:
    """A mutable record: equality by fields, no hash (like a plain `@dataclass`)."""

    __slots__ = ()
    FIELDS: ClassVar[tuple[str, ...]] = ()

    def field_values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.FIELDS)

    def field_dict(self) -> dict[str, Any]:
        """Field name to value, with lists and dicts copied (what `asdict` gave)."""
        return {name: _copied(getattr(self, name)) for name in self.FIELDS}

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            assert isinstance(other, Record)
            return self.field_values() == other.field_values()
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.FIELDS)
        return f"{self.__class__.__qualname__}({inner})"


class FrozenRecord(Record):
    """An immutable record: assigning a field raises, and it hashes by its fields."""

    __slots__ = ()

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r} of a frozen record")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r} of a frozen record")

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(self.field_values())

    def __reduce__(self) -> tuple[Any, ...]:
        """Copy and pickle through `__init__`: restoring slots would call `__setattr__`."""
        return (self.__class__, self.field_values())


def _copied(value: Any) -> Any:
    if isinstance(value, list):
        return [_copied(item) for item in value]
    if isinstance(value, dict):
        return {key: _copied(item) for key, item in value.items()}
    return value
