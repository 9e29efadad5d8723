"""`--kind` patterns: `*` is the one wildcard, everything else (`_`, `%`, `?`, `[`) is literal,
and case counts; `--limit` stops at the API's 10,000 on both sides."""

from __future__ import annotations

from pathlib import Path

from ctui.core import Coordinator
from tests.conftest import Cli


def test_star_is_the_only_wildcard(coord: Coordinator) -> None:
    for kind in ("plan.set", "planXset", "Plan.Set", "lease.acquired", "a_b", "a%b", "a?b", "a[b"):
        coord.events.publish(kind)

    def kinds(*patterns: str) -> list[str]:
        return [e.kind for e in coord.events.since(0, kinds=list(patterns))]

    assert kinds("plan.set") == ["plan.set"]
    assert kinds("plan_set") == [] and kinds("PLAN.SET") == []
    assert kinds("lease.*") == ["lease.acquired"]
    assert kinds("plan*") == ["plan.set", "planXset"]
    assert kinds("a_b") == ["a_b"] and kinds("a%b") == ["a%b"]
    assert kinds("a?b") == ["a?b"] and kinds("a[b") == ["a[b"]
    assert kinds("a*b") == ["a_b", "a%b", "a?b", "a[b"]


def test_limit_above_ten_thousand_is_a_usage_error(repo: Path, cli: Cli) -> None:
    refused = cli("events", "--limit", "10001")
    assert refused.returncode == 2
    assert refused.stderr.strip().count("\n") == 0 and "over 10000" in refused.stderr
    assert cli("events", "--limit", "10000").returncode == 0
