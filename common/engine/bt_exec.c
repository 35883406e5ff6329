/* bt_exec — the execution handler of a book. See bt_exec.h and
 * docs/engine.md "Fill rules". */
#include "bt_exec.h"

#include <string.h>

#include "bt_feed.h"
#include "bt_portfolio.h"

/* ------------------------------------------------------------------ */
/* Order types                                                         */

static bool s_px_limit_at(bool buy, double lim, const bt_bar_t *b, double *px)
{
    if (buy && b->low <= lim) {
        *px = fmin(b->open, lim);
        return true;
    }
    if (!buy && b->high >= lim) {
        *px = fmax(b->open, lim);
        return true;
    }
    return false;
}

static bool s_px_market(bt_exec_order_t *o, const bt_bar_t *b, double *px)
{
    *px = b->open;
    return true;
}

static bool s_px_limit(bt_exec_order_t *o, const bt_bar_t *b, double *px)
{
    return s_px_limit_at(o->qty > 0, o->limit, b, px);
}

/* A gap through the stop fills at the open. */
static bool s_px_stop(bt_exec_order_t *o, const bt_bar_t *b, double *px)
{
    bool buy = o->qty > 0;
    double st = o->stop;
    if (o->kind == BT_EXEC_KIND_TRAIL) {
        if (o->trail_mode == BT_TRAIL_PCT)
            st = buy ? o->hw * (1.0 + o->trail) : o->hw * (1.0 - o->trail);
        else
            st = buy ? o->hw + o->trail_off : o->hw - o->trail_off;
    }
    if (buy && b->high >= st) {
        *px = fmax(b->open, st);
        return true;
    }
    if (!buy && b->low <= st) {
        *px = fmin(b->open, st);
        return true;
    }
    return false;
}

static bool s_px_stop_limit(bt_exec_order_t *o, const bt_bar_t *b, double *px)
{
    bool buy = o->qty > 0;
    double S = o->stop, L = o->limit;
    if (o->triggered) /* a resting limit */
        return s_px_limit_at(buy, L, b, px);
    if (buy) {
        if (b->high < S)
            return false;
        o->triggered = 1;
        if (b->open >= S) { /* triggered at the open */
            if (b->open <= L) {
                *px = b->open;
                return true;
            }
            if (b->low <= L) { /* fell back to the limit after the open */
                *px = L;
                return true;
            }
            return false;
        }
        if (S <= L) { /* triggered intrabar at S, which is within the limit */
            *px = S;
            return true;
        }
        return false; /* S > L: whether the low came after the trigger is unknown */
    }
    if (b->low > S)
        return false;
    o->triggered = 1;
    if (b->open <= S) {
        if (b->open >= L) {
            *px = b->open;
            return true;
        }
        if (b->high >= L) {
            *px = L;
            return true;
        }
        return false;
    }
    if (S >= L) {
        *px = S;
        return true;
    }
    return false;
}

/* ------------------------------------------------------------------ */
/* Trailing distance                                                   */

/* Wilder ATR of symbol s over bars [0, upto) of its series (TR of bar 0 =
 * high - low; seeded with the mean TR of the first per bars; before that,
 * the mean of the TRs so far). Cached per symbol and advanced lazily, so it
 * costs nothing unless an ATR trail exists; a different period restarts. */
static double s_atr(bt_book_t *bk, uint32_t s, size_t per, size_t upto)
{
    bt_exec_state_t *e = &bk->exec;
    const bt_series_t *sr = &bk->feed.ser[s];
    if (e->atr_per[s] != per || e->atr_n[s] > upto) {
        e->atr_per[s] = per;
        e->atr_n[s] = 0;
        e->atr[s] = 0.0;
    }
    size_t n = e->atr_n[s];
    double a = e->atr[s];
    for (; n < upto && n < sr->n; n++) {
        double tr = sr->high[n] - sr->low[n];
        if (n > 0) {
            double pc = sr->close[n - 1];
            tr = fmax(tr, fmax(fabs(sr->high[n] - pc), fabs(sr->low[n] - pc)));
        }
        if (n < per)
            a += tr; /* seed: a sum until per bars */
        else
            a = (a * (double)(per - 1) + tr) / (double)per;
        if (n + 1 == per)
            a /= (double)per;
    }
    e->atr_n[s] = n;
    e->atr[s] = a;
    if (n == 0)
        return 0.0;
    return n < per ? a / (double)n : a;
}

