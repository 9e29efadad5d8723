"""The server loop's notifier: `ctui serve` posts agent changes to the `[notify]` webhooks.

Runs beside the orchestrator's tick in its own thread (the same watch as
`ctui notify`); with no webhooks configured it reads nothing and ends.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from ctui.core import Coordinator
from ctui.core.flows import notify

log = logging.getLogger("ctui.notify")
POLL_S = 1.0


def run(store_dir: Path, stop: threading.Event, *, poll: float = POLL_S) -> None:
    """Watch and send until `stop` is set; a broken config or store is logged and retried."""
    while not stop.is_set():
        coord = Coordinator.open(store_dir=store_dir)
        try:
            urls, topic, retries = notify.settings(coord)
            if not urls:
                return
            hooks = notify.Webhooks(urls, topic=topic, retries=retries)
            try:
                notify.watch(coord, hooks, poll=poll, stop=stop, say=lambda t: log.info("%s", t))
            finally:
                hooks.close(timeout=1.0)
        except Exception as exc:  # the server outlives a bad setting; say so and retry
            log.warning("notifier stopped: %s: %s", type(exc).__name__, exc)
            stop.wait(10.0)
        finally:
            coord.close()
