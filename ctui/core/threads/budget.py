"""Budgets: caps on USD and tokens per thread, per `ctui run`, and per UTC day.

Caps come from `[budget]` in `.ctui/config.toml` (`thread_usd`, `run_tokens`,
`day_usd`, ...) and from flags: a thread's own caps (`ctui spawn
--budget-usd`) are kept in its `budget` column, a `ctui run`'s in its
`orchestrator_runs` row; a flag replaces the config's figure for its scope.
No cap set means nothing here ever says no.

What is spent is read from the store, which the supervisors keep current
while their agents run (`runs.record_stats`, twice a second): a thread's
figures, the sum over the threads of one `ctui run` (`run_group`), and the
sum over the runs started since midnight UTC. Tokens mean input plus output;
the cost of a run still going is estimated from its tokens (`live_usd`)
until the agent's own final figure replaces it.

The supervisor asks `check` after every save: a crossed cap stops the agent
(`ctui.run`), a cap at `warn_at` (80 %) logs one `budget.warning` event.
The orchestrators ask `blocked` before starting anything.
"""

from __future__ import annotations

import json
import sqlite3

from ctui.core.record import Record

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from typing import Any

    from ctui.core.context import Context
    from ctui.core.threads.agents import RunStats

SCOPES = ("thread", "run", "day")
UNITS = ("usd", "tokens")
WARN_AT = 0.8
PRICES = (
    ("opus-4-0", 15.0, 75.0),
    ("opus-4-1", 15.0, 75.0),
    ("claude-3-opus", 15.0, 75.0),
    ("opus", 5.0, 25.0),
    ("sonnet", 3.0, 15.0),
    ("haiku", 1.0, 5.0),
)
"""USD per million input / output tokens, by the first part of the model name that matches;
any other model is priced as sonnet. Cache writes cost 1.25x input, cache reads 0.1x."""


class Crossing(Record):
    """One cap reached: which scope and unit, the figure spent and the cap."""

    FIELDS = ("scope", "unit", "spent", "cap", "subject")
    __slots__ = FIELDS
    scope: str
    unit: str
    spent: float
    cap: float
    subject: str

    def __init__(self, scope: str, unit: str, spent: float, cap: float, subject: str) -> None:
        self.scope = scope
        self.unit = unit
        self.spent = spent
        self.cap = cap
        self.subject = subject

    def __str__(self) -> str:
        where = {"thread": "thread", "run": "`ctui run`", "day": "day (UTC)"}[self.scope]
        return f"{where} budget {_fmt(self.unit, self.spent)} of {_fmt(self.unit, self.cap)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "unit": self.unit,
            "spent": round(self.spent, 6),
            "cap": self.cap,
            "subject": self.subject,
        }


def _fmt(unit: str, value: float) -> str:
    from ctui.core.fmt import money

    return money(value) if unit == "usd" else f"{int(value):,} tokens"


