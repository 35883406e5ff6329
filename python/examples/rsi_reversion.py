"""RSI mean reversion: buy when Wilder's RSI is below `lower`, exit above `upper`."""
from backtester import Strategy


class RsiReversion(Strategy):
    """buy when Wilder's RSI is below `lower`, exit when it is above `upper`"""

    params = {
        "period": (14, 2, 100000, "RSI period, in bars (Wilder)"),
        "lower": (30.0, 0.0, 100.0, "buy when RSI falls below this level"),
        "upper": (70.0, 0.0, 100.0, "exit when RSI rises above this level"),
    }

    def init(self):
        if not self.p.lower < self.p.upper:
            raise ValueError(f"lower ({self.p.lower}) must be less than upper ({self.p.upper})")
        self.rsi = self.indicator("rsi", self.p.period)
        self.target = 0.0

    def on_bar(self, ctx):
        if not (ctx.has_bar and self.rsi.ready):
            return
        r = self.rsi.value
        want = 1.0 if r < self.p.lower else 0.0 if r > self.p.upper else self.target
        if want != self.target:
            self.target = want
            ctx.signal(want)
