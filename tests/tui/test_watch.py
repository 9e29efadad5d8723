"""The pure rule that turns file changes under `.ctui/` into 'the store changed'."""

from __future__ import annotations

from ctui.core.store.watch import ADDED, DELETED, MODIFIED, StoreChange, classify, relevant

STORE = "/r/.ctui"


def test_a_burst_of_wal_writes_is_one_data_change() -> None:
    change = classify(
        STORE, [(MODIFIED, f"{STORE}/ctui.db-wal")] * 50 + [(MODIFIED, f"{STORE}/ctui.db")]
    )
    assert change == StoreChange(data=True)
    assert change


def test_shm_worktrees_and_other_folders_are_ignored() -> None:
    noise = [
        (MODIFIED, f"{STORE}/ctui.db-shm"),
        (ADDED, f"{STORE}/worktrees/a/src/app.py"),
        (MODIFIED, f"{STORE}/.gitignore"),
        (MODIFIED, "/r/src/ctui.db-wal"),
        (MODIFIED, f"{STORE}/logs/nested/x.log"),
    ]
    assert not classify(STORE, noise)
    assert not any(relevant(STORE, path) for _, path in noise)


def test_deleting_the_database_means_the_store_is_gone() -> None:
    change = classify(STORE, [(DELETED, f"{STORE}/ctui.db"), (DELETED, f"{STORE}/ctui.db-wal")])
    assert change.removed and change.data


def test_logs_and_settings_are_reported_apart() -> None:
    change = classify(
        STORE, [(MODIFIED, f"{STORE}/logs/fix-auth.log"), (ADDED, f"{STORE}/remote.json")]
    )
    assert change.logs == frozenset({"fix-auth"})
    assert change.settings and not change.data


def test_paths_outside_the_store_are_not_relevant() -> None:
    assert not relevant(STORE, "/elsewhere/ctui.db")
    assert relevant(STORE, f"{STORE}/ctui.db-wal")


def test_the_rule_lives_in_the_core_without_ui_imports() -> None:
    import subprocess
    import sys

    code = (
        "import sys, ctui.core.store.watch; "
        "print(sorted(m for m in ('textual', 'rich', 'watchfiles') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"