/* A trailing child's distance for the bar about to be checked: the ATR
 * uses the bars before the current one only. */
static void s_trail_update(bt_book_t *bk, bt_exec_order_t *o)
{
    if (o->trail_mode == BT_TRAIL_ATR)
        o->trail_off = o->trail_k * s_atr(bk, o->sym, o->atr_per, bk->feed.idx[o->sym]);
}

/* The order-type table (bt_exec.h). */
const bt_exec_type_t bt_exec_types[BT_EXEC_NTYPES] = {
    /*                   limit, stop,  same_close, price */
    [BT_ORD_MARKET] = {false, false, true, s_px_market},
    [BT_ORD_LIMIT] = {true, false, false, s_px_limit},
    [BT_ORD_STOP] = {false, true, false, s_px_stop},
    [BT_ORD_STOP_LIMIT] = {true, true, false, s_px_stop_limit},
};

/* ------------------------------------------------------------------ */
/* Orders                                                              */

static inline bool s_is_child(uint8_t kind)
{
    return kind == BT_EXEC_KIND_SL || kind == BT_EXEC_KIND_TP || kind == BT_EXEC_KIND_TRAIL;
}

static inline bool s_is_strategy(uint8_t kind)
{
    return kind == BT_EXEC_KIND_USER || kind == BT_EXEC_KIND_SIGNAL;
}

/* q of a strategy order on symbol s is no longer pending. */
static inline void s_unpend(bt_book_t *bk, const bt_exec_order_t *o, double q)
{
    if (s_is_strategy(o->kind)) {
        bk->risk.pend_all[o->sym] -= q;
        if (o->kind == BT_EXEC_KIND_SIGNAL)
            bk->risk.pend_sig[o->sym] -= q;
    }
}

size_t bt_exec_record(bt_book_t *bk, const bt_exec_order_t *o, double req_qty, const char *reason,
                      bt_order_status_t st)
{
    if (!bk->rec)
        return SIZE_MAX;
    bt_order_rec_t *x = bt_recorder_add_order(bk->rec);
    if (!x) {
        bk->err = BT_ENOMEM;
        return SIZE_MAX;
    }
    x->id = o->id;
    x->sym = bk->sym0 + o->sym;
    x->created = o->created;
    x->done = st == BT_OS_OPEN ? 0 : bk->feed.t;
    x->type = (bt_order_type_t)o->type;
    x->qty = req_qty;
    x->limit = o->limit;
    x->stop = o->stop;
    x->status = st;
    bt_recorder_set_reason(x->reason, reason);
    return bk->rec->norders - 1;
}

void bt_exec_finish(bt_book_t *bk, bt_exec_order_t *o, bt_order_status_t st, const char *reason)
{
    if (o->done)
        return;
    o->done = 1;
    s_unpend(bk, o, o->qty);
    if (st == BT_OS_REJECTED)
        bt_book_count_reject(bk);
    if (bk->rec && o->rec != SIZE_MAX) {
        bt_order_rec_t *x = &bk->rec->orders[o->rec];
        x->status = st;
        x->done = bk->feed.t;
        bt_recorder_set_reason(x->reason, reason);
    }
}

/* Drops finished orders, keeping the others in placement order. */
static void s_compact(bt_book_t *bk)
{
    bt_exec_state_t *e = &bk->exec;
    size_t j = 0;
    for (size_t i = 0; i < e->nord; i++) {
        if (!e->ord[i].done) {
            if (i != j)
                e->ord[j] = e->ord[i];
            j++;
        }
    }
    e->nord = j;
}

