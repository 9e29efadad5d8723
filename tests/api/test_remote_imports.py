"""`ctui task import`, `ctui decisions import` and `ctui plan init` from a connected CLI.

The file is read and checked by the client (a real process in another folder,
with the same messages as a local import) and applied by a real `ctui serve`
in one transaction: a bad file or a failure half-way leaves the server's store
exactly as it was.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import Server, connected, one_line
from tests.conftest import CTUI, Cli, git
from tests.support import dump

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).parent.parent / "fixtures"


@pytest.fixture
def client_dir(tmp_path: Path, served: Server) -> Cli:
    """A plain folder connected to the module's server."""
    (tmp_path / "elsewhere").mkdir()
    return connected(tmp_path / "elsewhere", served)


def server_store(served: Server) -> dict[str, Any]:
    """The server's rows that an import may touch (the loop's own bookkeeping aside)."""
    rows = dump(served.repo / ".ctui" / "ctui.db")
    return {k: rows[k] for k in ("tasks", "task_deps", "decisions", "meta", "events")}


def write_tasks(path: Path, tasks: list[Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"tasks": tasks}))
    return path


def test_task_import_reads_the_file_here_and_the_server_applies_it(
    served: Server, client_dir: Cli
) -> None:
    folder = client_dir.cwd / ".coordination"
    (folder / "results").mkdir(parents=True)
    shutil.copy(FIXTURES / "tasks.json", folder / "tasks.json")
    (folder / "master-plan.md").write_text("# Build a REST API\n\nModels first.\n")
    (folder / "results" / "task-001.md").write_text("User model in src/models/user.ts\n")

    result = client_dir.json("task", "import", ".coordination/tasks.json")
    assert sorted(result["imported"]) == [f"task-00{i}" for i in range(1, 6)]
    assert result["plan"] is True
    with served.client() as http:
        tasks = {t["id"]: t for t in http.get("/api/tasks").json()}
        plan = http.get("/api/plan").json()["plan"]
    first = tasks[result["imported"]["task-001"]]
    assert first["status"] == "done" and first["result"] == "User model in src/models/user.ts\n"
    second = tasks[result["imported"]["task-002"]]
    assert second["status"] == "available" and second["depends_on"] == [first["id"]]
    assert plan["goal"] == "Build a REST API"
    again = client_dir("task", "import", ".coordination/tasks.json")
    assert again.returncode == 0 and "imported 0 task(s), skipped 5" in again.stdout
    assert not (client_dir.cwd / ".ctui" / "ctui.db").exists(), "nothing went to a local store"


BAD_TASK_FILES: list[tuple[str, Any]] = [
    ("cycle", [{"id": "a", "description": "a", "dependencies": ["b"]},
               {"id": "b", "description": "b", "dependencies": ["a"]}]),
    ("unknown dependency", [{"id": "a", "description": "a", "dependencies": ["zzz"]}]),
    ("priority", [{"id": "a", "description": "ok"},
                  {"id": "b", "description": "b", "priority": 42}]),
    ("no description", [{"id": "a", "description": "fine"}, {"id": "b"}]),
    ("shared id", [{"id": "a", "description": "x"}, {"id": "a", "description": "y"}]),
    ("not a list", {"tasks": {"a": 1}}),
    ("files", [{"id": "a", "description": "a", "context": {"files": 5}}]),
]  # fmt: skip


@pytest.mark.parametrize(("case", "tasks"), BAD_TASK_FILES, ids=[c for c, _ in BAD_TASK_FILES])
def test_a_bad_task_file_says_what_a_local_import_says_and_changes_nothing(
    served: Server, client_dir: Cli, tmp_path: Path, case: str, tasks: Any
) -> None:
    path = client_dir.cwd / "tasks.json"
    path.write_text(json.dumps(tasks if isinstance(tasks, dict) else {"tasks": tasks}))
    before = server_store(served)
    remote = client_dir("task", "import", "tasks.json")
    assert remote.returncode == 2, remote.stderr
    local_dir = tmp_path / "local"
    local_dir.mkdir()
    git(local_dir, "init", "-q")  # a repository: outside one, any command asks for `init --here`
    shutil.copy(path, local_dir / "tasks.json")
    local = Cli(local_dir)("task", "import", "tasks.json")
    assert local.returncode == 2
    assert one_line(remote) == one_line(local)
    assert server_store(served) == before


