"""Where a hook call is answered: in the hook process, or by `ctui serve` on this host.

On a PostgreSQL store (`CTUI_STORE_URL`, `[store] url = "postgresql://..."`
in `.ctui/config.toml`, or the `.ctui/store.json` a PostgreSQL store leaves)
the hook process must not open the store: its driver alone costs far more
than the whole hook. It sends its payload to the
`ctui serve` of its own host instead, over `.ctui/hooks.sock` (a Unix socket
only its owner can open, `ctui.hooks.serve`), and prints what the server
answers: the very output and exit code the direct call would have given.
`[hooks] via = "serve"` sends the calls of a SQLite store there too, and
`via = "direct"` keeps a PostgreSQL store's in the hook process.

Deciding costs a few `stat`s and reads on the direct path, which is most
hooks: the store folder is found with `os.path` alone (the same answer as
`ctui.core.paths.resolve_store_dir`, which loads `pathlib`), and the config
file is read only when its bytes mention `via` or `postgres`.

A served call never fails open. When the socket is missing or the server does
not answer within the hook's budget, the lease check (PreToolUse) denies and
says to retry, and the other events exit 1 with one line that says to start
`ctui serve`. `[hooks] on_timeout = "fail-open"` makes the lease check exit 1
as well, as it does for a direct call.

The wire format, one call per connection: the request is a 4-byte big-endian
length, a JSON header (`argv`, the caller's `env` among `PASSED_ENV`, its
parent `ppid`) of that length, then the payload's bytes until the client
shuts down its side; the answer is one JSON object `{"code", "out", "err"}`.
A served call loads no store code at all: besides this module and
`ctui.hooks.call`, only `ctui.core.fastjson` (not `json`, which brings `re` and
`enum`) and the `_socket` extension (not `socket`, whose enums cost a
millisecond), so its cost is the interpreter's start and one round trip.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # not imported from typing: see ctui.core.record
if TYPE_CHECKING:
    from typing import Any

    from ctui.hooks.call import Outcome

STORE_NAME = ".ctui"  # ctui.core.paths.STORE_NAME
ENV_DIR = "CTUI_DIR"  # ctui.core.paths.ENV_DIR
ENV_URL = "CTUI_STORE_URL"
CONFIG_NAME = "config.toml"
SOCKET_NAME = "hooks.sock"
MARKER_NAME = "store.json"  # ctui.core.store.target.MARKER
POSTGRES = ("postgresql:", "postgres:")
CONNECT_TIMEOUT_S = 1.0
ANSWER_TIMEOUT_S = 8.0  # inside the client's 10 s hook timeout (ctui.hooks.settings.TIMEOUT_S)
BUDGET_S = {
    "SessionEnd": 1.4,  # Claude Code allows SessionEnd hooks ~1.5 s
    "PermissionRequest": 595.0,  # held for the operator on purpose (its hook timeout is 600 s)
}
MAX_ANSWER = 1 << 20
NOT_RUNNING = "ctui serve is not running on this host"
PASSED_ENV = ("CTUI_INSTANCE_ID", "CTUI_THREAD_ID")
"""The caller's variables the handlers read (`ctui.hooks.session.environ`): a served call
carries them along."""


class NotServed(Exception):
    """No answer from `ctui serve`: the one-line reason."""


def served_store(cwd: str) -> str | None:
    """The store folder when this call goes to `ctui serve`, else None (answer it here).

    Anything unexpected while deciding means "here": the direct path then
    reports it as it always did.
    """
    try:
        store = store_dir(cwd)
        return store if via_serve(store) else None
    except Exception:
        return None


def via_serve(store: str) -> bool:
    """`[hooks] via` when set, else whether the store is PostgreSQL."""
    url = os.environ.get(ENV_URL) or ""
    raw = config_bytes(store)
    if b"via" in raw or (not url and b"postgres" in raw):
        doc = _toml(raw)
        hooks = doc.get("hooks")
        via = hooks.get("via") if isinstance(hooks, dict) else None
        if via in ("serve", "direct"):
            return via == "serve"
        section = doc.get("store")
        found = section.get("url") if isinstance(section, dict) else None
        url = url or (found if isinstance(found, str) else "")
    return url.startswith(POSTGRES) or (not url and _marked(store))


def _marked(store: str) -> bool:
    """`.ctui/store.json` says the store is PostgreSQL (`ctui.core.store.target.MARKER`):
    agents never get `CTUI_STORE_URL`, so their hooks learn it here."""
    try:
        with open(os.path.join(store, MARKER_NAME), "rb") as fh:
            return b'"postgresql"' in fh.read(4096)
    except OSError:
        return False


def config_bytes(store: str) -> bytes:
    try:
        with open(os.path.join(store, CONFIG_NAME), "rb") as fh:
            return fh.read()
    except OSError:
        return b""


def _toml(raw: bytes) -> dict[str, Any]:
    """The parsed config, `{}` when it is not valid TOML (the direct path reports that).

    `tomllib` costs several milliseconds to import, more than the rest of a
    served call: a file whose every line naming one of our keys is a plain
    `key = "text"` under a plain `[section]` is read line by line; anything
    else (dotted keys, inline tables, escapes) goes to `tomllib`.
    """
    doc = _plain(raw)
    if doc is not None:
        return doc
    import tomllib

    try:
        return tomllib.loads(raw.decode())
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}


WORDS = (b"via", b"url", b"on_timeout", b"postgres", b"hooks", b"store")


def _plain(raw: bytes) -> dict[str, Any] | None:
    """Plain `[section]` and `key = "text"` lines into a dict, or None for anything more."""
    doc: dict[str, Any] = {}
    section: dict[str, Any] = doc
    for line in raw.splitlines():
        text = line.strip()
        if not text or text.startswith(b"#"):
            continue
        if text.startswith(b"["):
            name = text.split(b"#", 1)[0].strip()
            if not name.endswith(b"]") or name.startswith(b"[[") or b'"' in name or b"'" in name:
                return None
            section = doc.setdefault(name[1:-1].strip().decode(errors="replace"), {})
            continue
        if not any(word in text for word in WORDS):
            continue
        key, eq, value = text.partition(b"=")
        value = value.strip()
        quote = value[:1]
        if not eq or not key.strip().replace(b"_", b"").isalnum() or quote not in (b'"', b"'"):
            return None
        end = value.find(quote, 1)
        if end < 0:
            return None
        rest = value[end + 1 :].strip()
        if b"\\" in value[:end] or (rest and not rest.startswith(b"#")):
            return None
        try:
            section[key.strip().decode()] = value[1:end].decode()
        except UnicodeDecodeError:
            return None
    return doc


def store_dir(cwd: str) -> str:
    """`ctui.core.paths.resolve_store_dir(None, cwd)` with `os.path` alone.

    `CTUI_DIR`, else `.ctui` in the main worktree of the git repository around
    `cwd`, else the nearest ancestor holding a `.ctui`, else `cwd`'s.
    """
    chosen = os.environ.get(ENV_DIR)
    if chosen:
        return os.path.realpath(os.path.expanduser(chosen))
    here = os.path.realpath(cwd)
    folder = here
    while True:
        main = _main_root(folder)
        if main is not None:
            return os.path.join(main, STORE_NAME)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    folder = here
    while True:
        if os.path.isdir(os.path.join(folder, STORE_NAME)):
            return os.path.join(folder, STORE_NAME)
        parent = os.path.dirname(folder)
        if parent == folder:
            return os.path.join(here, STORE_NAME)
        folder = parent


def _main_root(folder: str) -> str | None:
    """The main worktree's root when `folder` holds a `.git`, else None (`GitLayout.main_root`)."""
    dotgit = os.path.join(folder, ".git")
    if os.path.isdir(dotgit):
        common = _common_dir(dotgit)
    elif os.path.isfile(dotgit):
        gitdir = _read_gitdir_file(dotgit)
        if gitdir is None:
            return None
        common = _common_dir(gitdir)
    else:
        return None
    return os.path.dirname(common) if os.path.basename(common) == ".git" else folder