void bt_exec_cancel_all(bt_book_t *bk, const char *reason)
{
    for (size_t i = 0; i < bk->exec.nord; i++)
        bt_exec_finish(bk, &bk->exec.ord[i], BT_OS_CANCELLED, reason);
    s_compact(bk);
}

bool bt_exec_cancel(bt_book_t *bk, int64_t order_id)
{
    for (size_t i = 0; i < bk->exec.nord; i++) {
        bt_exec_order_t *o = &bk->exec.ord[i];
        if (o->id == order_id) {
            if (o->done)
                return false;
            bt_exec_finish(bk, o, BT_OS_CANCELLED, "cancelled");
            return true;
        }
    }
    return false;
}

bool bt_exec_modify(bt_book_t *bk, int64_t order_id, double limit, double stop, double qty)
{
    bt_exec_order_t *o = bt_exec_find(bk, order_id);
    if (!o)
        return false;
    if (qty != 0.0) {
        double dq = qty - o->qty;
        s_unpend(bk, o, -dq); /* pending grows (or shrinks) by dq */
        o->qty = qty;
    }
    if (limit > 0 && bt_exec_types[o->type].limit)
        o->limit = limit;
    if (stop > 0 && bt_exec_types[o->type].stop)
        o->stop = stop;
    if (bk->rec && o->rec != SIZE_MAX) {
        bt_order_rec_t *x = &bk->rec->orders[o->rec];
        x->qty = o->filled + o->qty;
        x->limit = o->limit;
        x->stop = o->stop;
        bt_recorder_set_reason(x->reason, "modified");
    }
    return true;
}

bt_exec_order_t *bt_exec_find(bt_book_t *bk, int64_t order_id)
{
    for (size_t i = 0; i < bk->exec.nord; i++) {
        bt_exec_order_t *o = &bk->exec.ord[i];
        if (o->id == order_id)
            return o->done ? NULL : o;
    }
    return NULL;
}

void bt_exec_refuse(bt_book_t *bk, uint32_t sym, uint8_t type, double qty, double limit,
                    double stop, const char *reason)
{
    bt_book_count_reject(bk);
    if (!bk->rec)
        return;
    bt_exec_order_t tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.id = 0;
    tmp.sym = sym;
    tmp.type = type;
    tmp.created = bk->feed.t;
    tmp.limit = limit;
    tmp.stop = stop;
    bt_exec_record(bk, &tmp, qty, reason, BT_OS_REJECTED);
}

/* ------------------------------------------------------------------ */
/* Fills                                                               */

static void s_push_fill(bt_book_t *bk, const bt_exec_order_t *o, int64_t decided, double q,
                        double price, double comm)
{
    bt_exec_state_t *e = &bk->exec;
    if (!bk->on_step || e->nfills >= bk->dims.fcap)
        return;
    bt_step_fill_t *f = &e->fills[e->nfills++];
    f->order_id = o->id;
    f->sym = bk->sym0 + o->sym;
    f->decided = decided;
    f->time = bk->feed.t;
    f->qty = q;
    f->price = price;
    f->commission = comm;
}

/* One child of a bracket, as created when the parent first fills. */
typedef struct s_kid {
    uint8_t kind, type;
    double stop, limit;
} s_kid_t;

/* A bracket parent filled q at price: create its children (first fill) or
 * grow them (later partial fills). Children act from the next bar. */
