"""The control room through a real `ctui serve`: the same panes and keys, over HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ctui.core import Coordinator
from ctui.demo.simulate import seed

from .helpers import SIZE, loaded, notes, until

CTUI = str(Path(sys.executable).parent / "ctui")
TOKEN = "tui-test-token"


@pytest.fixture
def server(repo: Path, tmp_path: Path) -> Iterator[str]:
    """A real server on a free loopback port (`--port 0`) for the seeded `repo`; stopped by pid."""
    c = Coordinator.open(repo)
    seed(c, threads=False)
    c.close()
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(
        [CTUI, "serve", "--port", "0"],
        cwd=repo,
        stdout=log,
        stderr=log,
        start_new_session=True,
        env={**os.environ, "CT_API_TOKEN": TOKEN},
    )
    api = repo / ".ctui" / "api.json"
    deadline = time.monotonic() + 30
    try:
        while not (api.exists() and json.loads(api.read_text() or "{}").get("pid") == proc.pid):
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail("the server did not start: " + (tmp_path / "server.log").read_text())
            time.sleep(0.05)
        url = json.loads(api.read_text())["url"]  # the port the kernel picked
        assert url.startswith("http://127.0.0.1:"), url
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()


async def test_the_control_room_works_through_the_api(server: str, repo: Path) -> None:
    from ctui.api.client import RemoteCoordinator
    from ctui.tui.app import ControlRoom

    remote = RemoteCoordinator(server, TOKEN)
    app = ControlRoom(remote, remote=server)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        assert set(app.pane("leases").records) == {
            "docs/api.md",
            "src/auth.py",
            "src/db/**",
            "tests/test_cart.py",
        }
        assert len(app.pane("decisions").records) == 4 and len(app.pane("tasks").records) == 5
        await pilot.press("5")
        assert app.pane("decisions").row_count == 4
        await pilot.press("4")
        assert app.pane("tasks").row_count == 5
        assert "backend-0001" in app.pane("instances").records
        await until(pilot, lambda: server in str(app.query_one("#top").content))

        await pilot.press("2")
        pane = app.pane("leases")
        pane.move_cursor(row=pane.get_row_index("src/auth.py"))
        await pilot.press("f", *"over the wire", "enter")
        await until(pilot, lambda: "src/auth.py" not in app.pane("leases").records, timeout=10)
        local = Coordinator.open(repo)
        assert local.leases.check("src/auth.py") is None
        assert local.events.recent(5)[-1].data.get("reason") == "over the wire"

        local.leases.acquire("README.md", instance="operator")
        await until(pilot, lambda: "README.md" in app.pane("leases").records, timeout=10)
        local.close()
        assert not [text for sev, text in notes(app) if sev == "error"]
    remote.close()


async def test_send_and_approve_go_through_the_api(server: str, repo: Path) -> None:
    from ctui.api.client import RemoteCoordinator
    from ctui.core.flows import permissions
    from ctui.tui.app import ControlRoom

    local = Coordinator.open(repo)
    local.threads.create("w", prompt="FAKE_SLEEP=0", worktree=False)
    local.threads.start("w")
    local.threads.wait("w", timeout=30)
    asker = local.instances.register(role="asker").id
    local.instances.heartbeat(asker, state="needs_input")
    permissions.ask(local, asker, "Bash", {"command": "make"})
    remote = RemoteCoordinator(server, TOKEN)
    app = ControlRoom(remote, remote=server)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("e")
        agents = app.agents

        def pick(name: str) -> bool:
            keys = [k for k, r in agents.records.items() if r["name"] == name]
            if keys:
                agents.move_cursor(row=agents.get_row_index(keys[0]))
            return bool(keys)

        await until(pilot, lambda: pick("w"))
        await pilot.press(">", *"again FAKE_SLEEP=0", "enter")
        await until(pilot, lambda: local.threads.get("w").run_id == 2, timeout=15)
        local.threads.wait("w", timeout=30)
        await until(pilot, lambda: pick(asker))
        await pilot.pause()
        await pilot.press("y")
        await until(pilot, lambda: permissions.pending(local, asker) is None, timeout=15)
        assert not [text for sev, text in notes(app) if sev == "error"]
    remote.close()
    local.close()
