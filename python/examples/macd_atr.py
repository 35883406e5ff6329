"""MACD + ATR trailing stop, in Python (the same strategy in C: macd_atr.c)."""
from backtester import Strategy


class MacdAtr(Strategy):
    """buy when MACD crosses above its signal; exit k ATRs below the highest close since entry"""

    params = {
        "fast": (12, 1, 1000, "fast EMA"),
        "slow": (26, 2, 1000, "slow EMA"),
        "signal": (9, 1, 1000, "signal EMA of the MACD line"),
        "atr": (14, 1, 1000, "ATR period (Wilder)"),
        "k": (3.0, 0.1, 20.0, "trailing stop distance in ATRs"),
    }

    def init(self):
        self.macd = self.indicator("macd", self.p.fast, self.p.slow, self.p.signal)
        self.atr = self.indicator("atr", self.p.atr)
        self.prev = float("nan")  # histogram on the previous bar
        self.peak = 0.0           # highest close since entry; 0 = flat

    def on_bar(self, ctx):
        if not ctx.has_bar:
            return
        hist, prev = self.macd["hist"], self.prev
        self.prev = hist
        if self.peak == 0.0:
            if prev <= 0.0 < hist:  # NaN compares false: no entry before both are ready
                self.peak = ctx.close
                ctx.signal(1.0)
        else:
            self.peak = max(self.peak, ctx.close)
            if ctx.close < self.peak - self.p.k * self.atr.value or hist < 0.0:
                self.peak = 0.0
                ctx.signal(0.0)
