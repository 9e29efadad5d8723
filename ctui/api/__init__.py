"""The orchestrator's HTTP face: the FastAPI server (`server.py`), the httpx client (`client.py`).

Nothing in `ctui.core` may import this package; the CLI imports it only inside
the handlers of `serve`, `api`, `orchestrator` and `remote`, or when a store is
connected to a remote server.
"""
