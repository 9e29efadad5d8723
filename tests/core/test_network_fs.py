"""A store on a network filesystem is refused before anything is written.

No NFS mount can be made here, so the test hands the store a mount table (the
format of /proc/mounts) that puts the folder on one; everything else is real.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ctui.core.errors import StoreError
from ctui.core.store import connection as store_mod
from ctui.core.store.connection import Store


@pytest.fixture
def mounts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    table = tmp_path / "mounts"
    share = str(tmp_path / "team share").replace(" ", "\\040")
    table.write_text(
        "/dev/root / ext4 rw,relatime 0 0\n"
        "tmpfs /tmp tmpfs rw 0 0\n"
        f"fileserver:/export/team {share} nfs4 rw,vers=4.2 0 0\n"
        f"fileserver:/export/team/local-ish {share}/scratch ext4 rw 0 0\n"
    )
    monkeypatch.setattr(store_mod, "MOUNTS", table)
    return table


@pytest.mark.parametrize("where", ["team share/repo/.ctui", "team share/.ctui"])
def test_a_store_on_nfs_is_refused_and_nothing_is_created(
    mounts: Path, tmp_path: Path, where: str
) -> None:
    folder = tmp_path / where
    with pytest.raises(StoreError) as refused:
        Store.open(folder)
    message = refused.value.message
    assert "\n" not in message
    assert "network filesystem (nfs4)" in message and "CTUI_DIR" in message
    assert not folder.exists()


def test_a_local_mount_inside_the_share_is_allowed(mounts: Path, tmp_path: Path) -> None:
    """The longest mount point wins: a local disk mounted under the share is fine."""
    store = Store.open(tmp_path / "team share" / "scratch" / ".ctui")
    try:
        assert store.created and store.db_path.exists()
    finally:
        store.close()


def test_without_a_mount_table_the_store_opens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_mod, "MOUNTS", tmp_path / "no-such-table")
    store = Store.open(tmp_path / "repo" / ".ctui")
    try:
        assert store.created
    finally:
        store.close()