def _read_gitdir_file(dotgit: str) -> str | None:
    try:
        with open(dotgit) as fh:
            text = fh.read().strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not text.startswith("gitdir:"):
        return None
    target = text[len("gitdir:") :].strip()
    return os.path.realpath(os.path.join(os.path.dirname(dotgit), target))


def _common_dir(gitdir: str) -> str:
    try:
        with open(os.path.join(gitdir, "commondir")) as fh:
            rel = fh.read().strip()
    except (OSError, UnicodeDecodeError):
        return gitdir
    return os.path.realpath(os.path.join(gitdir, rel))


def ask(store: str, raw: bytes, argv: list[str], event: str, lease_check: bool = True) -> Outcome:
    """What `ctui serve` answers for this call; when it cannot, a refusal (never an allow).

    Only the lease check (`lease_check`: a PreToolUse on a file tool) denies; every other
    call, the background PreToolUse of Bash and the like included, exits 1 with one line.
    """
    from ctui.hooks import call

    try:
        return request(os.path.join(store, SOCKET_NAME), raw, argv, BUDGET_S.get(event))
    except NotServed as exc:
        why = f"{NOT_RUNNING} or did not answer ({exc})"
        if event != "PreToolUse" or not lease_check or _fails_open(store):
            return call.fail(f"{why}: start `ctui serve` in the repository")
        from ctui.core import fastjson

        answer = call.retry_deny(
            f"it could not check the file's lease: {why}; the user starts it with `ctui serve`"
        )
        return 0, fastjson.dumps(answer) + "\n", ""