static void s_on_parent_fill(bt_book_t *bk, bt_exec_order_t *o, double q, double price)
{
    int64_t pid = o->id;
    if (o->kids) {
        for (size_t i = 0; i < bk->exec.nord; i++) {
            bt_exec_order_t *k = &bk->exec.ord[i];
            if (!k->done && k->group == pid) {
                k->qty -= q;
                if (bk->rec && k->rec != SIZE_MAX)
                    bk->rec->orders[k->rec].qty -= q;
            }
        }
        return;
    }
    o->kids = 1;
    double sl = o->sl, tp = o->tp, trail = o->trail, tk = o->trail_k;
    uint8_t tmode = o->trail_mode;
    uint16_t aper = o->atr_per;
    uint32_t sym = o->sym; /* o may move when ord grows: copy what we need */
    double toff = 0.0;     /* amount and ATR trails: distance from the fill price */
    if (tmode == BT_TRAIL_AMOUNT)
        toff = tk;
    else if (tmode == BT_TRAIL_ATR)
        toff = tk * s_atr(bk, sym, aper, bk->feed.idx[sym]);
    s_kid_t kid[3];
    int nk = 0;
    if (sl > 0)
        kid[nk++] = (s_kid_t){BT_EXEC_KIND_SL, BT_ORD_STOP, sl, 0.0};
    if (trail > 0 && tmode == BT_TRAIL_PCT)
        kid[nk++] = (s_kid_t){BT_EXEC_KIND_TRAIL, BT_ORD_STOP,
                              q > 0 ? price * (1.0 - trail) : price * (1.0 + trail), 0.0};
    else if (tk > 0 && tmode != BT_TRAIL_PCT)
        kid[nk++] =
            (s_kid_t){BT_EXEC_KIND_TRAIL, BT_ORD_STOP, q > 0 ? price - toff : price + toff, 0.0};
    if (tp > 0)
        kid[nk++] = (s_kid_t){BT_EXEC_KIND_TP, BT_ORD_LIMIT, 0.0, tp};
    for (int i = 0; i < nk; i++) {
        bt_exec_order_t *k = bt_exec_new(bk, sym, kid[i].kind, kid[i].type, -q);
        if (!k) {
            bt_exec_refuse(bk, sym, kid[i].type, -q, kid[i].limit, kid[i].stop,
                           "too many open orders");
            continue;
        }
        k->group = pid;
        k->stop = kid[i].stop;
        k->limit = kid[i].limit;
        if (kid[i].kind == BT_EXEC_KIND_TRAIL) {
            k->trail = trail;
            k->trail_mode = tmode;
            k->trail_k = tk;
            k->trail_off = toff;
            k->atr_per = aper;
        }
        k->hw = price;
        k->tif = BT_TIF_GTC;
        k->rec = bt_exec_record(bk, k, -q, NULL, BT_OS_OPEN);
    }
}

/* One child of a bracket filled q: the siblings protect what is left. */
static void s_on_child_fill(bt_book_t *bk, const bt_exec_order_t *o, double q)
{
    for (size_t i = 0; i < bk->exec.nord; i++) {
        bt_exec_order_t *k = &bk->exec.ord[i];
        if (k == o || k->done || k->group != o->group)
            continue;
        k->qty -= q;
        if (o->done || bt_book_is_zero(k->qty, q) || bt_book_sign(k->qty) != bt_book_sign(q))
            bt_exec_finish(bk, k, BT_OS_CANCELLED, "one-cancels-other");
    }
}

/* The exit reason a closing fill of o gives its round trip. */
static uint8_t s_exit_why(const bt_exec_order_t *o)
{
    switch (o->kind) {
    case BT_EXEC_KIND_SL:
        return BT_EXIT_STOP_LOSS;
    case BT_EXEC_KIND_TP:
        return BT_EXIT_TAKE_PROFIT;
    case BT_EXEC_KIND_TRAIL:
        return BT_EXIT_TRAILING;
    case BT_EXEC_KIND_KILL:
    case BT_EXEC_KIND_EXIT:
        return o->exit_why;
    default:
        return BT_EXIT_SIGNAL;
    }
}

