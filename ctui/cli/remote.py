"""`ctui remote connect | status | disconnect | discover`: drive another repository's server.

While `.ctui/remote.json` exists, the commands of `REMOTE_COMMANDS` (spawn,
thread, lock, task, decisions, status, events, cleanup, conflicts, plan and
more; `remote connect` lists them) go through that server's API (`--local`
forces this store). The file holds the URL and the token, so it is mode 0600.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from ctui.cli.common import REMOTE_COMMANDS, Ctx, Group, positive
from ctui.core.errors import NOTHING, CtuiError, UsageError

REMOTE_TIMEOUT_S = 30.0  # ctui.api.client.REMOTE_TIMEOUT_S, without importing httpx here


def register(sub: argparse._SubParsersAction) -> None:
    g = Group(
        sub,
        "remote",
        "connect this CLI to a running ctui server (another repository, host or terminal)",
    )
    p = g.command("connect", connect, "check the server's health and token, then remember it")
    p.add_argument(
        "target",
        metavar="HOST:PORT",
        help="e.g. 127.0.0.1:31337, http://host:31337 or unix:/repo/.ctui/api.sock (--no-auth)",
    )
    _token_options(p)
    _timeout_option(p)
    _timeout_option(g.command("status", status, "the connected server and whether it answers"))
    g.command(
        "disconnect", disconnect, "forget the server: commands use this repository's store again"
    )
    p = g.command(
        "discover",
        discover,
        "find a running server (api.json, CT_API_URL, 127.0.0.1:31337) and connect to it",
    )
    _token_options(p)
    _timeout_option(p)


def _timeout_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--timeout",
        type=positive(),
        metavar="S",
        help="seconds to wait for each answer from the server, remembered for later commands "
        f"(default: CTUI_REMOTE_TIMEOUT, else {REMOTE_TIMEOUT_S:g})",
    )


def _timeout(ctx: Ctx, saved: Any = None) -> float:
    from ctui.api.client import remote_timeout

    given = getattr(ctx.args, "timeout", None)
    return float(given) if given is not None else remote_timeout(saved)


def _token_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--token", help="refused: a token on the command line is visible in `ps`")
    p.add_argument(
        "--token-file",
        metavar="PATH",
        help="read the server's token from PATH (mode 0600); default CT_API_TOKEN or "
        "N8N_API_TOKEN, else a prompt without echo on a terminal",
    )


def _state_file(ctx: Ctx) -> Path:
    from ctui.api.settings import REMOTE_FILE
    from ctui.core.paths import resolve_store_dir

    return resolve_store_dir(ctx.dir) / REMOTE_FILE


def _token(ctx: Ctx) -> str | None:
    """--token-file, else the environment; `--token` itself is refused (argv is public)."""
    from ctui.api.settings import TOKEN_ON_ARGV, read_token_file, resolve_token

    if ctx.args.token is not None:
        raise UsageError(TOKEN_ON_ARGV)
    given = read_token_file(ctx.args.token_file) if ctx.args.token_file else None
    return resolve_token(given, None)


def _probe_asking(
    url: str, token: str | None, timeout: float = REMOTE_TIMEOUT_S
) -> tuple[dict[str, Any], str | None]:
    """`probe`; when the server wants a token and none was given, ask for it on a terminal."""
    import sys

    try:
        return probe(url, token, timeout), token
    except TokenRefused:
        if token is not None or not (sys.stdin.isatty() and sys.stderr.isatty()):
            raise
    import getpass

    typed = getpass.getpass(f"token for {url} (not echoed): ", stream=sys.stderr).strip()
    return probe(url, typed or None, timeout), typed or None


class TokenRefused(CtuiError):
    """The server answered 401: the token is missing or wrong."""


def probe(url: str, token: str | None, timeout: float = REMOTE_TIMEOUT_S) -> dict[str, Any]:
    """Health (no token) and then an authenticated call; a clear error for each way it fails."""
    import httpx

    from ctui.api.wire import http_client

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with http_client(url, timeout=timeout) as http:
            health = http.get("/api/health")
            if health.status_code != 200 or health.json().get("status") != "ok":
                raise CtuiError(
                    f"{url} answered /api/health with HTTP {health.status_code}: not a ctui server?"
                )
            answer = http.get("/api/events/latest", headers=headers)
    except httpx.TimeoutException as exc:
        raise CtuiError(
            f"the server at {url} did not answer within {timeout:g}s ({type(exc).__name__}): "
            "a busy machine? raise --timeout or CTUI_REMOTE_TIMEOUT"
        ) from None
    except httpx.TransportError as exc:
        raise CtuiError(
            f"no ctui server answers at {url} ({type(exc).__name__}): "
            "is `ctui serve` running there?"
        ) from None
    except httpx.InvalidURL as exc:
        raise UsageError(f"bad server address {url!r} ({exc}): use HOST:PORT") from None
    except ValueError:
        raise CtuiError(f"{url} is not a ctui server (its /api/health is not JSON)") from None
    if answer.status_code == 401:
        hint = "set CT_API_TOKEN or pass --token-file PATH" if not token else "check the token"
        raise TokenRefused(
            f"the server at {url} refused {'the' if token else 'a missing'} token: {hint}"
        )
    if answer.status_code != 200:
        raise CtuiError(
            f"the server at {url} answered HTTP {answer.status_code} to an authenticated call"
        )
    return dict(health.json())


def _save(
    ctx: Ctx, url: str, token: str | None, health: dict[str, Any], timeout: float
) -> dict[str, Any]:
    from ctui.api.settings import write_private
    from ctui.core import private

    path = _state_file(ctx)
    if not path.parent.exists():
        private.make_dir(path.parent)
        private.write_file(path.parent / ".gitignore", "*\n")
    write_private(
        path,
        {
            "url": url,
            "token": token,
            "timeout": timeout,
            "connected_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
    )
    return {
        "url": url,
        "connected": True,
        "state": str(path),
        "server_version": health.get("version"),
    }


def connect(ctx: Ctx) -> int:
    from ctui.api.settings import base_url

    url = base_url(ctx.args.target)
    timeout = _timeout(ctx)
    health, token = _probe_asking(url, _token(ctx), timeout)
    data = _save(ctx, url, token, health, timeout)
    ctx.emit(
        data,
        f"connected to {url}: {', '.join(sorted(REMOTE_COMMANDS))} now go there "
        "(--local for this store; `ctui remote disconnect` to stop)",
    )
    return 0


def status(ctx: Ctx) -> int:
    from ctui.api.settings import read_json

    path = _state_file(ctx)
    state = read_json(path)
    if state is None:
        ctx.emit(
            {"connected": False}, "not connected to a ctui server (`ctui remote connect HOST:PORT`)"
        )
        return NOTHING
    url = str(state.get("url"))
    try:
        probe(url, state.get("token"), _timeout(ctx, state.get("timeout")))
        problem = None
    except CtuiError as exc:
        problem = exc.message
    data = {
        "connected": True,
        "url": url,
        "connected_at": state.get("connected_at"),
        "reachable": problem is None,
        "problem": problem,
    }
    ctx.emit(
        data,
        f"connected to {url} since {state.get('connected_at')}: "
        + ("answering, token accepted" if problem is None else problem),
    )
    return 0 if problem is None else 1


def disconnect(ctx: Ctx) -> int:
    path = _state_file(ctx)
    if not path.exists():
        ctx.emit({"connected": False}, "not connected")
        return NOTHING
    path.unlink()
    ctx.emit(
        {"connected": False, "disconnected": True},
        "disconnected: commands use this repository's store",
    )
    return 0


def candidates(ctx: Ctx) -> list[tuple[str, str]]:
    """Where a server may be, in order: this store's api.json, CT_API_URL, the default port."""
    from ctui.api.settings import API_FILE, DEFAULT_PORT, base_url, read_json

    found = []
    info = read_json(_state_file(ctx).with_name(API_FILE))
    if info is not None and isinstance(info.get("url"), str):
        found.append((info["url"], "api.json"))
    if os.environ.get("CT_API_URL"):
        found.append((base_url(os.environ["CT_API_URL"]), "CT_API_URL"))
    found.append((f"http://127.0.0.1:{DEFAULT_PORT}", "default port"))
    return found


def discover(ctx: Ctx) -> int:
    token = _token(ctx)
    timeout = _timeout(ctx)
    tried = []
    for url, source in candidates(ctx):
        try:
            health = probe(url, token, timeout)
        except CtuiError as exc:
            tried.append(f"{url} ({source}): {exc.message}")
            continue
        data = {**_save(ctx, url, token, health, timeout), "source": source}
        ctx.emit(data, f"found a ctui server at {url} ({source}); connected")
        return 0
    raise UsageError("no ctui server found: " + "; ".join(tried))
