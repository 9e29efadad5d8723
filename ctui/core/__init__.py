"""The headless core of ctui: the store and every domain rule.

Nothing here imports Textual, Rich, FastAPI, uvicorn, httpx or the MCP SDK.
One package per noun (store, instances, leases, tasks, decisions, threads, merge),
the `Coordinator` facade over them, imports going one way: see README.md here.

`from ctui.core import Coordinator` loads the store on first use, not when the
package is imported: a hook that `ctui serve` answers imports `ctui.core.fastjson`
and nothing else of the core (see `ctui.hooks.route`).
"""

from __future__ import annotations

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from ctui.core.coordinator import Coordinator
    from ctui.core.errors import CtuiError

__all__ = ["Coordinator", "CtuiError"]


def __getattr__(name: str) -> object:
    if name == "Coordinator":
        from ctui.core.coordinator import Coordinator

        return Coordinator
    if name == "CtuiError":
        from ctui.core.errors import CtuiError

        return CtuiError
    raise AttributeError(f"module 'ctui.core' has no attribute {name!r}")
