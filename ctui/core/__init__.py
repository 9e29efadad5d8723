"""The headless core of ctui: the store and every domain rule.

Nothing here imports Textual, Rich, FastAPI, uvicorn, httpx or the MCP SDK.
"""

from ctui.core.coordinator import Coordinator
from ctui.core.errors import CtuiError

__all__ = ["Coordinator", "CtuiError"]
