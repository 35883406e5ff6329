/* bt_risk — risk management of a book. See bt_risk.h and docs/engine.md
 * "Risk layer". */
#include "bt_risk.h"

#include <string.h>

#include "bt_exec.h"

/* ------------------------------------------------------------------ */
/* Limits                                                              */

/* Shrinks *qty or refuses it. Returns 1 if shrunk, -1 if refused (reason set), 0 if as is. */
static int s_limits(bt_book_t *bk, uint32_t s, double *qty, const char **reason)
{
    const bt_engine_cfg_t *c = bk->cfg;
    const double *pos = bk->pf.pos, *pend = bk->risk.pend_all, *close = bk->feed.close;
    double q = *qty;
    double cur = pos[s] + pend[s];
    int shrunk = 0;
    if (!c->allow_short && q < 0 && cur + q < 0) {
        if (cur <= 0) {
            *reason = "shorting not allowed";
            return -1;
        }
        q = -cur;
        *reason = "shrunk: shorting not allowed";
        shrunk = 1;
    }
    const bt_account_t *acct = bk->risk.acct;
    if (c->max_positions > 0 && bt_book_is_zero(cur, 1.0)) {
        int held = 0;
        if (acct)
            for (size_t k = 0; k < acct->n; k++)
                held += acct->books[k].pf.pos[0] != 0.0 || acct->books[k].risk.pend_all[0] != 0.0;
        else
            for (size_t j = 0; j < bk->nsym; j++)
                held += pos[j] != 0.0 || pend[j] != 0.0;
        if (held >= c->max_positions) {
            *reason = "max_positions";
            return -1;
        }
    }
    double price = close[s];
    double eq = bk->pf.equity;
    if (acct) { /* limits relative to the account's equity */
        eq = 0.0;
        for (size_t k = 0; k < acct->n; k++)
            eq += acct->books[k].pf.equity;
    }
    if (c->max_position > 0 && price > 0) {
        double proj = cur + q;
        double lim = c->max_position * fmax(eq, 0.0) / price;
        if (fabs(proj) > lim && fabs(proj) > fabs(cur)) {
            double np = bt_book_sign(proj) * bt_book_round_qty(bk, lim);
            double nq = np - cur;
            if (nq == 0.0 || bt_book_sign(nq) != bt_book_sign(q)) {
                *reason = "max_position";
                return -1;
            }
            q = nq;
            *reason = "shrunk: max_position";
            shrunk = 1;
        }
    }
    if (c->max_leverage > 0 && price > 0) {
        double gross = 0.0;
        if (acct)
            for (size_t k = 0; k < acct->n; k++) {
                const bt_book_t *b = &acct->books[k];
                gross += fabs(b->pf.pos[0] + b->risk.pend_all[0]) * b->feed.close[0];
            }
        else
            for (size_t j = 0; j < bk->nsym; j++)
                gross += fabs(pos[j] + pend[j]) * close[j];
        double proj = cur + q;
        double other = gross - fabs(cur) * price;
        double after = other + fabs(proj) * price;
        double lim = c->max_leverage * fmax(eq, 0.0);
        if (after > lim * (1.0 + 1e-12) && after > gross) {
            double room = fmax(lim - other, 0.0) / price;
            double np = bt_book_sign(proj) * bt_book_round_qty(bk, room);
            double nq = np - cur;
            if (nq == 0.0 || bt_book_sign(nq) != bt_book_sign(q)) {
                *reason = "max_leverage";
                return -1;
            }
            q = nq;
            *reason = "shrunk: max_leverage";
            shrunk = 1;
        }
    }
    *qty = q;
    return shrunk;
}

bool bt_risk_allows(bt_book_t *bk, uint32_t s, double dq)
{
    if (bk->risk.killed)
        return false;
    const char *reason = NULL;
    double q = dq;
    return s_limits(bk, s, &q, &reason) == 0;
}

