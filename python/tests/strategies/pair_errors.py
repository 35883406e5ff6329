"""Pair indicators declared wrongly: each mode raises in init with a clear message."""
from backtester import Strategy


class PairErrors(Strategy):
    kind = "portfolio"
    params = {"mode": (0, 0, 4)}

    def init(self):
        m = self.p.mode
        if m == 0:
            self.indicator("beta", 20)                    # no second series
        elif m == 1:
            self.indicator("beta", 20, sym=0, other=0)    # y = x
        elif m == 2:
            self.indicator("sma", 20, other=1)            # one-series kind
        elif m == 3:
            self.indicator("atr", 14, manual=True)        # whole-bar kind
        else:
            self.indicator("sma", 5).update(1.0)          # fed by the engine

    def on_bar(self, ctx):
        pass
