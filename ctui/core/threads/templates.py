"""Prompt templates: Markdown files with `{{var}}` slots filled from a thread's context.

A template is found, in order, as a file path, in the store's `templates/`
folder (`.ctui/templates/`), or among the built-ins shipped in
`ctui/templates/`; the `.md` suffix may be left off. A slot with no value is
an error naming every missing variable: a prompt with a silent hole in it
sends an agent off in the wrong direction.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from ctui.core.errors import NotFound, UsageError

SLOT = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}")


def render(text: str, context: Mapping[str, Any], *, source: str = "template") -> str:
    """Fill every `{{var}}` from `context`; raise `UsageError` listing the missing ones."""
    missing = sorted({m.group(1) for m in SLOT.finditer(text) if m.group(1) not in context})
    if missing:
        example = json.dumps(dict.fromkeys(missing, "..."))
        raise UsageError(
            f"{source} needs {', '.join(missing)}: pass them with --context '{example}'"
        )

    def fill(match: re.Match[str]) -> str:
        value = context[match.group(1)]
        return value if isinstance(value, str) else _plain(value)

    return SLOT.sub(fill, text)


def _plain(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "\n".join(f"- {v}" for v in value)
    return value if isinstance(value, str) else json.dumps(value)


def builtin_names() -> list[str]:
    """Names of the templates shipped with ctui."""
    folder = resources.files("ctui") / "templates"
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".md"))


def load(
    name: str, *, store_dir: Path, cwd: Path | None = None, root: Path | None = None
) -> tuple[str, str]:
    """Find a template by path or name; returns (where it was found, its text).

    A file must really lie (symlinks resolved) inside the repository at `root`
    (default: the store's parent), outside its store folder, or in the store's
    `templates/`: a name sent over the API never reads `/etc/shadow`, directly or
    through a symlink planted in the repository.
    """
    if not name or "\x00" in name:
        raise UsageError("empty template name")
    candidates = [name] if name.endswith(".md") else [name, f"{name}.md"]
    direct = Path(name).expanduser()
    if not direct.is_absolute():
        direct = (cwd or Path.cwd()) / direct
    if direct.is_file():
        return str(direct), _read(_inside(direct, store_dir, root or store_dir.parent))
    if "/" not in name and ".." not in name:
        for cand in candidates:
            user = store_dir / "templates" / cand
            if user.is_file():
                return str(user), _read(_inside(user, store_dir, root or store_dir.parent))
        for cand in candidates:
            shipped = resources.files("ctui") / "templates" / cand
            if shipped.is_file():
                return f"builtin:{cand}", shipped.read_text(encoding="utf-8")
    raise NotFound(
        f"no template {name!r}: give a file path, put it in {store_dir / 'templates'}, "
        f"or use a built-in ({', '.join(builtin_names())})"
    )


def _inside(path: Path, store_dir: Path, root: Path) -> Path:
    """`path` with its symlinks resolved, if that lies where templates may come from."""
    real = Path(os.path.realpath(path))
    store = Path(os.path.realpath(store_dir))
    allowed = real.is_relative_to(store / "templates") or (
        real.is_relative_to(Path(os.path.realpath(root))) and not real.is_relative_to(store)
    )
    if not allowed:
        raise UsageError(
            f"template {path} leads outside the repository (to {real}): ctui reads templates "
            f"only from the repository or {store_dir / 'templates'}; copy it there"
        )
    return real


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read template {path}: {exc}") from exc