int64_t bt_risk_place(bt_book_t *bk, const bt_order_req_t *req, uint8_t kind)
{
    uint32_t s = req->sym;
    double q = req->qty;
    if (bk->risk.killed) {
        bt_exec_refuse(bk, s, (uint8_t)req->type, q, req->limit, req->stop, "kill switch");
        return 0;
    }
    const char *reason = NULL;
    int r = s_limits(bk, s, &q, &reason);
    if (r < 0) {
        bt_exec_refuse(bk, s, (uint8_t)req->type, req->qty, req->limit, req->stop, reason);
        return 0;
    }
    bt_exec_order_t *o = bt_exec_new(bk, s, kind, (uint8_t)req->type, q);
    if (!o) {
        bt_exec_refuse(bk, s, (uint8_t)req->type, req->qty, req->limit, req->stop,
                       "too many open orders");
        return 0;
    }
    o->limit = bt_exec_type_uses_limit(req->type) ? req->limit : 0.0;
    o->stop = bt_exec_type_uses_stop(req->type) ? req->stop : 0.0;
    o->tif = (uint8_t)req->tif;
    o->sl = req->stop_loss;
    o->tp = req->take_profit;
    o->trail = req->trail_pct;
    bk->risk.pend_all[s] += q;
    if (kind == BT_EXEC_KIND_SIGNAL)
        bk->risk.pend_sig[s] += q;
    if (r > 0)
        bt_book_count_reject(bk);
    o->rec = bt_exec_record(bk, o, req->qty, r > 0 ? reason : NULL, BT_OS_OPEN);
    return o->id;
}

/* ------------------------------------------------------------------ */
/* Signals: sizing, rebalancing                                        */

/* Sizes symbol s's last target from its close and orders the difference. */
static void s_signal_order(bt_book_t *bk, uint32_t s)
{
    const bt_engine_cfg_t *c = bk->cfg;
    double price = bk->feed.close[s];
    double tg = bk->risk.target[s];
    if (!(price > 0)) {
        bt_exec_refuse(bk, s, BT_ORD_MARKET, 0.0, 0, 0, "no price yet");
        return;
    }
    double q;
    switch (c->sizing) {
    case BT_SIZE_PCT_CASH:
        q = tg * c->size_value * (bk->pf.cash + bk->pf.pos[s] * price) / price;
        break;
    case BT_SIZE_FIXED:
        q = tg * c->size_value;
        break;
    case BT_SIZE_TARGET_WEIGHT:
        q = tg * bk->pf.equity / price;
        break;
    case BT_SIZE_PCT_EQUITY:
    default:
        q = tg * c->size_value * bk->pf.equity / price;
        break;
    }
    q = bt_book_round_qty(bk, q);
    double d = q - bk->pf.pos[s] - bk->risk.pend_sig[s];
    if (bt_book_is_zero(d, q))
        return;
    bt_order_req_t req = {.sym = s, .qty = d, .type = BT_ORD_MARKET, .tif = BT_TIF_GTC};
    int64_t id = bt_risk_place(bk, &req, BT_EXEC_KIND_SIGNAL);
    if (id && c->size_at == BT_SIZE_AT_FILL && c->sizing != BT_SIZE_FIXED) {
        bt_exec_order_t *o = &bk->exec.ord[bk->exec.nord - 1];
        if (o->qty == d) { /* a size a limit shrank stays as the limit left it */
            o->resize = 1;
            o->tg = tg;
        }
    }
}

void bt_risk_signal(bt_book_t *bk, uint32_t sym, double target)
{
    bt_risk_state_t *r = &bk->risk;
    if (target < 0 && !bk->cfg->allow_short)
        target = 0.0; /* long-only: a short signal means flat */
    r->sig_step[sym] = bk->feed.step;
    if (r->has_target[sym] && r->target[sym] == target)
        return; /* unchanged target: no new order */
    r->has_target[sym] = 1;
    r->target[sym] = target;
    if (bk->feed.warm)
        return; /* warm-up: the target is placed at the first tradable step */
    if (r->killed) {
        bt_exec_refuse(bk, sym, BT_ORD_MARKET, 0.0, 0, 0, "kill switch");
        return;
    }
    s_signal_order(bk, sym);
}

void bt_risk_rebalance(bt_book_t *bk)
{
    for (uint32_t s = 0; s < bk->nsym; s++)
        if (bk->risk.has_target[s] && bk->risk.sig_step[s] != bk->feed.step)
            s_signal_order(bk, s);
}

void bt_risk_go_live(bt_book_t *bk, bool rebalanced)
{
    const bt_risk_state_t *r = &bk->risk;
    for (uint32_t s = 0; s < bk->nsym; s++)
        if (r->has_target[s] && r->target[s] != 0.0 &&
            !(rebalanced && r->sig_step[s] != bk->feed.step))
            s_signal_order(bk, s);
}

