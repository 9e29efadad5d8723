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
    assert [c.text for c in thread_row(thread, 100.0)][4:] == [
        "1m00s",
        "$0.5000",
        "1,234",
    ]  # ctui.core.fmt.money


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
    assert pretty(result)[0].plain == "✓ success: 3 turns, $0.5000, 15 tokens"
    assert pretty("plain text")[0].plain == "plain text"
    assert pretty("{not json")[0].plain == "{not json"


def test_threads_show_the_clients_error_and_all_four_token_figures() -> None:
    failed = {
        "name": "t",
        "status": "failed",
        "api_error_status": 529,
        "tokens_in": 100,
        "tokens_out": 20,
        "tokens_cache_creation": 300,
        "tokens_cache_read": 4000,
    }
    cells = thread_row(failed, 100.0)
    assert (
        cells[1].text == "failed 529"
        and cells[1].style == thread_row({"name": "u", "status": "failed"}, 0)[1].style
    )
    assert cells[-1].text == "4,420"
    error = (
        '{"type":"result","subtype":"success","is_error":true,"api_error_status":529,'
        '"num_turns":1,"total_cost_usd":0,"result":"API Error: Repeated 529 Overloaded errors.",'
        '"usage":{"input_tokens":0,"output_tokens":0}}'
    )
    shown = pretty(error)[0]
    assert "success" not in shown.plain and shown.plain.startswith("✗ API error 529: API Error")
    assert shown.style == "bold red"
    retry = (
        '{"type":"system","subtype":"api_retry","attempt":2,"max_retries":3,'
        '"retry_delay_ms":1500,"error_status":529,"error":"overloaded"}'
    )
    assert pretty(retry)[0].plain == "API error 529 (overloaded): retry 2 of 3 in 1.5 s"
    assert pretty('{"type":"system","subtype":"hook_started","hook_name":"Stop"}') == []
    cached = (
        '{"type":"result","subtype":"success","num_turns":2,"total_cost_usd":0.5,"usage":'
        '{"input_tokens":10,"output_tokens":5,"cache_creation_input_tokens":100,'
        '"cache_read_input_tokens":1000}}'
    )
    assert pretty(cached)[0].plain == "✓ success: 2 turns, $0.5000, 1,115 tokens"


def test_snapshots_are_bounded(coord: Coordinator) -> None:
    for i in range(30):
        coord.decisions.add(category="c", title=f"d{i}", author="operator")
        coord.leases.acquire(f"src/f{i}.py", instance="operator")
    snap = load(coord, limit=10)
    assert len(snap.records["decisions"]) == 10 and snap.totals["decisions"] == 30
    assert len(snap.records["leases"]) == 10 and snap.totals["leases"] == 30
    assert len(snap.records["activity"]) == 10
    assert snap.records["activity"][0]["id"] > snap.records["activity"][-1]["id"]
