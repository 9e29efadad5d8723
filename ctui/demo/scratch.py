"""A scratch git repository for `ctui demo`: a few files, one commit, its own store."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

FILES = {
    "README.md": "# shop\n\nA tiny web shop the demo agents work on.\n",
    "src/app.py": "def main() -> None:\n    print('shop')\n",
    "src/auth.py": "def login(user: str) -> bool:\n    return bool(user)\n",
    "src/cart.py": "def total(items: list[float]) -> float:\n    return sum(items)\n",
    "src/db/models.py": "class User:\n    name: str\n",
    "tests/test_cart.py": "from src.cart import total\n\n\ndef test_total() -> None:\n"
    "    assert total([1, 2]) == 3\n",
    "docs/api.md": "# API\n",
    "prompts/fix.md": "Fix {{issue}} in {{file}} and run the tests.\n",
}
GIT_ENV = {
    "GIT_AUTHOR_NAME": "ctui demo",
    "GIT_AUTHOR_EMAIL": "demo@ctui.invalid",
    "GIT_COMMITTER_NAME": "ctui demo",
    "GIT_COMMITTER_EMAIL": "demo@ctui.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def make_repo(root: Path | None = None) -> Path:
    """Create (or fill) a git repository with the demo files and one commit on `main`."""
    root = Path(tempfile.mkdtemp(prefix="ctui-demo-")) if root is None else root
    root.mkdir(parents=True, exist_ok=True)
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    env = {**os.environ, **GIT_ENV}
    if not (root / ".git").exists():
        subprocess.run(
            ["git", "init", "-q", "-b", "main"], cwd=root, check=True, env=env, timeout=30
        )
    subprocess.run(["git", "add", "-A"], cwd=root, check=True, env=env, timeout=30)
    subprocess.run(
        ["git", "commit", "-q", "-m", "demo: initial", "--allow-empty"],
        cwd=root,
        check=True,
        env=env,
        timeout=30,
    )
    return root
