"""Notifications when an agent starts waiting, fails or finishes: once per change.

`Changes` remembers each agent's last state and reports only transitions
into waiting, failed or done (a state seen at start is not news). `Webhooks`
posts each change as JSON to the URLs in `[notify]`, from its own thread with
a queue: `send()` never blocks, a receiver that is down is retried with
backoff, and a message that still fails after the retries is dropped and
logged. The body is readable by Slack (`text`) and ntfy (`topic`, `title`,
`message`) alike, plus the raw fields for anything else.

    [notify]
    webhooks = ["https://ntfy.sh/", "https://hooks.slack.com/services/..."]
    topic = "ctui"      # ntfy's topic (sent only when set)
    retries = 5         # attempts after the first, 0.5 s doubling to 30 s
    bell = true         # the control room rings the terminal's bell
    desktop = "auto"    # and writes a desktop notification escape: "osc777", "osc9",
                        # "both", "off", or "auto" (OSC 9 where the terminal is known to
                        # show it: iTerm2, WezTerm, Ghostty, Windows Terminal; else OSC 777)

`terminal()` reads the last two; `escape()` writes one change as the escape.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request

from ctui.core.errors import UsageError
from ctui.core.flows.roster import agents

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import Any

    from ctui.core.coordinator import Coordinator

log = logging.getLogger("ctui.notify")

NEWS = ("waiting", "failed", "done")
RETRIES = 5
FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = 30.0
TIMEOUT_S = 5.0
WHAT = {"waiting": "needs input", "failed": "failed", "done": "finished"}


class Changes:
    """Agents' states between two reads; `seen()` returns the transitions worth telling."""

    def __init__(self) -> None:
        self.states: dict[str, str] | None = None

    def seen(self, found: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        now = {str(a["key"]): str(a["state"]) for a in found}
        rows = {str(a["key"]): a for a in found}
        before, self.states = self.states, now
        if before is None:  # the first read is the starting point, not news
            return []
        return [
            _change(rows[key])
            for key, state in now.items()
            if state in NEWS and before.get(key) != state
        ]


def _change(a: Mapping[str, Any]) -> dict[str, Any]:
    state = str(a["state"])
    detail = a.get("question") if state == "waiting" else a.get("reason")
    text = f"{a['name']} {WHAT[state]}" + (f": {detail}" if detail else "")
    return {"agent": a["name"], "state": state, "detail": detail, "text": text}


def read_agents(c: Coordinator, *, ended: bool = True) -> list[dict[str, Any]]:
    """The agents list straight from the store (the watcher's and the server's read)."""
    now = c.now()
    with c.store.read():
        insts = [i.field_dict() for i in c.instances.list(include_ended=True)]
        threads = [t.field_dict() for t in c.threads.list()]
        leases = [x.field_dict() for x in c.leases.list()]
        events = [e.to_dict() for e in c.events.recent(200)]
    return agents(insts, threads, leases, events, now=now, ended=ended)


def settings(c: Coordinator) -> tuple[list[str], str | None, int]:
    """(webhook URLs, ntfy topic, retries) from `[notify]`."""
    table = c.config.raw.get("notify", {}) if isinstance(c.config.raw, dict) else {}
    urls = table.get("webhooks", [])
    topic = table.get("topic")
    retries = table.get("retries", RETRIES)
    if not isinstance(urls, list) or not all(
        isinstance(u, str) and u.startswith(("http://", "https://")) for u in urls
    ):
        raise UsageError("[notify] webhooks must be a list of http:// or https:// URLs")
    if topic is not None and not isinstance(topic, str):
        raise UsageError("[notify] topic must be a string")
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 20:
        raise UsageError("[notify] retries must be a whole number from 0 to 20")
    return list(urls), topic, retries


DESKTOP = ("auto", "osc777", "osc9", "both", "off")
OSC9_TERMINALS = frozenset({"iTerm.app", "WezTerm", "ghostty"})
ESCAPE_CHARS = 240


def terminal(c: Coordinator) -> tuple[bool, str]:
    """(ring the bell, desktop escape: one of DESKTOP) from `[notify]`."""
    table = c.config.raw.get("notify", {}) if isinstance(c.config.raw, dict) else {}
    bell, desktop = table.get("bell", True), table.get("desktop", "auto")
    if not isinstance(bell, bool):
        raise UsageError("[notify] bell must be true or false")
    if desktop is False:
        desktop = "off"
    if desktop not in DESKTOP:
        raise UsageError(f"[notify] desktop must be one of {', '.join(DESKTOP)} (got {desktop!r})")
    return bell, str(desktop)


def _plain(text: str) -> str:
    """Text safe inside an escape: no control characters (an ESC or BEL would end it early)."""
    clean = "".join(ch if ch.isprintable() else " " for ch in text)
    return clean if len(clean) <= ESCAPE_CHARS else clean[: ESCAPE_CHARS - 1] + "…"


def escape(change: Mapping[str, Any], desktop: str, env: Mapping[str, str]) -> str:
    """The desktop notification escape for one change (empty when `desktop` is off).

    OSC 777 (`ESC ] 777 ; notify ; TITLE ; BODY BEL`: foot, urxvt, Konsole, VTE
    terminals) and OSC 9 (`ESC ] 9 ; BODY BEL`: iTerm2, WezTerm, Ghostty, Windows
    Terminal). Inside tmux the escape is wrapped to pass through to the terminal
    (shown when tmux has `allow-passthrough on`)."""
    if desktop == "auto":
        known = env.get("TERM_PROGRAM") in OSC9_TERMINALS or "WT_SESSION" in env
        desktop = "osc9" if known else "osc777"
    title = _plain(f"ctui: {change['agent']} {WHAT.get(change['state'], change['state'])}")
    text = _plain(str(change["text"]))
    out = ""
    if desktop in ("osc777", "both"):
        out += f"\x1b]777;notify;{title.replace(';', ',')};{text}\x07"
    if desktop in ("osc9", "both"):
        out += f"\x1b]9;{text}\x07"
    if out and env.get("TMUX"):
        out = "\x1bPtmux;" + out.replace("\x1b", "\x1b\x1b") + "\x1b\\"
    return out


def body(change: Mapping[str, Any], topic: str | None) -> bytes:
    """One JSON body for Slack (`text`), ntfy (`topic`, `title`, `message`) and the rest."""
    doc: dict[str, Any] = {
        "text": change["text"],
        "title": f"ctui: {change['agent']} {WHAT.get(change['state'], change['state'])}",
        "message": change["text"],
        "agent": change["agent"],
        "state": change["state"],
        "detail": change.get("detail"),
    }
    if topic:
        doc["topic"] = topic
    return json.dumps(doc).encode()


class Webhooks:
    """Posts changes to every URL from one background thread; `send()` only queues."""

    def __init__(
        self,
        urls: list[str],
        *,
        topic: str | None = None,
        retries: int = RETRIES,
        backoff: float = FIRST_BACKOFF_S,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.urls, self.topic, self.retries, self.backoff = urls, topic, retries, backoff
        self.sleep = sleep
        self.sent = 0
        self.dropped = 0
        self._queue: queue.Queue[tuple[str, bytes] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="ctui-notify", daemon=True)
        self._thread.start()

    def send(self, change: Mapping[str, Any]) -> None:
        data = body(change, self.topic)
        for url in self.urls:
            self._queue.put((url, data))

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what is queued (up to `timeout`), then stop the thread."""
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            self._deliver(*item)

    def _deliver(self, url: str, data: bytes) -> None:
        wait = self.backoff
        for attempt in range(self.retries + 1):
            try:
                req = urllib.request.Request(
                    url, data=data, headers={"Content-Type": "application/json"}, method="POST"
                )
                with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
                    if 200 <= resp.status < 300:
                        self.sent += 1
                        return
            except (urllib.error.URLError, OSError, ValueError) as exc:
                log.info("webhook %s attempt %d failed: %s", url, attempt + 1, exc)
            if attempt < self.retries:
                self.sleep(wait)
                wait = min(wait * 2, MAX_BACKOFF_S)
        self.dropped += 1
        log.warning("webhook %s: gave up after %d attempts", url, self.retries + 1)


def watch(
    c: Coordinator,
    hooks: Webhooks,
    *,
    poll: float = 0.5,
    stop: threading.Event | None = None,
    say: Callable[[str], None] | None = None,
    changes: Changes | None = None,
) -> None:
    """Read the agents every `poll` seconds and send each new change until `stop` is set
    (`changes`: the states already seen, when the caller made the first read)."""
    changes = changes or Changes()
    stop = stop or threading.Event()
    while not stop.is_set():
        for change in changes.seen(read_agents(c)):
            hooks.send(change)
            if say is not None:
                say(change["text"])
        stop.wait(poll)
