"""No import circle in `ctui.core`, counting lazy and `TYPE_CHECKING` imports too.

The layers themselves are import-linter contracts in pyproject.toml (`lint-imports`
in `.ci/run`); this test guards what a layers contract does not see: a circle
between two modules of one package (`leases.grant` ↔ `leases.queue`, say).
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import grimp
import pytest


def circles(package: str, inside: str | None = None) -> list[list[str]]:
    """The strongly connected parts (two or more modules) of the import graph of `inside`."""
    graph = grimp.build_graph(package, exclude_type_checking_imports=False)
    prefix = inside or package
    modules = sorted(m for m in graph.modules if m == prefix or m.startswith(prefix + "."))
    edges = {
        m: sorted(n for n in graph.find_modules_directly_imported_by(m) if n in modules)
        for m in modules
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                found.append(sorted(part))

    for m in modules:
        if m not in index:
            visit(m)
    return found


def test_core_has_no_import_circle() -> None:
    assert circles("ctui", inside="ctui.core") == []


def test_domain_code_never_imports_the_coordinator() -> None:
    graph = grimp.build_graph("ctui", exclude_type_checking_imports=False)
    domain = ("instances", "leases", "tasks", "decisions", "threads", "store")
    importers = graph.find_modules_that_directly_import("ctui.core.coordinator") | (
        graph.find_modules_that_directly_import("ctui.core")
    )
    inside = sorted(m for m in importers if m.split(".")[2:3] and m.split(".")[2] in domain)
    assert inside == []


@pytest.fixture
def circular_package(tmp_path: Path) -> Iterator[None]:
    pkg = tmp_path / "circlepkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from circlepkg import b\n")
    (pkg / "b.py").write_text(
        textwrap.dedent(
            """
            TYPE_CHECKING = False
            if TYPE_CHECKING:
                from circlepkg import a
            """
        )
    )
    (pkg / "c.py").write_text("from circlepkg import a\n")
    sys.path.insert(0, str(tmp_path))
    yield
    sys.path.remove(str(tmp_path))
    for name in [m for m in sys.modules if m.startswith("circlepkg")]:
        del sys.modules[name]


def test_the_check_sees_a_circle_held_by_a_type_checking_import(circular_package: None) -> None:
    assert circles("circlepkg") == [["circlepkg.a", "circlepkg.b"]]