def test_a_missing_or_broken_file_never_reaches_the_server(served: Server, client_dir: Cli) -> None:
    before = server_store(served)
    missing = client_dir("task", "import", "nope.json")
    assert missing.returncode == 2 and "cannot read nope.json" in one_line(missing)
    (client_dir.cwd / "broken.json").write_text("{not json")
    broken = client_dir("decisions", "import", "broken.json")
    assert broken.returncode == 2 and "not a JSON decision log" in one_line(broken)
    assert server_store(served) == before


def test_a_failure_half_way_rolls_the_whole_import_back(served: Server, client_dir: Cli) -> None:
    with served.client() as http:
        gone = http.post("/api/tasks", json={"description": "cancelled before"}).json()["id"]
        http.post(f"/api/tasks/{gone}/cancel", json={}).raise_for_status()
    path = write_tasks(
        client_dir.cwd / "half.json",
        [
            {"id": "h1", "description": "would be queued first"},
            {"id": "h2", "description": "waits on a cancelled task", "dependencies": [gone]},
        ],
    )
    before = server_store(served)
    done = client_dir("task", "import", path.name)
    assert done.returncode == 12 and "cancelled" in one_line(done)
    assert server_store(served) == before, "the first task went back out with the second"


def test_racing_imports_queue_each_task_once(served: Server, client_dir: Cli) -> None:
    """Four clients import one file at once, three times: every task once, never half a file."""
    for round_no in range(3):
        _race(served, client_dir, f"race {round_no} ", clients=4)