def _fails_open(store: str) -> bool:
    raw = config_bytes(store)
    if b"fail-open" not in raw:
        return False
    hooks = _toml(raw).get("hooks")
    return isinstance(hooks, dict) and hooks.get("on_timeout") == "fail-open"


def request(path: str, raw: bytes, argv: list[str], budget: float | None = None) -> Outcome:
    """Send one call to the server at `path` and read its answer (`NotServed` when none)."""
    import _socket
    import time

    from ctui.core import fastjson

    header = fastjson.dumps(
        {
            "argv": argv,
            "env": {name: os.environ[name] for name in PASSED_ENV if name in os.environ},
            "ppid": os.getppid(),
        }
    ).encode()
    wait = budget or ANSWER_TIMEOUT_S
    end = time.monotonic() + wait
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    chunks: list[bytes] = []
    try:
        sock.settimeout(CONNECT_TIMEOUT_S)
        try:
            sock.connect(path)
        except FileNotFoundError:
            raise NotServed(f"no {SOCKET_NAME} in {os.path.dirname(path)}") from None
        except OSError as exc:
            raise NotServed(f"cannot connect to {path}: {exc.strerror or exc}") from None
        try:
            sock.settimeout(max(0.01, end - time.monotonic()))
            sock.sendall(len(header).to_bytes(4, "big") + header + raw)
            sock.shutdown(_socket.SHUT_WR)
            size = 0
            while True:
                left = end - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                sock.settimeout(left)
                chunk = sock.recv(1 << 16)
                if not chunk:
                    break
                size += len(chunk)
                if size > MAX_ANSWER:
                    raise NotServed("its answer was too long")
                chunks.append(chunk)
        except TimeoutError:
            raise NotServed(f"no answer within {wait:g}s") from None
        except OSError as exc:
            raise NotServed(f"the connection broke: {exc.strerror or exc}") from None
    finally:
        sock.close()
    return _outcome(b"".join(chunks))


def _outcome(data: bytes) -> Outcome:
    from ctui.core import fastjson

    if not data:
        raise NotServed("it closed the connection without answering")
    try:
        answer = fastjson.loads(data)
    except ValueError:
        raise NotServed("its answer was not JSON") from None
    if not isinstance(answer, dict):
        raise NotServed("its answer was not a JSON object")
    code, out, err = answer.get("code"), answer.get("out"), answer.get("err")
    if not (isinstance(code, int) and isinstance(out, str) and isinstance(err, str)):
        raise NotServed("its answer lacked code, out or err")
    return code, out, err
