"""The Strategy base class, as documented for strategies run by the C engine.

Inside ``bt`` (``strategy_python:`` in a config) ``from backtester import Strategy``
gives the engine's built-in class, whose ``indicator`` is computed in C. This pure
Python twin only lets a strategy file be imported, read and unit-tested outside the
engine; see docs/python.md.
"""
from __future__ import annotations

from typing import Any, Dict, Optional


class Strategy:
    """Base class: set ``params``, define ``init(self)`` and ``on_bar(self, ctx)``.

    ``params = {"fast": (10, 1, 500, "help"), ...}`` gives name -> (default, min, max[, help]);
    whole-number bounds and default make an int parameter. Values arrive as ``self.p.fast``.
    ``kind = "portfolio"`` sees every symbol in one book (default ``"single"``: one sleeve per
    symbol). In ``init`` declare indicators: ``self.sma = self.indicator("sma", 20)``; in
    ``on_bar`` read ``self.sma.value`` / ``.ready``, (pair kinds: ``self.indicator("beta", 60,
    sym=0, other=1)``), ``ctx.close``, ``ctx.position``,
    ``ctx.cash`` and act with ``ctx.signal(target)``, ``ctx.order(qty, type=..., ...)`` or
    ``ctx.cancel(order_id)``. Optional ``on_fill(self, ctx, fill)``.
    """

    params: Dict[str, Any] = {}
    kind = "single"

    def indicator(self, kind: str, *params: float, source: str = "close", sym: int = 0,
                  other: Optional[int] = None, manual: bool = False):
        """Declares a C indicator (in ``init`` only). Pair kinds (``correlation``, ``beta``)
        read x from symbol ``sym`` and y from symbol ``other`` (a ``kind = "portfolio"``
        strategy), fed on the steps where both have a bar. ``manual=True``: the engine does
        not feed it; the strategy calls ``ind.update(x[, y])`` (returns ``ind.ready``), e.g.
        with log prices or with another indicator's output."""
        raise RuntimeError("indicators are computed by the engine: run this strategy with bt "
                           "(strategy_python: in a config), see docs/python.md")
