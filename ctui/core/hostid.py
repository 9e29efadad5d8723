"""This machine's host id: a random id made once and kept in a private file.

Hostnames do not tell machines apart (containers share them), and a pid means
something only on the machine that owns it, so ctui names each machine by an
id of its own: `$XDG_STATE_HOME/ctui/host-id` (else `~/.local/state/ctui/host-id`),
folder 0700, file 0600, created on first use. Two processes creating it at once
agree: each writes a temporary file and links it into place, the first link
wins and everyone reads the winner. `CTUI_HOST_ID` overrides the file (tests
play two hosts on one machine with it; a container with no writable home can
set it). Where no file can be kept (a read-only home), the id is derived from
the machine id and the hostname, and `ctui doctor` says so.
"""

from __future__ import annotations

import os
from pathlib import Path

from ctui.core import private
from ctui.core.errors import UsageError

ENV = "CTUI_HOST_ID"
FILE_NAME = "host-id"
ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
ID_CHARS = ALNUM | frozenset("._:-")  # what an id may hold (no `re` on the hook's path)
HOSTNAME = os.uname().nodename  # socket.gethostname() without importing socket

_cache: dict[tuple[str | None, str | None, str | None], tuple[str, str]] = {}


def state_dir() -> Path:
    """Where ctui keeps per-machine state (not per-repository: that is `.ctui/`)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "ctui"


def local() -> str:
    """This host's id: `CTUI_HOST_ID`, else the id file's (made on first call)."""
    return _found()[0]


def source() -> str:
    """Where `local()` came from: the variable, the file's path, or why neither."""
    return _found()[1]


def _found() -> tuple[str, str]:
    """The id and its source, cached per process for the variables that decide them
    (reapers ask once per instance: a dictionary lookup, not a path built each time)."""
    env = os.environ
    override = env.get(ENV)
    key = (override, env.get("XDG_STATE_HOME"), env.get("HOME"))
    found = _cache.get(key)
    if found is None:
        folder = state_dir()
        if override is not None:
            found = (check(override, ENV), ENV)
        else:
            try:
                found = (_from_file(folder), str(folder / FILE_NAME))
            except (OSError, UsageError) as exc:
                why = exc.strerror if isinstance(exc, OSError) else str(exc)
                found = (_derived(), f"derived (no id file in {folder}: {why})")
        _cache[key] = found
    return found


def _derived() -> str:
    """An id from the machine id and hostname, for a machine where no file can be kept."""
    import hashlib

    machine = b""
    for name in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            with open(name, "rb") as fh:
                machine = fh.read(100).strip()
            break
        except OSError:
            continue
    digest = hashlib.sha1(machine + b"/" + HOSTNAME.encode()).hexdigest()[:16]
    return f"m-{digest}"


def is_local(host_id: str | None, hostname: str | None) -> bool:
    """Whether a row's process runs on this host, so its pid may be looked up here.

    A row written before hosts had ids names only a hostname (or nothing):
    then the hostname decides, as it did when the row was written.
    """
    if host_id is not None:
        return host_id == local()
    return hostname in (None, HOSTNAME)


def check(value: str, where: str) -> str:
    """A valid host id, or a one-line `UsageError` naming where it came from."""
    value = value.strip()
    if not (0 < len(value) <= 64 and value[0] in ALNUM and ID_CHARS.issuperset(value)):
        raise UsageError(
            f"bad host id {value!r} in {where}: use 1-64 letters, digits, '.', '_', ':' or '-'"
        )
    return value


def _from_file(folder: Path) -> str:
    path = folder / FILE_NAME
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    import secrets  # only the first time on this machine

    private.make_dir(folder)
    tmp = folder / f".{FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}"
    private.write_file(tmp, f"h-{secrets.token_hex(8)}\n")
    try:
        os.link(tmp, path)  # fails if another process got there first: theirs wins
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return _read(path)


def _read(path: Path) -> str:
    with private.open_read(path) as fh:
        if os.fstat(fh.fileno()).st_mode & 0o077:
            os.fchmod(fh.fileno(), private.FILE_MODE)
        text = fh.read(200).decode("utf-8", "replace")
    return check(text, str(path))
