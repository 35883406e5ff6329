"""Explicit orders from Python: limit + cancel, market bracket, day stop, trailing by
percent and by ATR, modify of an open limit order, stop-limit; on_fill is called."""
from backtester import Strategy


class Orders(Strategy):
    """places a fixed script of orders (test)"""

    params = {}

    def init(self):
        self.limit_id = 0
        self.fills = []

    def on_bar(self, ctx):
        if ctx.step == 10:
            self.limit_id = ctx.order(100, type="limit", limit=round(ctx.close * 0.5, 2))
            assert self.limit_id > 0
        elif ctx.step == 11:
            if not ctx.cancel(self.limit_id):
                raise AssertionError("cancel of an open limit order returned False")
            if ctx.cancel(self.limit_id):
                raise AssertionError("second cancel returned True")
        elif ctx.step == 12:
            ctx.order(10, stop_loss=round(ctx.close * 0.5, 2), take_profit=round(ctx.close * 3, 2))
        elif ctx.step == 20:
            ctx.order(5, trail_pct=0.25)
        elif ctx.step == 30:
            ctx.order(-3, type="stop", stop=round(ctx.close * 0.1, 2), tif="day")
        elif ctx.step == 40:
            self.mod_id = ctx.order(7, type="limit", limit=round(ctx.close * 0.5, 2))
        elif ctx.step == 41:
            # raise the limit above the market: it fills at the next open, same id
            if not ctx.modify(self.mod_id, limit=round(ctx.close * 2, 2)):
                raise AssertionError("modify of an open limit order returned False")
        elif ctx.step == 50:
            ctx.order(2, trail_atr=3.0, atr_period=10)
            try:
                ctx.order(1, trail_pct=0.1, trail_amount=1.0)
            except ValueError:
                pass
            else:
                raise AssertionError("two trailing modes accepted")
        elif ctx.step == 60:
            if not self.fills:
                raise AssertionError("on_fill was never called")
            self.sl_id = ctx.order(4, type="stop_limit", stop=round(ctx.close * 1.5, 2),
                                   limit=round(ctx.close * 1.6, 2))
            assert self.sl_id > 0
        elif ctx.step == 31:
            try:
                ctx.order(1, type="iceberg")
            except ValueError:
                pass
            else:
                raise AssertionError("unknown order type accepted")

    def on_fill(self, ctx, fill):
        self.fills.append(fill)
        if fill.qty == 0 or fill.price <= 0:
            raise AssertionError(f"odd fill {fill}")
