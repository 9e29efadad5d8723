"""The pure parts of the control room: row formatting, log summaries, bounded snapshots."""

from __future__ import annotations

from ctui.core import Coordinator
from ctui.tui.logview import pretty
from ctui.tui.rows import PANES, countdown, event_row, lease_row, matches, thread_row, ts
from ctui.tui.snapshot import load


def test_countdowns_and_ages_read_at_a_glance() -> None:
    assert countdown(100.0, 40.0).text == "1m00s"
    assert countdown(100.0, 100.0).text == "expired"
    assert countdown(100.0, 70.0).style == "yellow"
    assert countdown(None, 0).text == "-"


def test_times_from_the_api_are_iso_strings() -> None:
    assert ts("2026-11-21T00:00:00Z") == ts(1_795_219_200.0)
    assert ts("not a time") is None


def test_rows_take_core_fields_or_api_documents() -> None:
    core = {"path": "src/a.py", "holder": "x", "expires_at": 130.0, "token": 7, "intent": None}
    api = {"path": "src/a.py", "holder": "x", "expires_at": "1970-01-01T00:02:10Z", "token": 7}
    assert [c.text for c in lease_row(core, 100.0)] == [c.text for c in lease_row(api, 100.0)]
    thread = {"name": "t", "status": "running", "started_at": 40.0, "cost_usd": 0.5, "tokens": 1234}
    assert [c.text for c in thread_row(thread, 100.0)][4:] == ["1m00s", "$0.50", "1,234"]


def test_event_rows_flag_forced_and_stale() -> None:
    row = event_row(
        {
            "id": 1,
            "at": 0.0,
            "kind": "lease.forced",
            "subject": "a.py",
            "actor": "operator",
            "data": {"reason": "stuck"},
        },
        0.0,
    )
    assert row[2].style == "red" and row[2].text == "operator force-released a.py (stuck)"


def test_filter_matches_any_cell() -> None:
    cells = lease_row(
        {"path": "src/auth.py", "holder": "backend-1", "expires_at": None, "token": 1}, 0
    )
    assert matches(cells, "auth") and matches(cells, "backend") and not matches(cells, "zzz")


def test_every_pane_says_what_to_do_when_empty() -> None:
    assert all(spec.empty and spec.empty.endswith(".") for spec in PANES)


def test_stream_json_lines_become_short_summaries() -> None:
    assert pretty('{"type":"system","subtype":"init","session_id":"abcdef123","model":"m"}')[
        0
    ].plain == ("▶ session abcdef12 started (m)")
    tool = (
        '{"type":"assistant","message":{"content":'
        '[{"type":"tool_use","name":"Edit","input":{"file_path":"a.py"}}]}}'
    )
    assert pretty(tool)[0].plain == "⚙ Edit a.py"
    result = (
        '{"type":"result","subtype":"success","num_turns":3,"total_cost_usd":0.5,'
        '"usage":{"input_tokens":10,"output_tokens":5}}'
    )
    assert pretty(result)[0].plain == "✓ success: 3 turns, $0.500, 15 tokens"
    assert pretty("plain text")[0].plain == "plain text"
    assert pretty("{not json")[0].plain == "{not json"


def test_snapshots_are_bounded(coord: Coordinator) -> None:
    for i in range(30):
        coord.decisions.add(category="c", title=f"d{i}", author="operator")
        coord.leases.acquire(f"src/f{i}.py", instance="operator")
    snap = load(coord, limit=10)
    assert len(snap.records["decisions"]) == 10 and snap.totals["decisions"] == 30
    assert len(snap.records["leases"]) == 10 and snap.totals["leases"] == 30
    assert len(snap.records["activity"]) == 10
    assert snap.records["activity"][0]["id"] > snap.records["activity"][-1]["id"]
