"""Reading usage limits from agent output, pricing live tokens, and the config of budgets."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from ctui.core.config import Config
from ctui.core.errors import UsageError
from ctui.core.threads import budget, limits
from ctui.core.threads.agents import RunStats

NOW = datetime(2026, 12, 1, 13, 20, tzinfo=UTC).timestamp()


def _watch(*lines: dict[str, object]) -> limits.Watch:
    w = limits.Watch(lambda: NOW)
    for line in lines:
        w.feed(json.dumps(line))
    return w


def test_usage_limit_result_with_an_epoch() -> None:
    w = _watch(
        {"type": "result", "is_error": True, "result": "Claude AI usage limit reached|1767225600"}
    )
    assert w.hit == "Claude AI usage limit reached" and w.reset_at == 1767225600


def test_a_reset_named_by_the_hour_in_a_zone_is_the_next_such_hour() -> None:
    text = "5-hour limit reached ∙ resets 3pm (Europe/Berlin)"
    w = _watch({"type": "result", "is_error": True, "result": text})
    berlin = datetime.fromtimestamp(w.reset_at or 0, ZoneInfo("Europe/Berlin"))
    assert (berlin.hour, berlin.minute, berlin.day) == (15, 0, 1)  # 13:20 UTC is 14:20 there
    early = limits.reset_time("You've hit your limit · resets 2:30am (UTC)", NOW)
    assert early == datetime(2026, 12, 2, 2, 30, tzinfo=UTC).timestamp()  # tomorrow


def test_a_429_is_a_limit_without_a_reset() -> None:
    w = _watch(
        {
            "type": "result",
            "subtype": "success",
            "is_error": True,
            "api_error_status": 429,
            "result": "API Error: Request rejected",
        }
    )
    assert w.hit and "429" in w.hit and w.reset_at is None


def test_a_rejected_rate_limit_event_carries_its_reset() -> None:
    w = _watch(
        {
            "type": "rate_limit_event",
            "rate_limit_info": {"status": "rejected", "resetsAt": 1767200000, "rateLimitType": "x"},
        }
    )
    assert w.hit and w.reset_at == 1767200000
    assert not _watch({"type": "rate_limit_event", "rate_limit_info": {"status": "allowed"}}).hit


@pytest.mark.parametrize(
    "line",
    [
        {"type": "result", "is_error": False, "result": "I read about the usage limit reached"},
        {"type": "result", "is_error": True, "result": "a test failed"},
        {"type": "assistant", "message": {"content": [{"type": "text", "text": "rate limit"}]}},
    ],
)
def test_other_lines_are_not_limits(line: dict[str, object]) -> None:
    assert _watch(line).hit is None


def test_live_cost_is_priced_until_the_agent_gives_its_own() -> None:
    stats = RunStats(tokens_in=1_000_000, tokens_out=100_000)
    assert budget.live_usd(stats, "claude-sonnet-4-5") == pytest.approx(3.0 + 1.5)
    assert budget.live_usd(stats, "claude-haiku-4-5") == pytest.approx(1.0 + 0.5)
    assert budget.live_usd(stats, None) == pytest.approx(4.5)
    stats.feed(json.dumps({"type": "result", "total_cost_usd": 0.25, "is_error": False}))
    assert budget.live_usd(stats, "claude-sonnet-4-5") == 0.25


def test_budget_config_and_flags() -> None:
    config = Config.from_dict({"budget": {"day_usd": 50, "thread_tokens": 1000, "warn_at": 0.5}})
    assert config.budget == {"day_usd": 50.0, "thread_tokens": 1000.0, "warn_at": 0.5}
    assert Config.from_dict({}).budget == {}
    assert budget.parse_caps(None, None) is None
    assert budget.parse_caps(2, None) == {"usd": 2.0}
    with pytest.raises(UsageError, match="budget usd must be a number above 0"):
        budget.parse_caps(0, None)
    with pytest.raises(UsageError, match=r"\[budget\] run_usd must be a number"):
        Config.from_dict({"budget": {"run_usd": True}})
    with pytest.raises(UsageError, match=r"\[thread\] port_start"):
        Config.from_dict({"thread": {"port_start": 65530, "port_block": 10}})


def test_headline() -> None:
    assert budget.headline({"day": {"usd": 0.5, "usd_cap": None}}) == "today $0.5000"
    doc = {"day": {"usd": 1, "usd_cap": 5, "tokens": 1200, "tokens_cap": 10000}}
    assert budget.headline(doc) == "today $1.00 / $5.00, 1,200 / 10,000 tokens"