def _race(served: Server, client_dir: Cli, prefix: str, *, clients: int) -> None:
    deps = [[], ["r0"], ["r0", "r1"], [], ["r3"], ["r2", "r4"]]
    tasks = [
        {"id": f"r{i}", "description": f"{prefix}task {i}", "dependencies": d}
        for i, d in enumerate(deps)
    ]
    name = f"{prefix.strip().replace(' ', '-')}.json"
    write_tasks(client_dir.cwd / name, tasks)
    seen: set[int] = set()
    stop = threading.Event()

    def watch() -> None:
        with served.client() as http:
            while not stop.is_set():
                found = http.get("/api/tasks").json()
                seen.add(sum(t["description"].startswith(prefix) for t in found))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    procs = [
        subprocess.Popen(
            [CTUI, "task", "import", name, "--json"],
            cwd=client_dir.cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(clients)
    ]
    outs = [p.communicate(timeout=60) for p in procs]
    stop.set()
    watcher.join(30)
    assert all(p.returncode == 0 for p in procs), [err for _, err in outs]
    imported = [json.loads(out)["imported"] for out, _ in outs]
    assert sum(len(i) for i in imported) == len(tasks), imported
    assert seen <= {0, len(tasks)}, f"a half-applied import was visible: {seen}"
    with served.client() as http:
        mine = [t for t in http.get("/api/tasks").json() if t["description"].startswith(prefix)]
    assert len(mine) == len(tasks)


def test_decisions_import_keeps_ids_and_twice_is_harmless(served: Server, client_dir: Cli) -> None:
    shutil.copy(FIXTURES / "decision-log.json", client_dir.cwd / "log.json")
    result = client_dir.json("decisions", "import", "log.json", "--as", "importer")
    assert result["imported"] == [
        "DEC-20260108-0001",
        "DEC-20260108-0002",
        "DEC-20260108-0003",
        "DEC-20260109-0001",
        "DEC-20260109-0002",
    ]
    with served.client() as http:
        jwt = http.get("/api/decisions/DEC-20260108-0001").json()
    assert jwt["author"] == "claude-20260108-124532-a3f7b2d1" and jwt["status"] == "superseded"
    again = client_dir("decisions", "import", "log.json")
    assert again.returncode == 0 and "imported 0 decision(s), skipped 5" in again.stdout
    assert not (client_dir.cwd / ".ctui" / "ctui.db").exists()


BAD_LOGS = [
    '{"decisions": 3}',
    '{"decisions": [{"title": "fine one"}, {"category": "x"}]}',
    '{"decisions": [{"title": "t", "scope": "galaxy"}]}',
    '{"decisions": [{"title": "t", "made_at": "yesterday"}]}',
    '{"decisions": [{"title": "ok"}, 7]}',
    '{"decisions": [{"title": "t", "tags": 5}]}',
]


@pytest.mark.parametrize("content", BAD_LOGS)
def test_a_bad_decision_log_says_what_a_local_import_says_and_changes_nothing(
    served: Server, client_dir: Cli, tmp_path: Path, content: str
) -> None:
    (client_dir.cwd / "log.json").write_text(content)
    before = server_store(served)
    remote = client_dir("decisions", "import", "log.json")
    local_dir = tmp_path / "local"
    local_dir.mkdir()
    git(local_dir, "init", "-q")
    (local_dir / "log.json").write_text(content)
    local = Cli(local_dir)("decisions", "import", "log.json")
    assert remote.returncode == local.returncode == 2
    assert one_line(remote) == one_line(local)
    assert server_store(served) == before


def test_plan_init_sets_the_servers_plan(served: Server, client_dir: Cli) -> None:
    (client_dir.cwd / "plan.md").write_text("1. models\n2. routes\n")
    made = client_dir.json("plan", "init", "Ship the remote API", "--plan-file", "plan.md")
    assert made["goal"] == "Ship the remote API"
    with served.client() as http:
        plan = http.get("/api/plan").json()["plan"]
    assert plan["goal"] == "Ship the remote API" and plan["text"] == "1. models\n2. routes"
    shown = client_dir("plan", "show")
    assert shown.returncode == 0 and "goal      Ship the remote API" in shown.stdout
    assert client_dir.json("leader", "status")["plan"]["goal"] == "Ship the remote API"
    assert client_dir.json("plan", "show", "--local")["plan"] is None, "--local: this folder's"
    on_server = subprocess.run(
        [CTUI, "plan", "show", "--json"], cwd=served.repo, capture_output=True, timeout=60
    )
    counts = json.loads(on_server.stdout)["counts"]
    assert client_dir.json("plan", "show")["counts"] == counts, "the server's counts, zeros too"
    assert set(counts) >= {"pending", "available", "claimed", "done", "failed", "cancelled"}
    before = server_store(served)
    blank = client_dir("plan", "init", "   ")
    assert blank.returncode == 2 and "needs a goal" in one_line(blank)
    assert server_store(served) == before


def test_import_routes_answer_201_200_400_and_422(served: Server) -> None:
    with served.client() as http:
        before = server_store(served)
        assert http.post("/api/tasks/import", json={"tasks": 3}).status_code == 422
        assert http.post("/api/tasks/import", json={"tasks": [], "extra": 1}).status_code == 422
        cyc = [
            {"id": "x", "description": "x", "dependencies": ["y"]},
            {"id": "y", "description": "y", "dependencies": ["x"]},
        ]
        bad = http.post("/api/tasks/import", json={"tasks": cyc})
        assert bad.status_code == 400 and "dependency cycle" in bad.json()["error"]
        assert http.post("/api/decisions/import", json={"decisions": [{}]}).status_code == 400
        assert http.post("/api/decisions/import", json={"decisions": [3]}).status_code == 422
        assert http.put("/api/plan", json={"goal": ""}).status_code == 422
        assert server_store(served) == before
        one = [{"id": "solo", "description": "one imported over HTTP"}]
        made = http.post("/api/tasks/import", json={"tasks": one, "by": "http-client"})
        assert made.status_code == 201 and list(made.json()["imported"]) == ["solo"]
        again = http.post("/api/tasks/import", json={"tasks": one})
        assert again.status_code == 200 and again.json()["skipped"] == ["solo"]
        spec = http.get("/api/openapi.json").json()["paths"]
        assert {"/api/tasks/import", "/api/decisions/import", "/api/plan"} <= set(spec)


def test_a_file_too_big_for_one_request_says_so(served: Server, client_dir: Cli) -> None:
    tasks = [{"id": f"big{i}", "description": "x" * 19_000} for i in range(60)]
    write_tasks(client_dir.cwd / "big.json", tasks)
    before = server_store(served)
    done = client_dir("task", "import", "big.json")
    assert done.returncode == 2 and "too big to send in one request" in one_line(done)
    assert server_store(served) == before