/* ------------------------------------------------------------------ */
/* Engine exits, kill switch                                           */

/* Checked on each bar after the bar the position was opened on. The adverse
 * exit (stop) is assumed first when a stop and the target are both in
 * range. */
void bt_risk_exits(bt_book_t *bk)
{
    const bt_engine_cfg_t *c = bk->cfg;
    bt_portfolio_state_t *pf = &bk->pf;
    for (uint32_t s = 0; s < bk->nsym; s++) {
        double p = pf->pos[s];
        if (p == 0.0 || !bk->feed.has_bar[s])
            continue;
        const bt_bar_t *b = &bk->feed.bar[s];
        if (pf->open_step[s] >= bk->feed.step)
            continue; /* entry bar: exits and the water mark start at the next bar */
        double a = pf->avg[s], px = 0.0;
        const char *why = NULL;
        uint8_t type = BT_ORD_STOP;
        double lvl = 0.0;
        if (p > 0) {
            double st = 0.0;
            const char *sw = NULL;
            if (c->stop_loss > 0) {
                st = a * (1.0 - c->stop_loss);
                sw = "stop_loss";
            }
            if (c->trailing_stop > 0 && pf->hw[s] * (1.0 - c->trailing_stop) > st) {
                st = pf->hw[s] * (1.0 - c->trailing_stop);
                sw = "trailing_stop";
            }
            if (sw && b->low <= st) {
                px = fmin(b->open, st);
                why = sw;
                lvl = st;
            } else if (c->take_profit > 0 && b->high >= a * (1.0 + c->take_profit)) {
                lvl = a * (1.0 + c->take_profit);
                px = fmax(b->open, lvl);
                why = "take_profit";
                type = BT_ORD_LIMIT;
            }
        } else {
            double st = INFINITY;
            const char *sw = NULL;
            if (c->stop_loss > 0) {
                st = a * (1.0 + c->stop_loss);
                sw = "stop_loss";
            }
            if (c->trailing_stop > 0 && pf->hw[s] * (1.0 + c->trailing_stop) < st) {
                st = pf->hw[s] * (1.0 + c->trailing_stop);
                sw = "trailing_stop";
            }
            if (sw && b->high >= st) {
                px = fmax(b->open, st);
                why = sw;
                lvl = st;
            } else if (c->take_profit > 0 && b->low <= a * (1.0 - c->take_profit)) {
                lvl = a * (1.0 - c->take_profit);
                px = fmin(b->open, lvl);
                why = "take_profit";
                type = BT_ORD_LIMIT;
            }
        }
        if (why) {
            bt_exec_order_t o;
            memset(&o, 0, sizeof o);
            o.id = bk->exec.next_id++;
            o.created = bk->feed.prev_time[s];
            o.created_step = bk->feed.step;
            o.sym = s;
            o.type = type;
            o.kind = BT_EXEC_KIND_EXIT;
            o.exit_why = type == BT_ORD_LIMIT ? BT_EXIT_TAKE_PROFIT
                         : why[0] == 's'       ? BT_EXIT_STOP_LOSS /* "stop_loss" */
                                               : BT_EXIT_TRAILING;
            o.qty = -p;
            if (type == BT_ORD_LIMIT)
                o.limit = lvl;
            else
                o.stop = lvl;
            o.rec = bt_exec_record(bk, &o, -p, why, BT_OS_OPEN);
            bt_exec_fill(bk, &o, px, -p);
        }
        if (pf->pos[s] != 0.0)
            pf->hw[s] = pf->pos[s] > 0 ? fmax(pf->hw[s], b->high) : fmin(pf->hw[s], b->low);
    }
}

void bt_risk_kill(bt_book_t *bk)
{
    bk->risk.killed = true;
    bt_exec_cancel_all(bk, "kill switch");
    for (uint32_t s = 0; s < bk->nsym; s++) {
        double p = bk->pf.pos[s];
        if (p == 0.0)
            continue;
        bt_exec_order_t *o = bt_exec_new(bk, s, BT_EXEC_KIND_KILL, BT_ORD_MARKET, -p);
        if (!o)
            break; /* cannot happen: the book was just emptied */
        o->exit_why = BT_EXIT_RISK;
        o->rec = bt_exec_record(bk, o, -p, "kill switch", BT_OS_OPEN);
    }
}