bool bt_exec_fill(bt_book_t *bk, bt_exec_order_t *o, double px, double q)
{
    const bt_engine_cfg_t *c = bk->cfg;
    const bt_portfolio_state_t *pf = &bk->pf;
    uint32_t s = o->sym;
    double value, comm;
    double price = bt_exec_fill_price(c, px, q, o->comm_min_done, &value, &comm);
    double p = pf->pos[s];
    if (q > 0 && p + q > 0 && !c->allow_margin && q * price + comm > pf->cash) {
        bt_exec_finish(bk, o, BT_OS_REJECTED, "insufficient cash");
        return false;
    }
    if (q < 0 && p + q < 0 && p + q < fmin(p, 0.0) && c->margin_requirement > 0) {
        double cash2 = pf->cash + value - comm;
        double eq2 = cash2, gross_short = 0.0;
        for (size_t j = 0; j < bk->nsym; j++) {
            double pj = j == s ? p + q : pf->pos[j];
            double xj = j == s ? price : bk->feed.close[j];
            eq2 += pj * xj;
            if (pj < 0)
                gross_short -= pj * xj;
        }
        if (eq2 < c->margin_requirement * gross_short) {
            bt_exec_finish(bk, o, BT_OS_REJECTED, "insufficient margin");
            return false;
        }
    }
    bk->exec.fill_why = s_exit_why(o);
    bt_portfolio_apply(bk, s, q, price, comm);
    bk->exec.nfill_total++;
    o->qty -= q;
    o->filled += q;
    o->fill_value += q * price;
    o->commission += comm;
    o->comm_min_done = 1;
    s_unpend(bk, o, q);
    bt_macc_fill(&bk->macc, value, comm);
    bool full = bt_book_is_zero(o->qty, o->filled);
    if (full) {
        s_unpend(bk, o, o->qty); /* drop rounding dust */
        o->qty = 0.0;
        o->done = 1;
    }
    if (bk->rec && o->rec != SIZE_MAX) {
        bt_order_rec_t *x = &bk->rec->orders[o->rec];
        x->filled = o->filled;
        x->avg_price = o->fill_value / o->filled;
        x->commission = o->commission;
        x->status = full ? BT_OS_FILLED : BT_OS_PARTIAL;
        x->done = bk->feed.t;
    }
    int64_t decided = o->kind == BT_EXEC_KIND_EXIT ? bk->feed.prev_time[s] : o->created;
    s_push_fill(bk, o, decided, q, price, comm);
    /* Only a parent attaches: a trailing child carries trail/trail_k for its
     * own updates and must not spawn a reverse stop when it fills. */
    if (!s_is_child(o->kind) && (o->sl > 0 || o->tp > 0 || o->trail > 0 || o->trail_k > 0))
        s_on_parent_fill(bk, o, q, price);
    if (s_is_child(o->kind))
        s_on_child_fill(bk, o, q);
    if (bk->strat->on_fill) {
        bt_fill_t f = {o->id, s, bk->feed.t, q, price, comm};
        bk->ctx.cash = bk->pf.cash;
        bk->strat->on_fill(bk->state, &bk->ctx, &f);
    }
    return true;
}

/* Quantity order o may fill on bar b (volume cap). */
static double s_cap_qty(const bt_book_t *bk, const bt_exec_order_t *o, const bt_bar_t *b)
{
    double q = o->qty;
    if (bk->cfg->volume_cap > 0) {
        double mx = bt_book_round_qty(bk, bk->cfg->volume_cap * b->volume);
        if (fabs(q) > mx)
            q = bt_book_sign(q) * mx;
    }
    return q;
}

/* sizing.at: fill — a signal order's quantity from the fill price px
 * (docs/engine.md "Sizing at the fill"). False if nothing is left to do
 * (o is then finished). */
