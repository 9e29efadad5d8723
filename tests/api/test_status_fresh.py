"""`/api/status?fresh=1` under concurrent readers: each sees every write it finished before asking.

Fresh builds are shared between readers that wait at the same time, so this
races eight clients that each change something the shared copy would not
notice (a lease renewal logs no event) and then ask for a fresh document.
"""

from __future__ import annotations

import threading

import pytest

from tests.api.conftest import Server

pytestmark = pytest.mark.slow

CLIENTS = 8
ROUNDS = 12


def test_concurrent_fresh_readers_see_their_own_writes(served: Server) -> None:
    failures: list[str] = []
    start = threading.Barrier(CLIENTS)

    def client(n: int) -> None:
        with served.client() as api:
            who = api.post("/api/instances", json={"role": f"reader{n}"}).json()["id"]
            path = f"fresh/r{n}.txt"
            api.post("/api/locks", json={"path": path, "instance": who, "ttl": 60})
            start.wait(timeout=30)
            for ttl in range(100, 100 + ROUNDS):
                renewed = api.post(
                    "/api/locks/renew", json={"path": path, "instance": who, "ttl": ttl}
                )
                assert renewed.status_code == 200, renewed.text
                seen = api.get("/api/status", params={"fresh": True}).json()
                held = {lease["path"]: lease["ttl"] for lease in seen["locks"]}
                if held.get(path) != ttl:
                    failures.append(f"{path}: renewed to {ttl}, fresh status says {held.get(path)}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert failures == []