def parse_caps(usd: float | None, tokens: int | None) -> dict[str, float] | None:
    """A flag pair as stored in a `budget` column (None when neither is given)."""
    from ctui.core.errors import UsageError

    caps: dict[str, float] = {}
    for unit, value in (("usd", usd), ("tokens", tokens)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise UsageError(f"budget {unit} must be a number above 0 (got {value!r})")
        caps[unit] = float(value)
    return caps or None


def day_start(now: float) -> float:
    """Midnight UTC of the day `now` falls in."""
    return now - now % 86400


def live_usd(stats: RunStats, model: str | None) -> float:
    """The run's cost so far: the agent's own figure once it gave one, else priced tokens."""
    if stats.is_error is not None:  # the result line came: its figure is the real one
        return stats.cost_usd
    name = (model or "").lower()
    price_in, price_out = next(((i, o) for key, i, o in PRICES if key in name), (3.0, 15.0))
    cached = stats.tokens_cache_creation * 1.25 + stats.tokens_cache_read * 0.1
    estimate = ((stats.tokens_in + cached) * price_in + stats.tokens_out * price_out) / 1e6
    return max(stats.cost_usd, estimate)


def caps(c: Context, conn: sqlite3.Connection, thread: sqlite3.Row) -> dict[str, Any]:
    """{scope: {unit: cap}} for the caps that apply to `thread` (a threads row)."""
    config = c.config.budget
    found: dict[str, Any] = {}
    own = json.loads(thread["budget"]) if thread["budget"] else {}
    group = _group_caps(conn, thread["run_group"])
    for scope, flags in (("thread", own), ("run", group), ("day", {})):
        if scope == "run" and not thread["run_group"]:
            continue
        merged = {u: flags.get(u, config.get(f"{scope}_{u}")) for u in UNITS}
        merged = {u: v for u, v in merged.items() if v is not None}
        if merged:
            found[scope] = merged
    return found


def _group_caps(conn: sqlite3.Connection, group: str | None) -> dict[str, float]:
    if not group:
        return {}
    row = conn.execute("SELECT budget FROM orchestrator_runs WHERE id = ?", (group,)).fetchone()
    return json.loads(row["budget"]) if row and row["budget"] else {}


def spent(
    c: Context, conn: sqlite3.Connection, scope: str, subject: str | None
) -> dict[str, float]:
    """{"usd": ..., "tokens": ...} spent in one scope (`subject`: the thread or the run group)."""
    if scope == "thread":
        sql = "SELECT cost_usd AS usd, tokens_in + tokens_out AS tokens FROM threads WHERE name = ?"
        args: tuple[Any, ...] = (subject,)
    elif scope == "run":
        sql = (
            "SELECT SUM(cost_usd) AS usd, SUM(tokens_in + tokens_out) AS tokens "
            "FROM threads WHERE run_group = ?"
        )
        args = (subject,)
    else:
        sql = "SELECT SUM(cost_usd) AS usd, SUM(tokens) AS tokens FROM runs WHERE started_at >= ?"
        args = (day_start(c.now()),)
    row = conn.execute(sql, args).fetchone()
    return {"usd": float(row["usd"] or 0.0), "tokens": float(row["tokens"] or 0)}


def _subject(c: Context, scope: str, thread: sqlite3.Row) -> str:
    if scope == "thread":
        return str(thread["name"])
    if scope == "run":
        return str(thread["run_group"])
    from ctui.core.clock import iso

    return (iso(day_start(c.now())) or "")[:10]


def crossings(
    c: Context, conn: sqlite3.Connection, thread: sqlite3.Row, share: float = 1.0
) -> list[Crossing]:
    """The caps of `thread` whose spend has reached `share` of the cap."""
    out = []
    for scope, limits in caps(c, conn, thread).items():
        subject = _subject(c, scope, thread)
        figures = spent(c, conn, scope, None if scope == "day" else subject)
        for unit, cap in limits.items():
            if figures[unit] >= cap * share:
                out.append(Crossing(scope, unit, figures[unit], cap, subject))
    return out


def check(c: Context, name: str) -> Crossing | None:
    """The first cap `name` has crossed, if any; logs a `budget.warning` once per cap at 80 %."""
    warn_at = c.config.budget.get("warn_at", WARN_AT)
    with c.store.write() as conn:
        row = conn.execute("SELECT * FROM threads WHERE name = ?", (name,)).fetchone()
        if row is None:
            return None
        near = crossings(c, conn, row, warn_at)
        for x in near:
            key = f"budget.warned:{x.scope}:{x.unit}:{x.subject}"
            fresh = conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES (?, '1')", (key,))
            if fresh.rowcount:
                c.log(conn, "budget.warning", subject=name, data=x.to_dict())
        return next((x for x in near if x.spent >= x.cap), None)


def blocked(c: Context, *, thread: str | None = None, group: str | None = None) -> Crossing | None:
    """A cap already reached that forbids starting `thread` (or a new thread of `group`)."""
    with c.store.read() as conn:
        if thread is not None:
            row = conn.execute("SELECT * FROM threads WHERE name = ?", (thread,)).fetchone()
        else:
            row = {"name": "", "budget": None, "run_group": group}
        if row is None:
            return None
        found = crossings(c, conn, row)
    if thread is None:
        found = [x for x in found if x.scope != "thread"]
    return next((x for x in found if x.spent >= x.cap), None)


def summary(c: Context) -> dict[str, Any]:
    """The day's spend against its caps, and each `ctui run`'s with caps (status, API, TUI)."""
    config = c.config.budget
    with c.store.read() as conn:
        day = spent(c, conn, "day", None)
        out: dict[str, Any] = {
            "day": {
                "usd": round(day["usd"], 6),
                "tokens": int(day["tokens"]),
                "usd_cap": config.get("day_usd"),
                "tokens_cap": config.get("day_tokens"),
            },
            "caps": {k: v for k, v in config.items() if k != "warn_at"},
        }
    day_doc = out["day"]
    shares = [
        day_doc[unit] / day_doc[f"{unit}_cap"] for unit in UNITS if day_doc.get(f"{unit}_cap")
    ]
    day_doc["share"] = round(max(shares), 4) if shares else None
    return out


def headline(doc: dict[str, Any]) -> str:
    """`today $0.4200 / $50.00` (a cap shown only when set), for status lines and the TUI."""
    from ctui.core.fmt import money

    day = doc.get("day") or {}
    text = f"today {money(day.get('usd', 0))}"
    if day.get("usd_cap"):
        text += f" / {money(day['usd_cap'])}"
    if day.get("tokens_cap"):
        text += f", {int(day.get('tokens', 0)):,} / {int(day['tokens_cap']):,} tokens"
    return text