static bool s_resize(bt_book_t *bk, bt_exec_order_t *o, double px)
{
    const bt_engine_cfg_t *c = bk->cfg;
    const bt_portfolio_state_t *pf = &bk->pf;
    uint32_t s = o->sym;
    o->resize = 0;
    double sg = o->tg < 0 ? -1.0 : 1.0; /* side of the target position */
    double slip = c->slippage_bps * 1e-4;
    double pfill = o->qty > 0 ? px * (1.0 + slip) : px * (1.0 - slip);
    double unit = pfill * (1.0 + sg * c->commission_rate) + c->commission_per_share;
    double eq = pf->cash;
    for (uint32_t j = 0; j < bk->nsym; j++) {
        if (pf->pos[j] == 0.0)
            continue;
        double ref = px; /* this symbol at the fill price, others at their previous close */
        if (j != s)
            ref = bk->feed.has_bar[j] && bk->feed.idx[j] > 0
                      ? bk->feed.ser[j].close[bk->feed.idx[j] - 1]
                      : bk->feed.close[j];
        eq += pf->pos[j] * ref;
    }
    double base = c->sizing == BT_SIZE_PCT_CASH ? c->size_value * (pf->cash + pf->pos[s] * px)
                  : c->sizing == BT_SIZE_TARGET_WEIGHT ? eq
                                                       : c->size_value * eq;
    double tq = unit > 0 ? bt_book_round_qty(bk, o->tg * base / unit) : 0.0;
    double other = bk->risk.pend_sig[s] - o->qty; /* other open signal orders of s */
    double q = tq - pf->pos[s] - other;
    if (q > 0 && pf->pos[s] + q > 0 && !c->allow_margin) { /* within cash, commission included */
        double per = pfill * (1.0 + c->commission_rate) + c->commission_per_share;
        double mx = fmin(pf->cash / per, (pf->cash - c->commission_min) / pfill);
        mx = bt_book_round_qty(bk, fmax(mx, 0.0) * (1.0 - 1e-12));
        if (mx * per > pf->cash || mx * pfill + c->commission_min > pf->cash)
            mx = c->fractional ? 0.0 : fmax(mx - 1.0, 0.0);
        if (q > mx)
            q = mx;
    }
    if (bt_book_is_zero(q, tq) || (q > 0) != (o->qty > 0)) {
        bt_exec_finish(bk, o, BT_OS_CANCELLED, "sized to zero at the fill");
        return false;
    }
    s_unpend(bk, o, o->qty - q);
    o->qty = q;
    if (bk->rec && o->rec != SIZE_MAX)
        bk->rec->orders[o->rec].qty = q;
    return true;
}

/* Attempts order o on its symbol's current bar, at its type's price, or at
 * px_close when at_close. */
static void s_try(bt_book_t *bk, bt_exec_order_t *o, double px_close, bool at_close)
{
    uint32_t s = o->sym;
    const bt_bar_t *b = &bk->feed.bar[s];
    double px;
    if (at_close)
        px = px_close;
    else if (!bt_exec_types[o->type].price(o, b, &px))
        return;
    if (o->resize && !s_resize(bk, o, px))
        return;
    double q = s_cap_qty(bk, o, b);
    if (q == 0.0)
        return;
    double p = bk->pf.pos[s];
    if (s_is_child(o->kind) || o->kind == BT_EXEC_KIND_KILL) { /* exits only reduce */
        if (p == 0.0 || (p > 0) == (q > 0)) {
            bt_exec_finish(bk, o, BT_OS_CANCELLED, "position closed");
            return;
        }
        if (fabs(q) > fabs(p))
            q = -p;
    } else if (!bk->cfg->allow_short && q < 0 && p + q < 0) {
        if (p <= 0) {
            bt_exec_finish(bk, o, BT_OS_REJECTED, "shorting not allowed");
            return;
        }
        q = -p; /* sell what is held; the rest is refused below */
        if (bt_exec_fill(bk, o, px, q) && !o->done)
            bt_exec_finish(bk, o, BT_OS_REJECTED, "shorting not allowed");
        return;
    }
    bt_exec_fill(bk, o, px, q);
}

