"""Which backend a store folder uses: `CTUI_STORE_URL`, `[store] url`, or the marker.

No psycopg and no TOML parsing unless a config file exists: the hook reads this too.
"""

from __future__ import annotations

import os
from pathlib import Path

from ctui.core.store.connection import DB_NAME

URL_ENV = "CTUI_STORE_URL"
SCHEMA_ENV = "CTUI_STORE_SCHEMA"
MARKER = "store.json"


class Target:
    """Where a PostgreSQL store lives: its URL and schema, and what chose them."""

    def __init__(self, url: str, schema: str, source: str) -> None:
        self.url = url
        self.schema = schema
        self.source = source


def target(path: Path) -> Target | None:
    """The PostgreSQL store chosen for the store folder `path`, or None for SQLite.

    The URL comes from `CTUI_STORE_URL`, else `[store] url` in `.ctui/config.toml`,
    else `.ctui/store.json` (written when a PostgreSQL store is opened, without
    the password); the schema from `CTUI_STORE_SCHEMA`, `[store] schema`, the
    marker, else `ctui_<repository folder name>`.
    """
    section = _config_section(path)
    marker = _marker(path)
    url, source = os.environ.get(URL_ENV, "").strip(), URL_ENV
    configured = section.get("url")
    if not url and isinstance(configured, str):
        url, source = configured.strip(), "[store] url"
    if not url and marker.get("backend") == "postgresql":
        url, source = str(marker.get("url") or ""), str(path / MARKER)
    if not url:
        return None
    named = section.get("schema")
    schema = (
        os.environ.get(SCHEMA_ENV, "").strip()
        or (named.strip() if isinstance(named, str) else "")
        or str(marker.get("schema") or "")
        or default_schema(path)
    )
    return Target(url, schema, source)


def default_schema(path: Path) -> str:
    """`ctui_` and the repository folder's name, lower-cased, other characters as `_`."""
    name = "".join(
        ch if ch.isascii() and (ch.isalnum() or ch == "_") else "_"
        for ch in path.resolve().parent.name.lower()
    )
    return f"ctui_{name}"[:63]


def exists(path: Path) -> bool:
    """Whether the folder `path` has a store (a SQLite file or a PostgreSQL marker)."""
    return (path / DB_NAME).exists() or _marker(path).get("backend") == "postgresql"


def _config_section(path: Path) -> dict[str, object]:
    try:
        with open(path / "config.toml", "rb") as fh:
            raw = fh.read()
    except OSError:
        return {}
    if b"store" not in raw:
        return {}  # no [store] section: the TOML parser is not even loaded
    import tomllib

    try:
        section = tomllib.loads(raw.decode("utf-8")).get("store", {})
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}  # Config.load names what is wrong with the file
    return section if isinstance(section, dict) else {}


def _marker(path: Path) -> dict[str, object]:
    """`.ctui/store.json`, parsed only when it names PostgreSQL (the hook's edit path on a
    SQLite store loads no `json`: one failed open is all it costs)."""
    try:
        with open(path / MARKER, "rb") as fh:
            raw = fh.read(65536)
    except OSError:
        return {}
    if b'"postgresql"' not in raw:
        return {}
    import json

    try:
        doc = json.loads(raw)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def redact(url: str) -> str:
    """The URL without its password (what messages and the marker file show)."""
    import re

    return re.sub(r"^([a-z]+://[^:/@]*):[^@]*@", r"\1@", url, flags=re.I)


def has_password(url: str) -> bool:
    return redact(url) != url or "password=" in url.lower()
