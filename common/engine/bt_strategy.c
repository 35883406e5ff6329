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
