"""A scripted fake of Anthropic's Messages API for driving the real Claude Code client.

One `FakeAnthropic` is one HTTP server on 127.0.0.1 (a free port, a thread per
request). The test queues *steps*; each main-loop `POST /v1/messages` (a request
that offers tools) takes the next step and streams it back as server-sent events,
the way the real API does: `message_start` (with the usage figures), one
`content_block_start` / `_delta` / `_stop` per block, `message_delta` (stop
reason, output tokens) and `message_stop`. Side requests the client makes on its
own (a title, a quota probe, token counting, the model list, `HEAD /`) get a short
plain answer and never consume a step. Every request is recorded (method, path,
body) so a test can assert on what the client sent.

Steps:

* `Text("done")`: an `end_turn` message with one text block.
* `ToolUse("Write", {"file_path": ..., "content": ...})`: a `tool_use` message;
  the client runs the tool and sends its result in the next request.
* `Error(529)`: the HTTP error with Anthropic's error JSON (overloaded_error for 529,
  api_error for 500, ...). The client retries errors like these, so a step has a
  `times` count: `Error(529, times=100)` answers every attempt.
* `hold=threading.Event()` on any step: the response waits until the test sets it
  (`Hold`), so a test can act while a turn is in flight.

A request that finds the script empty gets `Text("(script finished)")`.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "claude-sonnet-4-5-20250929"
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


@dataclass
class Usage:
    """The figures a message reports; the client adds them up into its result line."""

    input_tokens: int = 10
    output_tokens: int = 5
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    def start(self) -> dict[str, int]:
        """Usage as `message_start` carries it (output so far: 1 token)."""
        return {
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "output_tokens": 1,
        }


@dataclass
class Step:
    """One scripted answer to a main-loop request."""

    usage: Usage = field(default_factory=Usage)
    hold: threading.Event | None = None
    times: int = 1

    def blocks(self) -> list[dict[str, Any]]:
        return []

    def stop_reason(self) -> str:
        return "end_turn"


@dataclass
class Text(Step):
    text: str = "done"

    def __init__(self, text: str = "done", **kw: Any) -> None:
        super().__init__(**kw)
        self.text = text

    def blocks(self) -> list[dict[str, Any]]:
        return [{"type": "text", "text": self.text}]


@dataclass
class ToolUse(Step):
    name: str = "Write"
    input: dict[str, Any] = field(default_factory=dict)
    text: str | None = None

    def __init__(
        self, name: str, input: dict[str, Any], *, text: str | None = None, **kw: Any
    ) -> None:
        super().__init__(**kw)
        self.name, self.input, self.text = name, input, text

    def blocks(self) -> list[dict[str, Any]]:
        pre = [{"type": "text", "text": self.text}] if self.text else []
        return [*pre, {"type": "tool_use", "name": self.name, "input": self.input}]

    def stop_reason(self) -> str:
        return "tool_use"


@dataclass
class Error(Step):
    status: int = 529
    message: str = "Overloaded"

    def __init__(self, status: int = 529, message: str | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.status = status
        self.message = message or ("Overloaded" if status == 529 else "Internal server error")

    def body(self) -> bytes:
        kind = ERROR_TYPES.get(self.status, "api_error")
        doc = {"type": "error", "error": {"type": kind, "message": self.message}}
        return json.dumps(doc).encode()


@dataclass
class Request:
    """What the client sent."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    main: bool = False

    def text(self) -> str:
        """Every string in the body, joined: for `"needle" in request.text()`."""
        out: list[str] = []

        def walk(node: Any) -> None:
            if isinstance(node, str):
                out.append(node)
            elif isinstance(node, dict):
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)

        walk(self.body)
        return "\n".join(out)


class FakeAnthropic:
    """The server and its script; `with FakeAnthropic() as api:` starts and stops it."""

    def __init__(self, *, model: str = MODEL) -> None:
        self.model = model
        self.steps: list[Step] = []
        self.requests: list[Request] = []
        self.answered: list[dict[str, Any]] = []  # main-loop messages sent: id, usage
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeAnthropic:
        self._thread.start()
        return self

    def stop(self) -> None:
        for step in self.steps:  # never leave a handler thread parked on a hold
            if step.hold is not None:
                step.hold.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> FakeAnthropic:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def script(self, *steps: Step) -> FakeAnthropic:
        with self._lock:
            self.steps.extend(steps)
        return self

    def main_requests(self) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.main]

    def wait_requests(self, count: int, timeout: float = 120.0) -> list[Request]:
        """Block until `count` main-loop requests arrived (fail after `timeout`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.main_requests()
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(f"the fake API saw {len(self.main_requests())} of {count} requests")

    def totals(self) -> dict[str, int]:
        """The four token figures summed over every main-loop message answered."""
        keys = (
            "input_tokens",
            "output_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
        )
        with self._lock:
            return {k: sum(a["usage"][k] for a in self.answered) for k in keys}

    def _next(self) -> Step:
        with self._lock:
            while self.steps:
                step = self.steps[0]
                if step.times > 1:
                    step.times -= 1
                    return step
                return self.steps.pop(0)
        return Text("(script finished)")

    def _record(self, req: Request) -> None:
        with self._lock:
            self.requests.append(req)

    def _answered(self, msg_id: str, usage: Usage, final_output: int) -> None:
        with self._lock:
            self.answered.append(
                {
                    "id": msg_id,
                    "usage": {
                        "input_tokens": usage.input_tokens,
                        "output_tokens": final_output,
                        "cache_creation_input_tokens": usage.cache_creation_input_tokens,
                        "cache_read_input_tokens": usage.cache_read_input_tokens,
                    },
                }
            )

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_fake{next(self._ids):06d}"


def is_main(body: Any) -> bool:
    """A main-loop request offers tools; the client's side requests (titles, probes) do not."""
    return isinstance(body, dict) and bool(body.get("tools")) and body.get("max_tokens", 0) > 1


def sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def stream(api: FakeAnthropic, step: Step, model: str, *, record: bool = True) -> Iterator[bytes]:
    """The server-sent events of one message (`record`: count it in `api.answered`)."""
    msg_id = api.new_id("msg")
    usage = step.usage
    yield sse(
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": msg_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": usage.start(),
            },
        },
    )
    for index, block in enumerate(step.blocks()):
        if block["type"] == "text":
            yield sse(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "text", "text": ""},
                },
            )
            yield sse(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "text_delta", "text": block["text"]},
                },
            )
        else:
            start = {
                "type": "tool_use",
                "id": api.new_id("toolu"),
                "name": block["name"],
                "input": {},
            }
            yield sse(
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": start},
            )
            yield sse(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {
                        "type": "input_json_delta",
                        "partial_json": json.dumps(block["input"]),
                    },
                },
            )
        yield sse("content_block_stop", {"type": "content_block_stop", "index": index})
    yield sse(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": step.stop_reason(), "stop_sequence": None},
            "usage": {"output_tokens": usage.output_tokens},
        },
    )
    yield sse("message_stop", {"type": "message_stop"})
    if record:
        api._answered(msg_id, usage, usage.output_tokens)


def plain_message(api: FakeAnthropic, model: str, text: str) -> dict[str, Any]:
    return {
        "id": api.new_id("msg"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }


def _handler(api: FakeAnthropic) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _body(self) -> Any:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                return json.loads(raw) if raw else None
            except json.JSONDecodeError:
                return raw.decode("utf-8", "replace")

        def _json(self, status: int, doc: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.send_header("request-id", api.new_id("req"))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def do_HEAD(self) -> None:
            api._record(Request("HEAD", self.path, dict(self.headers), None))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            api._record(Request("GET", self.path, dict(self.headers), None))
            if self.path.startswith("/v1/models"):
                model = {
                    "type": "model",
                    "id": api.model,
                    "display_name": "Fake",
                    "created_at": "2025-01-01T00:00:00Z",
                }
                self._json(
                    200,
                    {
                        "data": [model],
                        "has_more": False,
                        "first_id": api.model,
                        "last_id": api.model,
                    },
                )
                return
            self._json(
                404,
                {"type": "error", "error": {"type": "not_found_error", "message": "no such route"}},
            )

        def do_POST(self) -> None:
            body = self._body()
            path = self.path.split("?")[0]
            main = path == "/v1/messages" and is_main(body)
            api._record(Request("POST", self.path, dict(self.headers), body, main))
            if path == "/v1/messages/count_tokens":
                self._json(200, {"input_tokens": 100})
                return
            if path != "/v1/messages":
                self._json(
                    404,
                    {
                        "type": "error",
                        "error": {"type": "not_found_error", "message": "no such route"},
                    },
                )
                return
            asked = body.get("model") if isinstance(body, dict) else None
            model = asked if isinstance(asked, str) and asked else api.model
            if not main:
                if isinstance(body, dict) and body.get("stream"):
                    self._stream(Text("ok", usage=Usage(1, 1)), model, record=False)
                else:
                    self._json(200, plain_message(api, model, "ok"))
                return
            step = api._next()
            if step.hold is not None:
                step.hold.wait(timeout=600)
            if isinstance(step, Error):
                data = step.body()
                self.send_response(step.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.send_header("x-should-retry", "true")
                self.end_headers()
                self.wfile.write(data)
                return
            self._stream(step, model)

        def _stream(self, step: Step, model: str, *, record: bool = True) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("cache-control", "no-cache")
            self.send_header("request-id", api.new_id("req"))
            self.send_header("connection", "close")
            self.end_headers()
            self.close_connection = True
            for chunk in stream(api, step, model, record=record):
                self.wfile.write(chunk)
                self.wfile.flush()

    return Handler
