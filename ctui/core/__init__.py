"""The headless core of ctui: the store and every domain rule.

Nothing here imports Textual, Rich, FastAPI, uvicorn, httpx or the MCP SDK.
One package per noun (store, instances, leases, tasks, decisions, threads, merge),
the `Coordinator` facade over them, imports going one way: see README.md here.
"""

from ctui.core.coordinator import Coordinator
from ctui.core.errors import CtuiError

__all__ = ["Coordinator", "CtuiError"]
