"""How a server is found and secured: its token, its `api.json`, and the client's `remote.json`.

These files are read by cheap CLI paths (every command checks for
`remote.json`), so this module uses the standard library only.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import stat
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ctui.core import private
from ctui.core.config import Config
from ctui.core.errors import UsageError

DEFAULT_BIND = "127.0.0.1"
DEFAULT_PORT = 31337
TOKEN_ENVS = private.TOKEN_ENVS
API_FILE = "api.json"
REMOTE_FILE = "remote.json"
SOCKET_NAME = "api.sock"
UNIX = "unix:"
MAX_SOCKET_PATH = private.MAX_SOCKET_PATH


def resolve_token(explicit: str | None, config: Config | None) -> str | None:
    """The `--token-file` token, else CT_API_TOKEN, N8N_API_TOKEN, `[api] token` in config."""
    for value in (explicit, *(os.environ.get(name) for name in TOKEN_ENVS)):
        if value:
            return value
    if config is not None:
        value = config.raw.get("api", {}).get("token")
        if isinstance(value, str) and value:
            return value
    return None


TOKEN_ON_ARGV = (
    "--token puts the token on the command line, where `ps` shows it to every user: "
    "use --token-file PATH (a file only you can read) or set CT_API_TOKEN"
)


def read_token_file(path: str) -> str:
    """The token kept in `path`, a regular file no one but its owner may read or write."""
    where = Path(path).expanduser()
    try:
        fd = os.open(where, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as exc:
        raise UsageError(f"cannot read the token file {where}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise UsageError(f"the token file {where} is not a regular file")
        if info.st_mode & 0o077:
            raise UsageError(
                f"the token file {where} is open to other users (mode "
                f"{stat.S_IMODE(info.st_mode):04o}): `chmod 600 {where}` and try again"
            )
        raw = fh.read(4097)
    token = raw.decode("utf-8", "replace").strip()
    if not token or len(raw) > 4096 or any(c.isspace() for c in token):
        raise UsageError(
            f"the token file {where} must hold one token (one line, no spaces, under 4 KiB)"
        )
    return token


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind the socket now, so a busy port is reported before anything starts.

    It listens only once a server process serves it (asyncio's `create_server` calls
    `listen`): until then a client is refused at once instead of waiting in the
    backlog of a server that is still starting (or restarting).
    """
    if not 0 <= port <= 65535:
        raise UsageError(f"bad port {port}: a number from 1 to 65535 (0 picks a free one)")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted sockets only when the
    # protocol says TCP, and without it keep-alive answers wait on delayed ACKs (~40 ms).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno in (98, 48):  # EADDRINUSE on Linux, macOS
            raise UsageError(
                f"port {port} on {host} is already in use: stop what holds it "
                f"(`ctui api status`) or choose another with --port"
            ) from None
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def bind_unix(path: Path) -> socket.socket:
    """Listen on a Unix socket only the owner can open: `ctui.core.private.bind_unix`."""
    return private.bind_unix(path)


def unix_path(url: str) -> str | None:
    """The socket path of a `unix:/path/api.sock` server address, else None."""
    return url[len(UNIX) :] if url.startswith(UNIX) else None


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_private(path: Path, data: dict[str, Any]) -> None:
    """Write a JSON file readable by its owner only (mode 0600 from the first byte)."""
    private.write_json(path, data)


def base_url(target: str) -> str:
    """`HOST:PORT`, `http://HOST:PORT` or a bare host, as a base URL without a trailing slash."""
    text = target.strip().rstrip("/")
    if not text:
        raise UsageError("name the server as HOST:PORT")
    if text.startswith((UNIX, "/")):  # `ctui serve --no-auth`'s socket
        path = text.removeprefix(UNIX)
        if not path.startswith("/"):
            raise UsageError(f"bad socket address {target!r}: use unix:/absolute/path/api.sock")
        return UNIX + path
    if "://" not in text:
        text = "http://" + text
    scheme, _, rest = text.partition("://")
    if scheme not in ("http", "https"):
        raise UsageError(f"bad server address {target!r}: use HOST:PORT or http://HOST:PORT")
    host = rest.split("/", 1)[0]
    if ":" not in host.rsplit("]", 1)[-1]:
        text = f"{scheme}://{host}:{DEFAULT_PORT}" + rest[len(host) :]
    try:
        parts = urlsplit(text)
        valid = bool(parts.hostname) and parts.port is not None
    except ValueError:  # a port that is not a number from 0 to 65535
        valid = False
    if not valid:
        raise UsageError(f"bad server address {target!r}: use HOST:PORT, such as 127.0.0.1:31337")
    return text
