"""Writes the pair indicators it sees each bar to $BT_PROBE_OUT (test_pairs.py
compares them with backtester.indicator on numpy, the C array form)."""
import os

from backtester import Strategy


class PairProbe(Strategy):
    kind = "portfolio"
    params = {"n": (30, 2, 1000)}

    def init(self):
        self.corr = self.indicator("correlation", self.p.n, sym=0, other=1)
        self.beta = self.indicator("beta", self.p.n, sym=1, other=0, source="open")
        self.man = self.indicator("beta", self.p.n, manual=True)
        self.out = open(os.environ["BT_PROBE_OUT"], "w", encoding="utf-8")

    def on_bar(self, ctx):
        a, b = ctx.bar(0), ctx.bar(1)
        if a is None or b is None:
            return
        self.man.update(a[4], b[4])   # by hand: x = close 0, y = close 1, as `corr` is fed
        vals = [self.corr.value, *self.beta.values, *self.man.values]
        self.out.write(f"{a[0]}," + ",".join(repr(v) for v in vals) + "\n")
        self.out.flush()
