"""The SMA cross, slowed down in init so a test can watch a sweep in progress."""
import time

from backtester import Strategy


class SlowCross(Strategy):
    params = {"fast": (10, 1, 500), "slow": (30, 2, 1000), "pause_ms": (150, 0, 10000)}

    def init(self):
        time.sleep(self.p.pause_ms / 1000.0)
        self.fast = self.indicator("sma", self.p.fast)
        self.slow = self.indicator("sma", self.p.slow)

    def on_bar(self, ctx):
        if self.fast.ready and self.slow.ready:
            ctx.signal(1.0 if self.fast.value > self.slow.value else 0.0)
