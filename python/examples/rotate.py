"""Portfolio strategy in Python: each month hold the symbol furthest above its SMA."""
from backtester import Strategy


class Rotate(Strategy):
    """hold the symbol whose close is furthest above its 50-bar SMA"""
    kind = "portfolio"
    params = {"n": (50, 5, 500)}
    def init(self):
        self.smas = [self.indicator("sma", self.p.n, sym=i) for i in range(self.nsym)]
    def on_bar(self, ctx):
        best, score = -1, 0.0
        for i, s in enumerate(self.smas):
            b = ctx.bar(i)
            if b is None or not s.ready:
                continue
            x = b[4] / s.value - 1.0
            if x > score:
                best, score = i, x
        if ctx.calendar & 4:   # new month
            for i in range(ctx.nsym):
                ctx.signal(1.0 if i == best else 0.0, sym=i)  # sizing.mode: target_weight
