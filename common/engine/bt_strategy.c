/* bt_strategy — the strategy API's calls (bt_strategy.h): each checks what
 * the strategy asked for and hands it to bt_risk (signals, orders) or
 * bt_exec (cancels). A bad request is refused and recorded, never fatal. */
#include "bt_strategy.h"

#include <math.h>

#include "bt_book.h"
#include "bt_exec.h"
#include "bt_risk.h"

void bt_signal(bt_ctx_t *ctx, uint32_t sym, double target)
{
    bt_book_t *bk = ctx->engine;
    if (sym >= bk->nsym || !isfinite(target)) {
        bt_exec_refuse(bk, sym < bk->nsym ? sym : 0, BT_ORD_MARKET, 0.0, 0, 0,
                       "invalid signal: bad symbol or target");
        return;
    }
    bt_risk_signal(bk, sym, target);
}

int64_t bt_order(bt_ctx_t *ctx, const bt_order_req_t *req)
{
    bt_book_t *bk = ctx->engine;
    const char *bad = NULL;
    if (req->sym >= bk->nsym)
        bad = "invalid order: symbol index out of range";
    else if (!isfinite(req->qty) || req->qty == 0.0)
        bad = "invalid order: quantity must be finite and nonzero";
    else if (!bt_exec_type_known((unsigned)req->type) || (unsigned)req->tif > BT_TIF_DAY)
        bad = "invalid order: unknown type or time in force";
    else if (bt_exec_type_uses_limit(req->type) && !(isfinite(req->limit) && req->limit > 0))
        bad = "invalid order: limit price must be > 0";
    else if (bt_exec_type_uses_stop(req->type) && !(isfinite(req->stop) && req->stop > 0))
        bad = "invalid order: stop price must be > 0";
    else if (!(req->stop_loss >= 0 && req->take_profit >= 0 && req->trail_pct >= 0 &&
               req->trail_pct < 1))
        bad = "invalid order: bad stop_loss, take_profit or trail_pct";
    else if (!bk->cfg->fractional && req->qty != trunc(req->qty))
        bad = "invalid order: fractional quantity (fractional is off)";
    if (bad) {
        bt_exec_refuse(bk, req->sym < bk->nsym ? req->sym : 0, (uint8_t)req->type, req->qty, 0, 0,
                       bad);
        return 0;
    }
    if (bk->feed.warm) { /* recorded (with a recorder), not counted: metrics start at trade_start */
        bt_exec_refuse(bk, req->sym, (uint8_t)req->type, req->qty, req->limit, req->stop,
                       "warm-up");
        return 0;
    }
    return bt_risk_place(bk, req, BT_EXEC_KIND_USER);
}

bool bt_cancel(bt_ctx_t *ctx, int64_t order_id)
{
    return bt_exec_cancel(ctx->engine, order_id);
}

bool bt_modify(bt_ctx_t *ctx, int64_t order_id, double limit, double stop, double qty)
{
    bt_book_t *bk = ctx->engine;
    bt_exec_order_t *o = bt_exec_find(bk, order_id);
    if (!o || (o->kind != BT_EXEC_KIND_USER))
        return false;
    if (!isfinite(limit) || !isfinite(stop) || !isfinite(qty) || limit < 0 || stop < 0)
        return false;
    if (qty != 0.0) {
        if ((qty > 0) != (o->qty > 0) || (!bk->cfg->fractional && qty != trunc(qty)))
            return false;
        if (fabs(qty) > fabs(o->qty) && !bt_risk_allows(bk, o->sym, qty - o->qty))
            return false;
    }
    return bt_exec_modify(bk, order_id, limit, stop, qty);
}

int64_t bt_order_trail(bt_ctx_t *ctx, const bt_order_req_t *req, const bt_trail_t *trail)
{
    bt_book_t *bk = ctx->engine;
    uint32_t per = trail ? (trail->atr_period ? trail->atr_period : 14) : 0;
    if (!trail || req->trail_pct != 0.0 || (unsigned)trail->mode > BT_TRAIL_ATR ||
        !(isfinite(trail->value) && trail->value > 0) ||
        (trail->mode == BT_TRAIL_PCT && trail->value >= 1) || per > 1000) {
        bt_exec_refuse(bk, req->sym < bk->nsym ? req->sym : 0, (uint8_t)req->type, req->qty, 0, 0,
                       "invalid order: bad trailing stop");
        return 0;
    }
    bt_order_req_t r = *req;
    if (trail->mode == BT_TRAIL_PCT)
        r.trail_pct = trail->value;
    int64_t id = bt_order(ctx, &r);
    if (id && trail->mode != BT_TRAIL_PCT) {
        bt_exec_order_t *o = bt_exec_find(bk, id);
        if (o) {
            o->trail_mode = (uint8_t)trail->mode;
            o->trail_k = trail->value;
            o->atr_per = (uint16_t)per;
        }
    }
    return id;
}
