"""Strategies that misbehave on purpose, for the failure tests."""
from backtester import Strategy

CALLS = 0  # module global: mutated by Globals below


class Faulty(Strategy):
    """mode 0 trades; 1 raises in on_bar; 2 returns garbage; 3 raises in init; 4 loops forever"""

    params = {"mode": (0, 0, 4, "which fault"), "seed": (0, 0, 1000, "a dummy axis")}

    def init(self):
        if self.p.mode == 3:
            raise RuntimeError("init refuses on purpose")
        self.sma = self.indicator("sma", 5)

    def on_bar(self, ctx):
        if ctx.step == 50:
            if self.p.mode == 1:
                raise ZeroDivisionError("on_bar fails on purpose at step 50")
            if self.p.mode == 2:
                return {"not": "None"}
            if self.p.mode == 4:
                while True:
                    pass
        if self.sma.ready:
            ctx.signal(1.0 if ctx.close > self.sma.value else 0.0)


class Globals(Strategy):
    """each job bumps a module global; with a fresh namespace per job it is always 1"""

    params = {"seed": (0, 0, 1000, "a dummy axis")}

    def init(self):
        global CALLS
        CALLS += 1
        self.window = 5 * CALLS  # would drift if module state leaked between jobs
        self.sma = self.indicator("sma", self.window)

    def on_bar(self, ctx):
        if self.sma.ready:
            ctx.signal(1.0 if ctx.close > self.sma.value else 0.0)