/* A DAY order ends when a bar of a later day comes on its symbol, before that
 * bar can fill it: no look-ahead, so bt_live (paper) does exactly the same.
 * Recorded as ending with its day's last bar (the symbol's previous bar). */
static void s_day_expire(bt_book_t *bk)
{
    int64_t today = bt_feed_day(bk->feed.t);
    for (size_t i = 0; i < bk->exec.nord; i++) {
        bt_exec_order_t *o = &bk->exec.ord[i];
        if (o->tif != BT_TIF_DAY || o->done || !o->day_set || !bk->feed.has_bar[o->sym] ||
            o->day == today)
            continue;
        bt_exec_finish(bk, o, BT_OS_EXPIRED, "day order expired");
        if (bk->rec && o->rec != SIZE_MAX)
            bk->rec->orders[o->rec].done = bk->feed.prev_time[o->sym];
    }
}

/* Every sell first, then every buy, each side in placement order, so that a
 * rotation's sale pays for its buy in the same step (docs/engine.md "The
 * step"). A side is fixed for an order's life: bracket children only grow
 * or shrink toward zero. */
void bt_exec_fill_phase(bt_book_t *bk)
{
    size_t n = bk->exec.nord;
    s_day_expire(bk);
    for (int pass = 0; pass < 2; pass++) {
        bool sells = pass == 0;
        for (size_t i = 0; i < n; i++) {
            bt_exec_order_t *o = &bk->exec.ord[i];
            if (o->done || !bk->feed.has_bar[o->sym] || o->created_step >= bk->feed.step ||
                (o->qty < 0) != sells)
                continue;
            if (o->kind == BT_EXEC_KIND_TRAIL && o->trail_mode == BT_TRAIL_ATR)
                s_trail_update(bk, o);
            s_try(bk, o, 0.0, false);
            o = &bk->exec.ord[i];
            if (o->done)
                continue;
            if (o->kind == BT_EXEC_KIND_TRAIL) { /* the water mark moves after the bar */
                const bt_bar_t *b = &bk->feed.bar[o->sym];
                o->hw = o->qty < 0 ? fmax(o->hw, b->high) : fmin(o->hw, b->low);
            }
            if (o->tif == BT_TIF_DAY && !o->day_set) { /* valid for its first bar's day */
                o->day = bt_feed_day(bk->feed.t);
                o->day_set = 1;
            }
        }
    }
    s_compact(bk);
}

void bt_exec_same_close(bt_book_t *bk)
{
    size_t n = bk->exec.nord;
    for (int pass = 0; pass < 2; pass++) { /* sells first, as in the fill phase */
        bool sells = pass == 0;
        for (size_t i = 0; i < n; i++) {
            bt_exec_order_t *o = &bk->exec.ord[i];
            if (o->done || !bt_exec_types[o->type].same_close || o->created_step != bk->feed.step ||
                !bk->feed.has_bar[o->sym] || (o->qty < 0) != sells)
                continue;
            s_try(bk, o, bk->feed.bar[o->sym].close, true);
        }
    }
    s_compact(bk);
}

void bt_exec_close_at_end(bt_book_t *bk)
{
    bt_exec_cancel_all(bk, "end of data");
    for (uint32_t s = 0; s < bk->nsym; s++) {
        if (bk->pf.pos[s] == 0.0)
            continue;
        bt_exec_order_t o;
        memset(&o, 0, sizeof o);
        o.id = bk->exec.next_id++;
        o.created = bk->feed.prev_time[s]; /* a rule of the run, not a decision at this bar */
        o.created_step = bk->feed.step;
        o.sym = s;
        o.type = BT_ORD_MARKET;
        o.kind = BT_EXEC_KIND_KILL;
        o.qty = -bk->pf.pos[s];
        o.exit_why = BT_EXIT_END;
        o.rec = bt_exec_record(bk, &o, o.qty, "close_at_end", BT_OS_OPEN);
        bt_exec_fill(bk, &o, bk->feed.close[s], o.qty);
    }
}
