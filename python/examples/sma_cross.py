"""SMA cross: long when the fast SMA crosses above the slow SMA, flat (or short) below."""
from backtester import Strategy


class SmaCross(Strategy):
    """long when the fast SMA crosses above the slow SMA, flat (or short) below"""

    params = {
        "fast": (10, 1, 100000, "fast SMA window, in bars"),
        "slow": (30, 2, 100000, "slow SMA window, in bars (> fast)"),
        "short": (0, 0, 1, "1 = go short (-1) on a cross down, 0 = go flat"),
    }

    def init(self):
        if not self.p.fast < self.p.slow:
            raise ValueError(f"fast ({self.p.fast}) must be less than slow ({self.p.slow})")
        self.fast = self.indicator("sma", self.p.fast)
        self.slow = self.indicator("sma", self.p.slow)
        self.down = -1.0 if self.p.short else 0.0
        self.prev = None      # fast - slow on the previous bar
        self.target = 0.0     # last target signalled

    def on_bar(self, ctx):
        if not (ctx.has_bar and self.fast.ready and self.slow.ready):
            return
        diff = self.fast.value - self.slow.value
        prev, self.prev = self.prev, diff
        if prev is None:
            return
        if prev <= 0.0 < diff:
            want = 1.0
        elif prev >= 0.0 > diff:
            want = self.down
        else:
            return
        if want != self.target:
            self.target = want
            ctx.signal(want)
