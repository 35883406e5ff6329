"""The C pairs_trading strategy in Python (same orders, bit for bit; test_pairs.py).

Two symbols in one book (x = symbol 0, y = symbol 1): the rolling OLS of y on x
(indicator `beta`, a pair kind, computed in C) gives the spread y - alpha - beta x;
its z-score (`zscore`, fed by hand with ind.update) drives dollar-neutral legs.
Run with sizing: target_weight or percent_equity and allow_short: true."""
import math

from backtester import Strategy


class PairsTrading(Strategy):
    """pair of 2 symbols: rolling OLS hedge ratio, z-score of the spread"""
    kind = "portfolio"
    params = {"beta_window": (60, 2, 100000, "bars of the rolling OLS of y on x"),
              "z_window": (20, 2, 100000, "bars of the spread's z-score"),
              "entry_z": (2.0, 0.0, 100.0, "enter when |z| exceeds this"),
              "exit_z": (0.5, 0.0, 100.0, "exit when z is back within this of 0"),
              "stop_z": (4.0, 0.0, 1000.0, "stop out above this |z| (0 = no stop)"),
              "gross": (1.0, 0.0, 10.0, "gross weight of both legs"),
              "log_prices": (0, 0, 1, "1 = regress log prices")}

    def init(self):
        p = self.p
        if self.nsym != 2:
            raise ValueError(f"PairsTrading needs exactly 2 symbols, got {self.nsym}")
        if not p.exit_z < p.entry_z:
            raise ValueError(f"exit_z ({p.exit_z}) must be less than entry_z ({p.entry_z})")
        if p.stop_z > 0 and not p.stop_z > p.entry_z:
            raise ValueError(f"stop_z ({p.stop_z}) must be above entry_z, or 0")
        self.log = p.log_prices >= 0.5
        if self.log:   # log prices: we feed the regression ourselves
            self.beta = self.indicator("beta", p.beta_window, manual=True)
        else:          # the engine feeds x = close of 0, y = close of 1 when both trade
            self.beta = self.indicator("beta", p.beta_window, sym=0, other=1)
        self.z = self.indicator("zscore", p.z_window, manual=True)   # of the spread
        self.leg = p.gross / 2.0
        self.pos = 0        # +1 long spread, -1 short, 0 flat
        self.blocked = False
        self.target = [0.0, 0.0]

    def set_target(self, ctx, sym, w):
        if self.target[sym] != w:
            self.target[sym] = w
            ctx.signal(w, sym=sym)

    def on_bar(self, ctx):
        bx, by = ctx.bar(0), ctx.bar(1)
        if bx is None or by is None:
            return
        if self.log:
            x, y = bx[4], by[4]
            if not (x > 0.0 and y > 0.0):
                return
            if not self.beta.update(math.log(x), math.log(y)):
                return
        elif not self.beta.ready:   # fed this step (both symbols have a bar)
            return
        if not self.z.update(self.beta["resid"]):
            return
        z, beta, p = self.z.value, self.beta.value, self.p
        if self.pos == 0:
            if self.blocked and abs(z) < p.entry_z:
                self.blocked = False
            if not self.blocked and beta > 0.0:
                if z > p.entry_z:
                    self.pos = -1
                elif z < -p.entry_z:
                    self.pos = 1
        elif p.stop_z > 0.0 and abs(z) > p.stop_z:
            self.pos = 0
            self.blocked = True
        elif (self.pos > 0 and z >= -p.exit_z) or (self.pos < 0 and z <= p.exit_z):
            self.pos = 0
        w = 0.0 if self.pos == 0 else self.pos * self.leg
        self.set_target(ctx, 0, 0.0 if w == 0.0 else -w)
        self.set_target(ctx, 1, w)
