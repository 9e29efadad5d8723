"""`[merge]` in `.ctui/config.toml`.

```toml
[merge]
strategy = "merge"        # or "rebase": how an entry goes on top of the base
batch = 1                 # test up to N entries together; bisect when red
on_failure = "operator"   # or "resume": send the conflict or failing output back to the agent
lease_ttl = 60            # seconds a runner's lease lives without renewal
```
"""

from __future__ import annotations

from dataclasses import dataclass

from ctui.core.config import Config
from ctui.core.errors import UsageError

STRATEGIES = ("merge", "rebase")
ON_FAILURE = ("operator", "resume")


@dataclass(frozen=True)
class MergeSettings:
    strategy: str = "merge"
    batch: int = 1
    on_failure: str = "operator"
    lease_ttl: float = 60.0
    gate_timeout: float = 900.0

    @classmethod
    def from_config(cls, config: Config) -> MergeSettings:
        raw = config.raw.get("merge", {})
        strategy = raw.get("strategy", cls.strategy)
        if strategy not in STRATEGIES:
            raise UsageError(f"[merge] strategy must be 'merge' or 'rebase' (got {strategy!r})")
        on_failure = raw.get("on_failure", cls.on_failure)
        if on_failure not in ON_FAILURE:
            raise UsageError(
                f"[merge] on_failure must be 'operator' or 'resume' (got {on_failure!r})"
            )
        batch = raw.get("batch", cls.batch)
        if not isinstance(batch, int) or isinstance(batch, bool) or not 1 <= batch <= 64:
            raise UsageError(f"[merge] batch must be a whole number from 1 to 64 (got {batch!r})")
        ttl = raw.get("lease_ttl", cls.lease_ttl)
        if not isinstance(ttl, int | float) or isinstance(ttl, bool) or ttl <= 0:
            raise UsageError(f"[merge] lease_ttl must be a number above 0 (got {ttl!r})")
        timeout = float(config.raw.get("gate", {}).get("timeout", cls.gate_timeout))
        return cls(strategy, batch, on_failure, float(ttl), timeout)
