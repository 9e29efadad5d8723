"""How amounts read, the same in the CLI, the TUI and logs: money and durations.

money(0.025)  -> "$0.0250"    under a dollar: four decimals (a cheap run stays visible)
money(12.5)   -> "$12.50"     a dollar or more: cents
duration(7.7) -> "7s"         see `ctui.core.clock.ago`: 4s, 3m12s, 2h05m, 3d
"""

from __future__ import annotations

from ctui.core.clock import ago as duration

__all__ = ["duration", "money"]


def money(usd: float | None) -> str:
    """US dollars: four decimals under $1, else cents; `-` when unknown."""
    if usd is None:
        return "-"
    value = float(usd)
    return f"${value:.4f}" if abs(value) < 1 else f"${value:,.2f}"
