/* bt_engine — the event-driven backtest loop. See docs/engine.md.
 *
 * A "book" is one account: a SINGLE sleeve (one symbol, initial_cash / nsym)
 * or the PORTFOLIO book (all symbols). Each step of a book runs
 *   MARKET  the step's bars are loaded into ctx
 *   FILL    resting orders against the new bars; engine risk exits
 *   mark to market, kill switch
 *   SIGNAL  strategy on_bar (signals are sized and risk-checked at once)
 *   rebalance, same-close fills, close_at_end
 *   equity point -> bt_macc_step (and the recorder / step hook)
 * Nothing here allocates per bar: every array is carved from the book's
 * arena at run start. */
#include "bt_engine.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt_alloc.h"
#include "bt_time.h"

#define S_ORDER_BASE 64 /* open-order capacity per book: base + per symbol */
#define S_ORDER_PER_SYM 16

enum { S_KIND_USER = 0, S_KIND_SIGNAL, S_KIND_SL, S_KIND_TRAIL, S_KIND_TP, S_KIND_KILL, S_KIND_EXIT };

/* An open (or just finished) order of a book. */
typedef struct s_order {
    int64_t id;             /* > 0, per book */
    int64_t group;          /* bracket children: the parent's id; else 0 */
    int64_t created;        /* time of the decision bar */
    size_t created_step;    /* book step of the decision */
    size_t rec;             /* index in the recorder, SIZE_MAX if none */
    int64_t day;            /* DAY orders: UTC day number of the first eligible bar */
    double qty;             /* remaining, signed */
    double filled;          /* filled so far, signed */
    double fill_value;      /* sum of qty * price of fills */
    double commission;      /* charged so far */
    double limit, stop;     /* prices, 0 when unused */
    double sl, tp, trail;   /* attached children to create when it fills; 0 = none */
    double hw;              /* trailing child: high-water (sell) or low-water (buy) */
    uint32_t sym;           /* book-local symbol */
    uint8_t type;           /* bt_order_type_t */
    uint8_t tif;            /* bt_tif_t */
    uint8_t kind;           /* S_KIND_* */
    uint8_t triggered;      /* stop-limit: stop has triggered */
    uint8_t done;           /* finished; removed at the next compaction */
    uint8_t comm_min_done;  /* the commission minimum was charged */
    uint8_t day_set;        /* day is valid */
    uint8_t kids;           /* children were created */
} s_order_t;

/* The round trip in progress on one symbol. */
typedef struct s_trade {
    int64_t entry_time;
    double entry_qty, entry_value; /* signed sums over entry fills */
    double exit_qty, exit_value;   /* signed sums over exit fills */
    double realized;               /* price P&L of the closed part */
    double commission;             /* commission attributed to this trade */
    size_t rec;                    /* recorder index, SIZE_MAX if none */
} s_trade_t;

typedef struct s_book {
    /* set per run */
    const bt_engine_cfg_t *cfg;
    const bt_strategy_t *strat;
    size_t nsym;           /* symbols in the book */
    uint32_t sym0;         /* global index of local symbol 0 */
    size_t book_index;     /* sleeve index (0 for PORTFOLIO) */
    double initial;        /* cash at start */
    bt_series_t *ser;      /* nsym sliced views */
    size_t *idx;           /* current bar index per symbol */
    bt_bar_t *bar;         /* nsym current bars */
    uint8_t *has_bar;      /* nsym */
    double *pos;           /* nsym positions */
    double *close;         /* nsym last closes (0 before the first bar) */
    double *avg;           /* nsym average cost */
    double *hw;            /* nsym high-water (long) / low-water (short) for trailing exits */
    double *target;        /* nsym last signal targets */
    uint8_t *has_target;   /* nsym: a signal was seen */
    size_t *sig_step;      /* nsym: step of the last signal call */
    double *pend_sig;      /* nsym: remaining qty of open signal orders */
    double *pend_all;      /* nsym: remaining qty of open user + signal orders */
    size_t *open_step;     /* nsym: step the current position was opened */
    int64_t *prev_time;    /* nsym: time of the symbol's previous bar */
    s_trade_t *trade;      /* nsym */
    s_order_t *ord;        /* open orders, FIFO */
    size_t nord, ord_cap;
    bt_step_fill_t *fills; /* fills of the current step (only with a step hook) */
    size_t nfills, fills_cap;
    double *eq_out;        /* multi-sleeve: equity per bar */
    double *cash_out;      /* multi-sleeve with recorder: cash per bar */
    uint8_t *ex_out;       /* multi-sleeve: exposed per bar */
    bool same_tl;          /* multi-sleeve: same bar times as sleeve 0 */
    void *state;           /* strategy state, 64-byte aligned */
    size_t state_cap;
    void *arena;           /* every per-run array above */
    size_t arena_cap;
    /* running state */
    bt_ctx_t ctx;
    double cash, equity, peak;
    size_t nheld;          /* symbols with a nonzero position */
    size_t step;
    int64_t t;
    int64_t next_id;
    uint64_t nfill_total;  /* fills so far (to see whether a step changed anything) */
    bool killed;
    bool warm;             /* warm-up: before cfg->trade_start (no orders, no equity points) */
    bool has_exits;        /* cfg stop_loss / take_profit / trailing_stop */
    bool stream_steps;     /* feed bt_macc_step (single-book runs) */
    bool last_step;
    unsigned rebal_flag;   /* BT_CAL_* flag that triggers a rebalance */
    int64_t day_end, week_end, month_end, year_end; /* calendar boundaries */
    bt_macc_t macc;
    bt_recorder_t *rec;    /* where orders/trades go (NULL = none) */
    bt_recorder_t local;   /* multi-sleeve: sleeve-local recorder */
    bool rec_equity;       /* write equity records (single-book runs) */
    bt_err_t err;          /* BT_ENOMEM while recording */
    bt_step_fn on_step;
    void *on_step_user;
} s_book_t;

struct bt_engine {
    s_book_t *books;     /* reusable books */
    size_t books_cap;
    size_t *tl_cur;      /* union timeline cursors */
    double *tl_eq, *tl_cash;
    uint8_t *tl_ex;
    size_t tl_cap;
};

/* ------------------------------------------------------------------ */
/* Config                                                              */

void bt_engine_cfg_defaults(bt_engine_cfg_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->initial_cash = 100000.0;
    cfg->fill_at = BT_FILL_NEXT_OPEN;
    cfg->margin_requirement = 0.5;
    cfg->sizing = BT_SIZE_PCT_EQUITY;
    cfg->size_value = 0.95; /* room for a gap between the sizing close and the fill open */
    cfg->start = INT64_MIN;
    cfg->end = INT64_MAX;
    cfg->pbo_blocks = 16;
    cfg->trade_start = INT64_MIN;
}

static bt_err_t s_check_cfg(const bt_engine_cfg_t *c, bt_errbuf_t *eb)
{
#define S_REQ(cond, field, what)                                                                   \
    do {                                                                                           \
        if (!(cond))                                                                               \
            return bt_errf(eb, BT_ECONFIG, "engine setting %s must be %s", field, what);          \
    } while (0)
    S_REQ(isfinite(c->initial_cash) && c->initial_cash > 0, "initial_cash", "a positive number");
    S_REQ(c->fill_at == BT_FILL_NEXT_OPEN || c->fill_at == BT_FILL_SAME_CLOSE, "fill_at",
          "next_open or same_close");
    S_REQ(isfinite(c->slippage_bps) && c->slippage_bps >= 0 && c->slippage_bps < 10000,
          "slippage_bps", "in [0, 10000)");
    S_REQ(isfinite(c->commission_rate) && c->commission_rate >= 0 && c->commission_rate < 1,
          "commission_rate", "in [0, 1)");
    S_REQ(isfinite(c->commission_per_share) && c->commission_per_share >= 0,
          "commission_per_share", ">= 0");
    S_REQ(isfinite(c->commission_min) && c->commission_min >= 0, "commission_min", ">= 0");
    S_REQ(isfinite(c->volume_cap) && c->volume_cap >= 0 && c->volume_cap <= 1, "volume_cap",
          "in [0, 1] (0 = off)");
    S_REQ(isfinite(c->margin_requirement) && c->margin_requirement >= 0, "margin_requirement",
          ">= 0");
    S_REQ((unsigned)c->sizing <= BT_SIZE_TARGET_WEIGHT, "sizing",
          "pct_equity, pct_cash, fixed or target_weight");
    S_REQ(isfinite(c->size_value) && c->size_value >= 0, "size_value", ">= 0");
    S_REQ(isfinite(c->max_position) && c->max_position >= 0, "max_position", ">= 0 (0 = off)");
    S_REQ(isfinite(c->max_leverage) && c->max_leverage >= 0, "max_leverage", ">= 0 (0 = off)");
    S_REQ(c->max_positions >= 0, "max_positions", ">= 0 (0 = off)");
    S_REQ(isfinite(c->stop_loss) && c->stop_loss >= 0 && c->stop_loss < 1, "stop_loss",
          "in [0, 1)");
    S_REQ(isfinite(c->take_profit) && c->take_profit >= 0, "take_profit", ">= 0");
    S_REQ(isfinite(c->trailing_stop) && c->trailing_stop >= 0 && c->trailing_stop < 1,
          "trailing_stop", "in [0, 1)");
    S_REQ(isfinite(c->max_drawdown) && c->max_drawdown >= 0 && c->max_drawdown < 1,
          "max_drawdown", "in [0, 1)");
    S_REQ((unsigned)c->rebalance <= BT_REBAL_MONTHLY, "rebalance",
          "none, daily, weekly or monthly");
    S_REQ(isfinite(c->risk_free_rate) && c->risk_free_rate > -1, "risk_free_rate", "> -1");
    S_REQ(c->start <= c->end, "start", "at or before end");
    S_REQ(c->pbo_blocks == 0 || (c->pbo_blocks >= 2 && c->pbo_blocks <= BT_MACC_MAX_BLOCKS &&
                                 c->pbo_blocks % 2 == 0),
          "pbo_blocks", "0 (off) or an even number in [2, 32]");
#undef S_REQ
    return BT_OK;
}

/* ------------------------------------------------------------------ */
/* Recorder                                                            */

void bt_recorder_init(bt_recorder_t *rec)
{
    memset(rec, 0, sizeof *rec);
}

void bt_recorder_fini(bt_recorder_t *rec)
{
    if (!rec)
        return;
    free(rec->orders);
    free(rec->trades);
    free(rec->equity);
    memset(rec, 0, sizeof *rec);
}

/* Makes room for one more element of size sz in *arr (n used, *cap slots). */
static bool s_grow(void **arr, size_t n, size_t *cap, size_t sz)
{
    if (n < *cap)
        return true;
    size_t ncap = *cap ? *cap * 2 : 64;
    void *p = realloc(*arr, ncap * sz);
    if (!p)
        return false;
    *arr = p;
    *cap = ncap;
    return true;
}

/* Copies a reason into a record's fixed buffer (cut at 63 bytes). */
static void s_set_reason(char dst[64], const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (n > 63)
        n = 63;
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

static size_t s_rec_order(s_book_t *bk, const s_order_t *o, double req_qty, const char *reason,
                          bt_order_status_t st)
{
    bt_recorder_t *r = bk->rec;
    if (!r)
        return SIZE_MAX;
    if (!s_grow((void **)&r->orders, r->norders, &r->orders_cap, sizeof *r->orders)) {
        bk->err = BT_ENOMEM;
        return SIZE_MAX;
    }
    bt_order_rec_t *x = &r->orders[r->norders];
    memset(x, 0, sizeof *x);
    x->id = o->id;
    x->sym = bk->sym0 + o->sym;
    x->created = o->created;
    x->done = st == BT_OS_OPEN ? 0 : bk->t;
    x->type = (bt_order_type_t)o->type;
    x->qty = req_qty;
    x->limit = o->limit;
    x->stop = o->stop;
    x->status = st;
    s_set_reason(x->reason, reason);
    return r->norders++;
}

/* ------------------------------------------------------------------ */
/* Calendar flags without a division on consecutive days               */

static int64_t s_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

static void s_cal_reset(s_book_t *bk, int64_t t)
{
    int64_t d = s_floor_div(t, BT_NS_PER_DAY);
    int64_t wd = ((d % 7) + 7 + 3) % 7; /* 1970-01-01 was a Thursday; 0 = Monday */
    int y, m, dd;
    bt_civil_from_days(d, &y, &m, &dd);
    bk->day_end = (d + 1) * BT_NS_PER_DAY;
    bk->week_end = (d - wd + 7) * BT_NS_PER_DAY;
    bk->month_end = bt_days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1) * BT_NS_PER_DAY;
    bk->year_end = bt_days_from_civil(y + 1, 1, 1) * BT_NS_PER_DAY;
}

static inline unsigned s_cal_step(s_book_t *bk, int64_t t)
{
    if (t < bk->day_end)
        return 0;
    unsigned f = BT_CAL_NEW_DAY;
    if (t >= bk->week_end)
        f |= BT_CAL_NEW_WEEK;
    if (t >= bk->month_end)
        f |= BT_CAL_NEW_MONTH;
    if (t >= bk->year_end)
        f |= BT_CAL_NEW_YEAR;
    if (f == BT_CAL_NEW_DAY && t < bk->day_end + BT_NS_PER_DAY)
        bk->day_end += BT_NS_PER_DAY;
    else
        s_cal_reset(bk, t);
    return f;
}

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

static inline double s_sign(double x)
{
    return (x > 0) - (x < 0);
}

/* Whole units toward zero unless fractional; a value within 1e-9 of a whole
 * number is taken as that number (100 * 0.95 / 0.95 is 100, not 99). */
static double s_round_qty(const s_book_t *bk, double q)
{
    if (bk->cfg->fractional)
        return q;
    double r = nearbyint(q);
    if (fabs(q - r) <= 1e-9 * fmax(1.0, fabs(q)))
        return r;
    return trunc(q);
}

static inline bool s_is_zero(double q, double ref)
{
    return fabs(q) <= 1e-9 * fmax(1.0, fabs(ref));
}

static inline double s_mark(const s_book_t *bk)
{
    if (bk->nheld == 0)
        return bk->cash;
    double e = bk->cash;
    for (size_t s = 0; s < bk->nsym; s++)
        e += bk->pos[s] * bk->close[s];
    return e;
}

static void s_count_reject(s_book_t *bk)
{
    if (!bk->warm) /* metrics count from trade_start */
        bt_macc_reject(&bk->macc);
}

/* Finishes an order (not a fill): cancelled, expired or rejected. */
static void s_finish(s_book_t *bk, s_order_t *o, bt_order_status_t st, const char *reason)
{
    if (o->done)
        return;
    o->done = 1;
    if (o->kind == S_KIND_USER || o->kind == S_KIND_SIGNAL) {
        bk->pend_all[o->sym] -= o->qty;
        if (o->kind == S_KIND_SIGNAL)
            bk->pend_sig[o->sym] -= o->qty;
    }
    if (st == BT_OS_REJECTED)
        s_count_reject(bk);
    if (bk->rec && o->rec != SIZE_MAX) {
        bt_order_rec_t *x = &bk->rec->orders[o->rec];
        x->status = st;
        x->done = bk->t;
        s_set_reason(x->reason, reason);
    }
}

static void s_compact(s_book_t *bk)
{
    size_t j = 0;
    for (size_t i = 0; i < bk->nord; i++) {
        if (!bk->ord[i].done) {
            if (i != j)
                bk->ord[j] = bk->ord[i];
            j++;
        }
    }
    bk->nord = j;
}

static s_order_t *s_new_order(s_book_t *bk, uint32_t sym, uint8_t kind, uint8_t type, double qty)
{
    if (bk->nord >= bk->ord_cap)
        return NULL;
    s_order_t *o = &bk->ord[bk->nord++];
    memset(o, 0, sizeof *o);
    o->id = bk->next_id++;
    o->created = bk->t;
    o->created_step = bk->step;
    o->rec = SIZE_MAX;
    o->qty = qty;
    o->sym = sym;
    o->type = type;
    o->kind = kind;
    return o;
}

/* Records an order that never became open. */
static void s_refuse(s_book_t *bk, uint32_t sym, uint8_t type, double qty, double limit,
                     double stop, const char *reason)
{
    s_count_reject(bk);
    if (!bk->rec)
        return;
    s_order_t tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.id = 0;
    tmp.sym = sym;
    tmp.type = type;
    tmp.created = bk->t;
    tmp.limit = limit;
    tmp.stop = stop;
    s_rec_order(bk, &tmp, qty, reason, BT_OS_REJECTED);
}

/* ------------------------------------------------------------------ */
/* Positions and round trips                                           */

static void s_trade_open(s_book_t *bk, uint32_t s, double q, double price, double comm)
{
    s_trade_t *tr = &bk->trade[s];
    tr->entry_time = bk->t;
    tr->entry_qty = q;
    tr->entry_value = q * price;
    tr->exit_qty = tr->exit_value = tr->realized = 0.0;
    tr->commission = comm;
    tr->rec = SIZE_MAX;
    bk->avg[s] = price;
    bk->hw[s] = price;
    bk->open_step[s] = bk->step;
    bk->nheld++;
    bt_recorder_t *r = bk->rec;
    if (r) {
        if (!s_grow((void **)&r->trades, r->ntrades, &r->trades_cap, sizeof *r->trades)) {
            bk->err = BT_ENOMEM;
            return;
        }
        bt_trade_rec_t *x = &r->trades[r->ntrades];
        memset(x, 0, sizeof *x);
        x->sym = bk->sym0 + s;
        x->entry_time = bk->t;
        x->open = true;
        tr->rec = r->ntrades++;
    }
}

/* Writes the trade's record; close = true when the round trip ended. */
static void s_trade_rec(s_book_t *bk, uint32_t s, bool closed, double pnl)
{
    s_trade_t *tr = &bk->trade[s];
    if (!bk->rec || tr->rec == SIZE_MAX)
        return;
    bt_trade_rec_t *x = &bk->rec->trades[tr->rec];
    x->qty = tr->entry_qty;
    x->entry_price = tr->entry_qty != 0 ? tr->entry_value / tr->entry_qty : 0.0;
    x->commission = tr->commission;
    x->pnl = pnl;
    x->open = !closed;
    if (closed) {
        x->exit_time = bk->t;
        x->exit_price = tr->exit_qty != 0 ? tr->exit_value / tr->exit_qty : 0.0;
    } else {
        x->exit_time = 0;
        x->exit_price = bk->close[s];
    }
}

/* Applies a fill of q (signed) at price with commission to symbol s. */
static void s_position(s_book_t *bk, uint32_t s, double q, double price, double comm)
{
    double p = bk->pos[s];
    if (p == 0.0) {
        bk->pos[s] = q;
        s_trade_open(bk, s, q, price, comm);
        return;
    }
    s_trade_t *tr = &bk->trade[s];
    if ((p > 0) == (q > 0)) { /* adding */
        double np = p + q;
        bk->avg[s] = (bk->avg[s] * p + price * q) / np;
        tr->entry_qty += q;
        tr->entry_value += q * price;
        tr->commission += comm;
        bk->pos[s] = np;
        return;
    }
    /* reducing, closing or reversing */
    double cq = fabs(q) <= fabs(p) ? q : -p; /* closing part, sign of q */
    double frac = cq / q;
    tr->realized += (price - bk->avg[s]) * (-cq);
    tr->exit_qty += cq;
    tr->exit_value += cq * price;
    tr->commission += comm * frac;
    double np = p + q;
    if (s_is_zero(np, p) || fabs(q) > fabs(p)) {
        double pnl = tr->realized - tr->commission;
        bt_macc_trade(&bk->macc, pnl);
        s_trade_rec(bk, s, true, pnl);
        bk->pos[s] = 0.0;
        bk->nheld--;
        if (!s_is_zero(np, p) && fabs(q) > fabs(p)) {
            bk->pos[s] = np;
            s_trade_open(bk, s, np, price, comm * (1.0 - frac));
        }
    } else {
        bk->pos[s] = np;
    }
}

/* ------------------------------------------------------------------ */
/* Fills                                                               */

static void s_push_fill(s_book_t *bk, const s_order_t *o, int64_t decided, double q, double price,
                        double comm)
{
    if (!bk->on_step || bk->nfills >= bk->fills_cap)
        return;
    bt_step_fill_t *f = &bk->fills[bk->nfills++];
    f->order_id = o->id;
    f->sym = bk->sym0 + o->sym;
    f->decided = decided;
    f->time = bk->t;
    f->qty = q;
    f->price = price;
    f->commission = comm;
}

/* One child of a bracket, as created when the parent first fills. */
typedef struct s_kid {
    uint8_t kind, type;
    double stop, limit;
} s_kid_t;

static void s_on_parent_fill(s_book_t *bk, s_order_t *o, double q, double price);
static void s_on_child_fill(s_book_t *bk, const s_order_t *o, double q);

/* Executes q (signed, nonzero) of order o at raw price px (before slippage).
 * Returns false if the fill was rejected (the order is then finished). */
static bool s_execute(s_book_t *bk, s_order_t *o, double px, double q)
{
    const bt_engine_cfg_t *c = bk->cfg;
    uint32_t s = o->sym;
    double slip = c->slippage_bps * 1e-4;
    double price = q > 0 ? px * (1.0 + slip) : px * (1.0 - slip);
    double aq = fabs(q);
    double value = aq * price;
    double comm = c->commission_rate * value + c->commission_per_share * aq;
    if (!o->comm_min_done && comm < c->commission_min)
        comm = c->commission_min;
    double p = bk->pos[s];
    if (q > 0 && p + q > 0 && !c->allow_margin && q * price + comm > bk->cash) {
        s_finish(bk, o, BT_OS_REJECTED, "insufficient cash");
        return false;
    }
    if (q < 0 && p + q < 0 && p + q < fmin(p, 0.0) && c->margin_requirement > 0) {
        double cash2 = bk->cash + value - comm;
        double eq2 = cash2, gross_short = 0.0;
        for (size_t j = 0; j < bk->nsym; j++) {
            double pj = j == s ? p + q : bk->pos[j];
            double xj = j == s ? price : bk->close[j];
            eq2 += pj * xj;
            if (pj < 0)
                gross_short -= pj * xj;
        }
        if (eq2 < c->margin_requirement * gross_short) {
            s_finish(bk, o, BT_OS_REJECTED, "insufficient margin");
            return false;
        }
    }
    bk->cash -= q * price + comm;
    s_position(bk, s, q, price, comm);
    bk->nfill_total++;
    o->qty -= q;
    o->filled += q;
    o->fill_value += q * price;
    o->commission += comm;
    o->comm_min_done = 1;
    if (o->kind == S_KIND_USER || o->kind == S_KIND_SIGNAL) {
        bk->pend_all[s] -= q;
        if (o->kind == S_KIND_SIGNAL)
            bk->pend_sig[s] -= q;
    }
    bt_macc_fill(&bk->macc, value, comm);
    bool full = s_is_zero(o->qty, o->filled);
    if (full) {
        if (o->kind == S_KIND_USER || o->kind == S_KIND_SIGNAL) { /* drop rounding dust */
            bk->pend_all[s] -= o->qty;
            if (o->kind == S_KIND_SIGNAL)
                bk->pend_sig[s] -= o->qty;
        }
        o->qty = 0.0;
        o->done = 1;
    }
    if (bk->rec && o->rec != SIZE_MAX) {
        bt_order_rec_t *x = &bk->rec->orders[o->rec];
        x->filled = o->filled;
        x->avg_price = o->fill_value / o->filled;
        x->commission = o->commission;
        x->status = full ? BT_OS_FILLED : BT_OS_PARTIAL;
        x->done = bk->t;
    }
    int64_t decided = o->kind == S_KIND_EXIT ? bk->prev_time[s] : o->created;
    s_push_fill(bk, o, decided, q, price, comm);
    if (o->sl > 0 || o->tp > 0 || o->trail > 0)
        s_on_parent_fill(bk, o, q, price);
    if (o->kind == S_KIND_SL || o->kind == S_KIND_TP || o->kind == S_KIND_TRAIL)
        s_on_child_fill(bk, o, q);
    if (bk->strat->on_fill) {
        bt_fill_t f = {o->id, s, bk->t, q, price, comm};
        bk->ctx.cash = bk->cash;
        bk->strat->on_fill(bk->state, &bk->ctx, &f);
    }
    return true;
}

/* A bracket parent filled q at price: create its children (first fill) or
 * grow them (later partial fills). Children act from the next bar. */
static void s_on_parent_fill(s_book_t *bk, s_order_t *o, double q, double price)
{
    int64_t pid = o->id;
    if (o->kids) {
        for (size_t i = 0; i < bk->nord; i++) {
            s_order_t *k = &bk->ord[i];
            if (!k->done && k->group == pid) {
                k->qty -= q;
                if (bk->rec && k->rec != SIZE_MAX)
                    bk->rec->orders[k->rec].qty -= q;
            }
        }
        return;
    }
    o->kids = 1;
    double sl = o->sl, tp = o->tp, trail = o->trail;
    uint32_t sym = o->sym; /* o may move when ord grows: copy what we need */
    s_kid_t kid[3];
    int nk = 0;
    if (sl > 0)
        kid[nk++] = (s_kid_t){S_KIND_SL, BT_ORD_STOP, sl, 0.0};
    if (trail > 0)
        kid[nk++] = (s_kid_t){S_KIND_TRAIL, BT_ORD_STOP,
                              q > 0 ? price * (1.0 - trail) : price * (1.0 + trail), 0.0};
    if (tp > 0)
        kid[nk++] = (s_kid_t){S_KIND_TP, BT_ORD_LIMIT, 0.0, tp};
    for (int i = 0; i < nk; i++) {
        s_order_t *k = s_new_order(bk, sym, kid[i].kind, kid[i].type, -q);
        if (!k) {
            s_refuse(bk, sym, kid[i].type, -q, kid[i].limit, kid[i].stop, "too many open orders");
            continue;
        }
        k->group = pid;
        k->stop = kid[i].stop;
        k->limit = kid[i].limit;
        k->trail = kid[i].kind == S_KIND_TRAIL ? trail : 0.0;
        k->hw = price;
        k->tif = BT_TIF_GTC;
        k->rec = s_rec_order(bk, k, -q, NULL, BT_OS_OPEN);
    }
}

/* One child of a bracket filled q: the siblings protect what is left. */
static void s_on_child_fill(s_book_t *bk, const s_order_t *o, double q)
{
    for (size_t i = 0; i < bk->nord; i++) {
        s_order_t *k = &bk->ord[i];
        if (k == o || k->done || k->group != o->group)
            continue;
        k->qty -= q;
        if (o->done || s_is_zero(k->qty, q) || s_sign(k->qty) != s_sign(q))
            s_finish(bk, k, BT_OS_CANCELLED, "one-cancels-other");
    }
}

/* Quantity order o may fill on this bar of symbol s (volume cap). */
static double s_cap_qty(const s_book_t *bk, const s_order_t *o, const bt_bar_t *b)
{
    double q = o->qty;
    if (bk->cfg->volume_cap > 0) {
        double mx = s_round_qty(bk, bk->cfg->volume_cap * b->volume);
        if (fabs(q) > mx)
            q = s_sign(q) * mx;
    }
    return q;
}

/* Trigger / fill price of o on bar b; false if it does not fill. */
static bool s_price(s_order_t *o, const bt_bar_t *b, double *px)
{
    bool buy = o->qty > 0;
    switch ((bt_order_type_t)o->type) {
    case BT_ORD_MARKET:
        *px = b->open;
        return true;
    case BT_ORD_LIMIT:
        if (buy && b->low <= o->limit) {
            *px = fmin(b->open, o->limit);
            return true;
        }
        if (!buy && b->high >= o->limit) {
            *px = fmax(b->open, o->limit);
            return true;
        }
        return false;
    case BT_ORD_STOP: {
        double st = o->stop;
        if (o->kind == S_KIND_TRAIL)
            st = buy ? o->hw * (1.0 + o->trail) : o->hw * (1.0 - o->trail);
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
    case BT_ORD_STOP_LIMIT: {
        double S = o->stop, L = o->limit;
        if (o->triggered) { /* a resting limit */
            if (buy && b->low <= L) {
                *px = fmin(b->open, L);
                return true;
            }
            if (!buy && b->high >= L) {
                *px = fmax(b->open, L);
                return true;
            }
            return false;
        }
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
    }
    return false;
}

/* Attempts order o on its symbol's current bar. */
static void s_try(s_book_t *bk, s_order_t *o, double px_override, bool at_close)
{
    uint32_t s = o->sym;
    const bt_bar_t *b = &bk->bar[s];
    double px;
    if (at_close)
        px = px_override;
    else if (!s_price(o, b, &px))
        return;
    double q = s_cap_qty(bk, o, b);
    if (q == 0.0)
        return;
    double p = bk->pos[s];
    bool child = o->kind == S_KIND_SL || o->kind == S_KIND_TP || o->kind == S_KIND_TRAIL ||
                 o->kind == S_KIND_KILL;
    if (child) { /* exits only reduce the position */
        if (p == 0.0 || (p > 0) == (q > 0)) {
            s_finish(bk, o, BT_OS_CANCELLED, "position closed");
            return;
        }
        if (fabs(q) > fabs(p))
            q = -p;
    } else if (!bk->cfg->allow_short && q < 0 && p + q < 0) {
        if (p <= 0) {
            s_finish(bk, o, BT_OS_REJECTED, "shorting not allowed");
            return;
        }
        q = -p; /* sell what is held; the rest is refused below */
        if (s_execute(bk, o, px, q) && !o->done)
            s_finish(bk, o, BT_OS_REJECTED, "shorting not allowed");
        return;
    }
    s_execute(bk, o, px, q);
}

static void s_day_expiry(s_book_t *bk, s_order_t *o)
{
    uint32_t s = o->sym;
    if (!o->day_set) {
        o->day = s_floor_div(bk->t, BT_NS_PER_DAY);
        o->day_set = 1;
    }
    size_t nx = bk->idx[s] + 1;
    if (nx >= bk->ser[s].n)
        return; /* no later bar: stays open (reported open) */
    if (s_floor_div(bk->ser[s].time[nx], BT_NS_PER_DAY) != o->day)
        s_finish(bk, o, BT_OS_EXPIRED, "day order expired");
}

/* Fills resting orders: every sell first, then every buy, each side in
 * placement order, so that a rotation's sale pays for its buy in the same
 * step (docs/engine.md "The step"). A side is fixed for an order's life:
 * bracket children only grow or shrink toward zero. */
static void s_fill_phase(s_book_t *bk)
{
    size_t n = bk->nord;
    for (int pass = 0; pass < 2; pass++) {
        bool sells = pass == 0;
        for (size_t i = 0; i < n; i++) {
            s_order_t *o = &bk->ord[i];
            if (o->done || !bk->has_bar[o->sym] || o->created_step >= bk->step ||
                (o->qty < 0) != sells)
                continue;
            s_try(bk, o, 0.0, false);
            o = &bk->ord[i];
            if (o->done)
                continue;
            if (o->kind == S_KIND_TRAIL) { /* the water mark moves after the bar */
                const bt_bar_t *b = &bk->bar[o->sym];
                o->hw = o->qty < 0 ? fmax(o->hw, b->high) : fmin(o->hw, b->low);
            }
            if (o->tif == BT_TIF_DAY)
                s_day_expiry(bk, o);
        }
    }
    s_compact(bk);
}

/* Engine exits from cfg stop_loss / take_profit / trailing_stop, checked on
 * each bar after the bar the position was opened on. The adverse exit
 * (stop) is assumed first when a stop and the target are both in range. */
static void s_risk_exits(s_book_t *bk)
{
    const bt_engine_cfg_t *c = bk->cfg;
    for (uint32_t s = 0; s < bk->nsym; s++) {
        double p = bk->pos[s];
        if (p == 0.0 || !bk->has_bar[s])
            continue;
        const bt_bar_t *b = &bk->bar[s];
        if (bk->open_step[s] >= bk->step)
            continue; /* entry bar: exits and the water mark start at the next bar */
        double a = bk->avg[s], px = 0.0;
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
            if (c->trailing_stop > 0 && bk->hw[s] * (1.0 - c->trailing_stop) > st) {
                st = bk->hw[s] * (1.0 - c->trailing_stop);
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
            if (c->trailing_stop > 0 && bk->hw[s] * (1.0 + c->trailing_stop) < st) {
                st = bk->hw[s] * (1.0 + c->trailing_stop);
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
            s_order_t o;
            memset(&o, 0, sizeof o);
            o.id = bk->next_id++;
            o.created = bk->prev_time[s];
            o.created_step = bk->step;
            o.sym = s;
            o.type = type;
            o.kind = S_KIND_EXIT;
            o.qty = -p;
            if (type == BT_ORD_LIMIT)
                o.limit = lvl;
            else
                o.stop = lvl;
            o.rec = s_rec_order(bk, &o, -p, why, BT_OS_OPEN);
            s_execute(bk, &o, px, -p);
        }
        if (bk->pos[s] != 0.0)
            bk->hw[s] = bk->pos[s] > 0 ? fmax(bk->hw[s], b->high) : fmin(bk->hw[s], b->low);
    }
}

/* ------------------------------------------------------------------ */
/* Orders from the strategy: risk layer                                */

/* Shrinks *qty or refuses it. Returns 1 if shrunk, -1 if refused (reason set), 0 if as is. */
static int s_risk(s_book_t *bk, uint32_t s, double *qty, const char **reason)
{
    const bt_engine_cfg_t *c = bk->cfg;
    double q = *qty;
    double cur = bk->pos[s] + bk->pend_all[s];
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
    if (c->max_positions > 0 && s_is_zero(cur, 1.0)) {
        int held = 0;
        for (size_t j = 0; j < bk->nsym; j++)
            held += bk->pos[j] != 0.0 || bk->pend_all[j] != 0.0;
        if (held >= c->max_positions) {
            *reason = "max_positions";
            return -1;
        }
    }
    double price = bk->close[s];
    double eq = bk->equity;
    if (c->max_position > 0 && price > 0) {
        double proj = cur + q;
        double lim = c->max_position * fmax(eq, 0.0) / price;
        if (fabs(proj) > lim && fabs(proj) > fabs(cur)) {
            double np = s_sign(proj) * s_round_qty(bk, lim);
            double nq = np - cur;
            if (nq == 0.0 || s_sign(nq) != s_sign(q)) {
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
        for (size_t j = 0; j < bk->nsym; j++)
            gross += fabs(bk->pos[j] + bk->pend_all[j]) * bk->close[j];
        double proj = cur + q;
        double other = gross - fabs(cur) * price;
        double after = other + fabs(proj) * price;
        double lim = c->max_leverage * fmax(eq, 0.0);
        if (after > lim * (1.0 + 1e-12) && after > gross) {
            double room = fmax(lim - other, 0.0) / price;
            double np = s_sign(proj) * s_round_qty(bk, room);
            double nq = np - cur;
            if (nq == 0.0 || s_sign(nq) != s_sign(q)) {
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

/* Places an order of kind USER or SIGNAL through the risk layer. */
static int64_t s_place(s_book_t *bk, const bt_order_req_t *req, uint8_t kind)
{
    uint32_t s = req->sym;
    double q = req->qty;
    if (bk->killed) {
        s_refuse(bk, s, (uint8_t)req->type, q, req->limit, req->stop, "kill switch");
        return 0;
    }
    const char *reason = NULL;
    int r = s_risk(bk, s, &q, &reason);
    if (r < 0) {
        s_refuse(bk, s, (uint8_t)req->type, req->qty, req->limit, req->stop, reason);
        return 0;
    }
    s_order_t *o = s_new_order(bk, s, kind, (uint8_t)req->type, q);
    if (!o) {
        s_refuse(bk, s, (uint8_t)req->type, req->qty, req->limit, req->stop,
                 "too many open orders");
        return 0;
    }
    o->limit = req->type == BT_ORD_LIMIT || req->type == BT_ORD_STOP_LIMIT ? req->limit : 0.0;
    o->stop = req->type == BT_ORD_STOP || req->type == BT_ORD_STOP_LIMIT ? req->stop : 0.0;
    o->tif = (uint8_t)req->tif;
    o->sl = req->stop_loss;
    o->tp = req->take_profit;
    o->trail = req->trail_pct;
    bk->pend_all[s] += q;
    if (kind == S_KIND_SIGNAL)
        bk->pend_sig[s] += q;
    if (r > 0)
        s_count_reject(bk);
    o->rec = s_rec_order(bk, o, req->qty, r > 0 ? reason : NULL, BT_OS_OPEN);
    return o->id;
}

int64_t bt_order(bt_ctx_t *ctx, const bt_order_req_t *req)
{
    s_book_t *bk = ctx->engine;
    const char *bad = NULL;
    if (req->sym >= bk->nsym)
        bad = "invalid order: symbol index out of range";
    else if (!isfinite(req->qty) || req->qty == 0.0)
        bad = "invalid order: quantity must be finite and nonzero";
    else if ((unsigned)req->type > BT_ORD_STOP_LIMIT || (unsigned)req->tif > BT_TIF_DAY)
        bad = "invalid order: unknown type or time in force";
    else if ((req->type == BT_ORD_LIMIT || req->type == BT_ORD_STOP_LIMIT) &&
             !(isfinite(req->limit) && req->limit > 0))
        bad = "invalid order: limit price must be > 0";
    else if ((req->type == BT_ORD_STOP || req->type == BT_ORD_STOP_LIMIT) &&
             !(isfinite(req->stop) && req->stop > 0))
        bad = "invalid order: stop price must be > 0";
    else if (!(req->stop_loss >= 0 && req->take_profit >= 0 && req->trail_pct >= 0 &&
               req->trail_pct < 1))
        bad = "invalid order: bad stop_loss, take_profit or trail_pct";
    else if (!bk->cfg->fractional && req->qty != trunc(req->qty))
        bad = "invalid order: fractional quantity (fractional is off)";
    if (bad) {
        s_refuse(bk, req->sym < bk->nsym ? req->sym : 0, (uint8_t)req->type, req->qty, 0, 0, bad);
        return 0;
    }
    if (bk->warm) { /* recorded (with a recorder), not counted: metrics start at trade_start */
        s_refuse(bk, req->sym, (uint8_t)req->type, req->qty, req->limit, req->stop, "warm-up");
        return 0;
    }
    return s_place(bk, req, S_KIND_USER);
}

bool bt_cancel(bt_ctx_t *ctx, int64_t order_id)
{
    s_book_t *bk = ctx->engine;
    for (size_t i = 0; i < bk->nord; i++) {
        s_order_t *o = &bk->ord[i];
        if (o->id == order_id) {
            if (o->done)
                return false;
            s_finish(bk, o, BT_OS_CANCELLED, "cancelled");
            return true;
        }
    }
    return false;
}

/* Sizes symbol s's last target and orders the difference. */
static void s_signal_order(s_book_t *bk, uint32_t s)
{
    const bt_engine_cfg_t *c = bk->cfg;
    double price = bk->close[s];
    double tg = bk->target[s];
    if (!(price > 0)) {
        s_refuse(bk, s, BT_ORD_MARKET, 0.0, 0, 0, "no price yet");
        return;
    }
    double q;
    switch (c->sizing) {
    case BT_SIZE_PCT_CASH:
        q = tg * c->size_value * (bk->cash + bk->pos[s] * price) / price;
        break;
    case BT_SIZE_FIXED:
        q = tg * c->size_value;
        break;
    case BT_SIZE_TARGET_WEIGHT:
        q = tg * bk->equity / price;
        break;
    case BT_SIZE_PCT_EQUITY:
    default:
        q = tg * c->size_value * bk->equity / price;
        break;
    }
    q = s_round_qty(bk, q);
    double d = q - bk->pos[s] - bk->pend_sig[s];
    if (s_is_zero(d, q))
        return;
    bt_order_req_t req = {.sym = s, .qty = d, .type = BT_ORD_MARKET, .tif = BT_TIF_GTC};
    s_place(bk, &req, S_KIND_SIGNAL);
}

void bt_signal(bt_ctx_t *ctx, uint32_t sym, double target)
{
    s_book_t *bk = ctx->engine;
    if (sym >= bk->nsym || !isfinite(target)) {
        s_refuse(bk, sym < bk->nsym ? sym : 0, BT_ORD_MARKET, 0.0, 0, 0,
                 "invalid signal: bad symbol or target");
        return;
    }
    if (target < 0 && !bk->cfg->allow_short)
        target = 0.0; /* long-only: a short signal means flat */
    bk->sig_step[sym] = bk->step;
    if (bk->has_target[sym] && bk->target[sym] == target)
        return; /* unchanged target: no new order */
    bk->has_target[sym] = 1;
    bk->target[sym] = target;
    if (bk->warm)
        return; /* warm-up: the target is placed at the first tradable step */
    if (bk->killed) {
        s_refuse(bk, sym, BT_ORD_MARKET, 0.0, 0, 0, "kill switch");
        return;
    }
    s_signal_order(bk, sym);
}

static void s_rebalance(s_book_t *bk)
{
    for (uint32_t s = 0; s < bk->nsym; s++)
        if (bk->has_target[s] && bk->sig_step[s] != bk->step)
            s_signal_order(bk, s);
}

/* Kill switch: cancel everything, close every position with market orders. */
static void s_kill(s_book_t *bk)
{
    bk->killed = true;
    for (size_t i = 0; i < bk->nord; i++)
        s_finish(bk, &bk->ord[i], BT_OS_CANCELLED, "kill switch");
    s_compact(bk);
    for (uint32_t s = 0; s < bk->nsym; s++) {
        if (bk->pos[s] == 0.0)
            continue;
        s_order_t *o = s_new_order(bk, s, S_KIND_KILL, BT_ORD_MARKET, -bk->pos[s]);
        if (!o)
            break; /* cannot happen: the book was just emptied */
        o->rec = s_rec_order(bk, o, -bk->pos[s], "kill switch", BT_OS_OPEN);
    }
}

/* SAME_CLOSE: market orders decided at this step fill at this close. */
static void s_same_close(s_book_t *bk)
{
    size_t n = bk->nord;
    for (int pass = 0; pass < 2; pass++) { /* sells first, as in s_fill_phase */
        bool sells = pass == 0;
        for (size_t i = 0; i < n; i++) {
            s_order_t *o = &bk->ord[i];
            if (o->done || o->type != BT_ORD_MARKET || o->created_step != bk->step ||
                !bk->has_bar[o->sym] || (o->qty < 0) != sells)
                continue;
            s_try(bk, o, bk->bar[o->sym].close, true);
        }
    }
    s_compact(bk);
}

/* close_at_end: every open position is closed at its last close. */
static void s_close_at_end(s_book_t *bk)
{
    for (size_t i = 0; i < bk->nord; i++)
        s_finish(bk, &bk->ord[i], BT_OS_CANCELLED, "end of data");
    s_compact(bk);
    for (uint32_t s = 0; s < bk->nsym; s++) {
        if (bk->pos[s] == 0.0)
            continue;
        s_order_t o;
        memset(&o, 0, sizeof o);
        o.id = bk->next_id++;
        o.created = bk->prev_time[s]; /* a rule of the run, not a decision at this bar */
        o.created_step = bk->step;
        o.sym = s;
        o.type = BT_ORD_MARKET;
        o.kind = S_KIND_KILL;
        o.qty = -bk->pos[s];
        o.rec = s_rec_order(bk, &o, o.qty, "close_at_end", BT_OS_OPEN);
        s_execute(bk, &o, bk->close[s], o.qty);
    }
}

/* ------------------------------------------------------------------ */
/* The step                                                            */

/* One step of a book; the caller has set bar/has_bar/close/idx for time t. */
static inline void s_step(s_book_t *bk, int64_t t)
{
    const bt_engine_cfg_t *c = bk->cfg;
    bk->t = t;
    bk->ctx.time = t;
    bk->ctx.step = bk->step;
    if (bk->step == 0) {
        s_cal_reset(bk, t);
        bk->ctx.calendar = 0;
    } else {
        bk->ctx.calendar = s_cal_step(bk, t);
    }
    bk->nfills = 0;
    if (bk->nord)
        s_fill_phase(bk);
    if (bk->has_exits && bk->nheld)
        s_risk_exits(bk);
    double eq = s_mark(bk);
    bk->equity = eq;
    if (c->max_drawdown > 0 && !bk->killed) {
        if (eq > bk->peak)
            bk->peak = eq;
        if (eq < bk->peak * (1.0 - c->max_drawdown))
            s_kill(bk);
    }
    bool go_live = false;
    if (bk->warm && t >= c->trade_start) {
        bk->warm = false;
        go_live = true;
    }
    uint64_t nf = bk->nfill_total;
    if (!bk->killed) {
        bk->ctx.cash = bk->cash;
        bk->ctx.equity = eq;
        bk->strat->on_bar(bk->state, &bk->ctx);
        if (bk->warm) { /* warm-up: targets recorded, nothing traded or measured */
            bk->step++;
            return;
        }
        bool rebal = (bk->ctx.calendar & bk->rebal_flag) != 0;
        if (rebal)
            s_rebalance(bk);
        if (go_live) /* first tradable step: order the targets set during warm-up */
            for (uint32_t s = 0; s < bk->nsym; s++)
                if (bk->has_target[s] && bk->target[s] != 0.0 &&
                    !(rebal && bk->sig_step[s] != bk->step))
                    s_signal_order(bk, s);
    }
    if (c->fill_at == BT_FILL_SAME_CLOSE && bk->nord)
        s_same_close(bk);
    if (bk->last_step && c->close_at_end)
        s_close_at_end(bk);
    if (bk->nfill_total != nf)
        eq = bk->equity = s_mark(bk);
    if (eq > bk->peak)
        bk->peak = eq;
    if (bk->stream_steps)
        bt_macc_step(&bk->macc, t, eq, bk->nheld != 0);
    if (bk->rec_equity) {
        bt_recorder_t *r = bk->rec;
        if (s_grow((void **)&r->equity, r->nequity, &r->equity_cap, sizeof *r->equity)) {
            bt_equity_rec_t *x = &r->equity[r->nequity++];
            x->time = t;
            x->cash = bk->cash;
            x->positions_value = eq - bk->cash;
            x->equity = eq;
            x->drawdown = bk->peak > 0 ? 1.0 - eq / bk->peak : 0.0;
        } else {
            bk->err = BT_ENOMEM;
        }
    }
    if (bk->on_step) {
        bt_step_info_t info = {bk->book_index, bk->step, t, bk->nsym, bk->sym0, bk->pos,
                               bk->close, bk->cash, eq, bk->fills, bk->nfills};
        bk->on_step(bk->on_step_user, &info);
    }
    bk->step++;
}

/* ------------------------------------------------------------------ */
/* Book set-up                                                         */

#define S_ALIGN_UP(x) (((x) + 63) & ~(size_t)63)

/* Carves the book's arrays from its arena; false on allocation failure. */
static bool s_book_alloc(s_book_t *bk, size_t nsym, size_t nbars_store, bool store_cash,
                         bool want_fills)
{
    size_t ocap = S_ORDER_BASE + S_ORDER_PER_SYM * nsym;
    size_t fcap = want_fills ? 2 * ocap + 2 * nsym + 8 : 0;
    size_t sz[] = {
        nsym * sizeof(bt_series_t), nsym * sizeof(size_t),   nsym * sizeof(bt_bar_t),
        nsym,                       nsym * sizeof(double),   nsym * sizeof(double),
        nsym * sizeof(double),      nsym * sizeof(double),   nsym * sizeof(double),
        nsym,                       nsym * sizeof(size_t),   nsym * sizeof(double),
        nsym * sizeof(double),      nsym * sizeof(size_t),   nsym * sizeof(int64_t),
        nsym * sizeof(s_trade_t),   ocap * sizeof(s_order_t), fcap * sizeof(bt_step_fill_t),
        nbars_store * sizeof(double), store_cash ? nbars_store * sizeof(double) : 0,
        nbars_store,
    };
    size_t total = 0;
    for (size_t i = 0; i < sizeof sz / sizeof sz[0]; i++)
        total += S_ALIGN_UP(sz[i]);
    if (total > bk->arena_cap) {
        bt_aligned_free(bk->arena);
        bk->arena = bt_aligned_alloc(total);
        bk->arena_cap = bk->arena ? total : 0;
        if (!bk->arena)
            return false;
    } else {
        /* the sleeve curves (the last 3 arrays) are written in full by the
         * run: zero only what comes before them */
        size_t head = 0;
        for (size_t i = 0; i + 3 < sizeof sz / sizeof sz[0]; i++)
            head += S_ALIGN_UP(sz[i]);
        memset(bk->arena, 0, head);
    }
    char *p = bk->arena;
    void *ptr[sizeof sz / sizeof sz[0]];
    for (size_t i = 0; i < sizeof sz / sizeof sz[0]; i++) {
        ptr[i] = sz[i] ? p : NULL;
        p += S_ALIGN_UP(sz[i]);
    }
    bk->ser = ptr[0];
    bk->idx = ptr[1];
    bk->bar = ptr[2];
    bk->has_bar = ptr[3];
    bk->pos = ptr[4];
    bk->close = ptr[5];
    bk->avg = ptr[6];
    bk->hw = ptr[7];
    bk->target = ptr[8];
    bk->has_target = ptr[9];
    bk->sig_step = ptr[10];
    bk->pend_sig = ptr[11];
    bk->pend_all = ptr[12];
    bk->open_step = ptr[13];
    bk->prev_time = ptr[14];
    bk->trade = ptr[15];
    bk->ord = ptr[16];
    bk->ord_cap = ocap;
    bk->fills = ptr[17];
    bk->fills_cap = fcap;
    bk->eq_out = ptr[18];
    bk->cash_out = ptr[19];
    bk->ex_out = ptr[20];
    for (size_t s = 0; s < nsym; s++)
        bk->sig_step[s] = SIZE_MAX;
    return true;
}

static bt_err_t s_book_setup(s_book_t *bk, const bt_run_spec_t *spec, size_t nsym, uint32_t sym0,
                             size_t book_index, double initial, bool multi, bt_errbuf_t *eb)
{
    const bt_engine_cfg_t *c = spec->cfg;
    size_t store = 0;
    if (multi) {
        bt_series_t v = bt_series_slice_time(&spec->series[sym0], c->start, c->end);
        store = v.n;
    }
    if (!s_book_alloc(bk, nsym, store, multi && spec->rec, spec->on_step != NULL))
        return bt_errf(eb, BT_ENOMEM, "out of memory for the engine's book (%zu symbols)", nsym);
    bk->cfg = c;
    bk->strat = spec->strategy;
    bk->nsym = nsym;
    bk->sym0 = sym0;
    bk->book_index = book_index;
    bk->initial = initial;
    for (size_t s = 0; s < nsym; s++)
        bk->ser[s] = bt_series_slice_time(&spec->series[sym0 + s], c->start, c->end);
    bk->nord = 0;
    bk->nfills = 0;
    bk->cash = bk->equity = bk->peak = initial;
    bk->nheld = 0;
    bk->step = 0;
    bk->t = 0;
    bk->next_id = 1;
    bk->nfill_total = 0;
    bk->killed = false;
    bk->warm = c->trade_start != INT64_MIN;
    bk->has_exits = c->stop_loss > 0 || c->take_profit > 0 || c->trailing_stop > 0;
    bk->stream_steps = !multi;
    bk->last_step = false;
    bk->rebal_flag = c->rebalance == BT_REBAL_DAILY    ? BT_CAL_NEW_DAY
                     : c->rebalance == BT_REBAL_WEEKLY  ? BT_CAL_NEW_WEEK
                     : c->rebalance == BT_REBAL_MONTHLY ? BT_CAL_NEW_MONTH
                                                        : 0u;
    bt_macc_init(&bk->macc, initial);
    bk->err = BT_OK;
    bk->on_step = spec->on_step;
    bk->on_step_user = spec->on_step_user;
    if (!spec->rec) {
        bk->rec = NULL;
    } else if (multi) {
        bk->local.norders = bk->local.ntrades = bk->local.nequity = 0;
        bk->rec = &bk->local;
    } else {
        bk->rec = spec->rec;
    }
    bk->rec_equity = spec->rec && !multi;
    /* strategy state: zeroed, 64-byte aligned */
    size_t ssz = S_ALIGN_UP(spec->strategy->state_size
                                ? spec->strategy->state_size(spec->params, nsym) + 1
                                : 64);
    if (ssz > bk->state_cap) {
        bt_aligned_free(bk->state);
        bk->state = bt_aligned_alloc(ssz);
        bk->state_cap = bk->state ? ssz : 0;
        if (!bk->state)
            return bt_errf(eb, BT_ENOMEM, "out of memory for strategy state (%zu bytes)", ssz);
    } else {
        memset(bk->state, 0, bk->state_cap);
    }
    memset(&bk->ctx, 0, sizeof bk->ctx);
    bk->ctx.nsym = nsym;
    bk->ctx.bar = bk->bar;
    bk->ctx.has_bar = bk->has_bar;
    bk->ctx.position = bk->pos;
    bk->ctx.cash = initial;
    bk->ctx.equity = initial;
    bk->ctx.engine = bk;
    bt_errbuf_t seb;
    bt_errbuf_clear(&seb);
    bt_err_t rc = spec->strategy->init(bk->state, spec->params, nsym, &seb);
    if (rc != BT_OK)
        return bt_errf(eb, BT_ESTRATEGY, "strategy %s: %s", spec->strategy->name,
                       seb.msg[0] ? seb.msg : bt_strerror(rc));
    return BT_OK;
}

/* Writes the final state of open trades into the recorder. */
static void s_book_end(s_book_t *bk)
{
    if (!bk->rec)
        return;
    for (uint32_t s = 0; s < bk->nsym; s++) {
        if (bk->pos[s] == 0.0)
            continue;
        s_trade_t *tr = &bk->trade[s];
        double unreal = (bk->close[s] - bk->avg[s]) * bk->pos[s];
        s_trade_rec(bk, s, false, tr->realized + unreal - tr->commission);
    }
}

/* Bars [i0, i1) of a single-symbol book (in order, continuing from bar
 * i0 - 1): the hot loop. */
static void s_run_range(s_book_t *bk, size_t i0, size_t i1)
{
    const bt_series_t *sr = &bk->ser[0];
    size_t n = sr->n;
    const int64_t *T = sr->time;
    const double *O = sr->open, *H = sr->high, *L = sr->low, *C = sr->close, *V = sr->volume;
    bt_bar_t *b = &bk->bar[0];
    bk->has_bar[0] = 1;
    double *eq_out = bk->eq_out, *cash_out = bk->cash_out;
    uint8_t *ex_out = bk->ex_out;
    for (size_t i = i0; i < i1; i++) {
        b->time = T[i];
        b->open = O[i];
        b->high = H[i];
        b->low = L[i];
        b->close = C[i];
        b->volume = V[i];
        bk->close[0] = C[i];
        bk->idx[0] = i;
        bk->last_step = i + 1 == n;
        s_step(bk, T[i]);
        bk->prev_time[0] = T[i];
        if (eq_out) {
            eq_out[i] = bk->equity;
            ex_out[i] = bk->nheld != 0;
            if (cash_out)
                cash_out[i] = bk->cash;
        }
    }
}

/* A single-symbol book over its whole series. */
static void s_run_single(s_book_t *bk)
{
    s_run_range(bk, 0, bk->ser[0].n);
    s_book_end(bk);
}

/* The PORTFOLIO book: symbols merged by time, one step per distinct time. */
static void s_run_portfolio(s_book_t *bk)
{
    size_t ns = bk->nsym;
    size_t remaining = 0;
    for (size_t s = 0; s < ns; s++)
        remaining += bk->ser[s].n;
    while (remaining) {
        int64_t t = INT64_MAX;
        for (size_t s = 0; s < ns; s++)
            if (bk->idx[s] < bk->ser[s].n && bk->ser[s].time[bk->idx[s]] < t)
                t = bk->ser[s].time[bk->idx[s]];
        size_t here = 0;
        for (size_t s = 0; s < ns; s++) {
            const bt_series_t *sr = &bk->ser[s];
            size_t i = bk->idx[s];
            bk->has_bar[s] = i < sr->n && sr->time[i] == t;
            if (bk->has_bar[s]) {
                bt_bar_t *b = &bk->bar[s];
                b->time = t;
                b->open = sr->open[i];
                b->high = sr->high[i];
                b->low = sr->low[i];
                b->close = sr->close[i];
                b->volume = sr->volume[i];
                bk->close[s] = b->close;
                here++;
            }
        }
        remaining -= here;
        bk->last_step = remaining == 0;
        s_step(bk, t);
        for (size_t s = 0; s < ns; s++) {
            if (bk->has_bar[s]) {
                bk->prev_time[s] = t;
                bk->idx[s]++;
            }
        }
    }
    /* idx is one past each symbol's last bar now; nothing reads it after */
    s_book_end(bk);
}

/* ------------------------------------------------------------------ */
/* Engine                                                              */

bt_engine_t *bt_engine_new(void)
{
    return calloc(1, sizeof(bt_engine_t));
}

void bt_engine_destroy(bt_engine_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bt_engine_t *e = *self_p;
    for (size_t i = 0; i < e->books_cap; i++) {
        bt_aligned_free(e->books[i].arena);
        bt_aligned_free(e->books[i].state);
        bt_recorder_fini(&e->books[i].local);
    }
    free(e->books);
    free(e->tl_cur);
    free(e->tl_eq);
    free(e->tl_cash);
    free(e->tl_ex);
    free(e);
    *self_p = NULL;
}

static bool s_engine_books(bt_engine_t *e, size_t n)
{
    if (n <= e->books_cap)
        return true;
    s_book_t *b = realloc(e->books, n * sizeof *b);
    if (!b)
        return false;
    memset(b + e->books_cap, 0, (n - e->books_cap) * sizeof *b);
    e->books = b;
    e->books_cap = n;
    return true;
}

static bool s_engine_tl(bt_engine_t *e, size_t n)
{
    if (n <= e->tl_cap)
        return true;
    free(e->tl_cur);
    free(e->tl_eq);
    free(e->tl_cash);
    free(e->tl_ex);
    e->tl_cur = calloc(n, sizeof *e->tl_cur);
    e->tl_eq = calloc(n, sizeof *e->tl_eq);
    e->tl_cash = calloc(n, sizeof *e->tl_cash);
    e->tl_ex = calloc(n, sizeof *e->tl_ex);
    if (!e->tl_cur || !e->tl_eq || !e->tl_cash || !e->tl_ex) {
        e->tl_cap = 0;
        return false;
    }
    e->tl_cap = n;
    return true;
}

/* Index of the first bar of sr at or after t (sr->n if none). */
static size_t s_first_at(const bt_series_t *sr, int64_t t)
{
    size_t lo = 0, hi = sr->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sr->time[mid] < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* PBO block statistics: the number of steps (distinct times at or after
 * from over the series get(base, 0..n-1)) is needed before stepping; cur is
 * n scratch cursors. */
static uint64_t s_union_steps(const bt_series_t *(*get)(const void *, size_t), const void *base,
                              size_t n, size_t *cur, int64_t from)
{
    for (size_t s = 0; s < n; s++)
        cur[s] = 0;
    uint64_t steps = 0;
    for (;;) {
        int64_t t = INT64_MAX;
        bool any = false;
        for (size_t s = 0; s < n; s++) {
            const bt_series_t *sr = get(base, s);
            if (cur[s] < sr->n && sr->time[cur[s]] <= t) {
                t = sr->time[cur[s]];
                any = true;
            }
        }
        if (!any)
            return steps;
        for (size_t s = 0; s < n; s++) {
            const bt_series_t *sr = get(base, s);
            if (cur[s] < sr->n && sr->time[cur[s]] == t)
                cur[s]++;
        }
        steps += t >= from;
    }
}

static const bt_series_t *s_get_book_ser(const void *base, size_t i)
{
    return &((const s_book_t *)base)->ser[i];
}

static const bt_series_t *s_get_sleeve_ser(const void *base, size_t i)
{
    return &((const s_book_t *)base)[i].ser[0];
}

static double s_benchmark(const bt_run_spec_t *spec)
{
    double sum = 0.0;
    size_t k = 0;
    int64_t from = spec->cfg->start > spec->cfg->trade_start ? spec->cfg->start
                                                              : spec->cfg->trade_start;
    for (size_t s = 0; s < spec->nsym; s++) {
        if (from > spec->cfg->end)
            continue;
        bt_series_t v = bt_series_slice_time(&spec->series[s], from, spec->cfg->end);
        if (v.n == 0 || !(v.close[0] > 0))
            continue;
        sum += v.close[v.n - 1] / v.close[0] - 1.0;
        k++;
    }
    return k ? sum / (double)k : 0.0;
}

static void s_merge_counts(bt_macc_t *dst, const bt_macc_t *src)
{
    dst->traded_value += src->traded_value;
    dst->commission += src->commission;
    dst->ntrades += src->ntrades;
    dst->nwins += src->nwins;
    dst->nlosses += src->nlosses;
    dst->gross_profit += src->gross_profit;
    dst->gross_loss += src->gross_loss;
    dst->rejected += src->rejected;
}

static bt_err_t s_merge_rec(bt_recorder_t *dst, const bt_recorder_t *src, int64_t id_off)
{
    for (size_t i = 0; i < src->norders; i++) {
        if (!s_grow((void **)&dst->orders, dst->norders, &dst->orders_cap, sizeof *dst->orders))
            return BT_ENOMEM;
        bt_order_rec_t x = src->orders[i];
        if (x.id)
            x.id += id_off;
        dst->orders[dst->norders++] = x;
    }
    for (size_t i = 0; i < src->ntrades; i++) {
        if (!s_grow((void **)&dst->trades, dst->ntrades, &dst->trades_cap, sizeof *dst->trades))
            return BT_ENOMEM;
        dst->trades[dst->ntrades++] = src->trades[i];
    }
    return BT_OK;
}

/* True if a and b have the same bar times. */
static bool s_same_timeline(const bt_series_t *a, const bt_series_t *b)
{
    return a->n == b->n && (a->time == b->time || a->n == 0 ||
                            memcmp(a->time, b->time, a->n * sizeof *a->time) == 0);
}

#define S_SUM_CHUNK 4096  /* bars per work item of the curve sum */
#define S_PIPE_BLOCK 32768 /* bars per block of the pipelined sleeve run */

/* Called by every thread of a parallel region: over bars [b0, b1), sleeve
 * 0's curves become the sums over all ns sleeves (equity and cash summed in
 * sleeve order, exposure or-ed). All sleeves have sleeve 0's timeline. */
static void s_sum_range(s_book_t *books, size_t ns, size_t b0, size_t b1)
{
    long nchunks = (long)((b1 - b0 + S_SUM_CHUNK - 1) / S_SUM_CHUNK);
#pragma omp for schedule(static)
    for (long k = 0; k < nchunks; k++) {
        size_t i0 = b0 + (size_t)k * S_SUM_CHUNK;
        size_t i1 = i0 + S_SUM_CHUNK < b1 ? i0 + S_SUM_CHUNK : b1;
        double *e0 = books[0].eq_out, *c0 = books[0].cash_out;
        uint8_t *x0 = books[0].ex_out;
        for (size_t s = 1; s < ns; s++) {
            const double *es = books[s].eq_out, *cs = books[s].cash_out;
            const uint8_t *xs = books[s].ex_out;
            for (size_t i = i0; i < i1; i++) {
                e0[i] += es[i];
                x0[i] |= xs[i];
            }
            if (c0)
                for (size_t i = i0; i < i1; i++)
                    c0[i] += cs[i];
        }
    }
}

/* Feeds bars [i0, i1) of the summed curve (sleeve 0's) to the metrics. */
static void s_macc_range(bt_macc_t *m, const s_book_t *b0, size_t i0, size_t i1)
{
    const int64_t *T = b0->ser[0].time;
    const double *E = b0->eq_out;
    const uint8_t *X = b0->ex_out;
    int64_t from = b0->cfg->trade_start;
    for (size_t i = i0; i < i1; i++)
        if (T[i] >= from) /* warm-up bars are not measured */
            bt_macc_step(m, T[i], E[i], X[i] != 0);
}

/* SINGLE strategy on several symbols: one sleeve per symbol in parallel,
 * then the sleeves' equity is summed on the union timeline in sleeve order. */
static bt_err_t s_run_sleeves(bt_engine_t *e, const bt_run_spec_t *spec, bt_metrics_t *out,
                              bt_errbuf_t *eb)
{
    size_t ns = spec->nsym;
    const bt_engine_cfg_t *c = spec->cfg;
    double share = c->initial_cash / (double)ns;
    if (!s_engine_books(e, ns) || !s_engine_tl(e, ns))
        return bt_errf(eb, BT_ENOMEM, "out of memory for %zu sleeves", ns);
    for (size_t s = 0; s < ns; s++) {
        bt_err_t rc = s_book_setup(&e->books[s], spec, 1, (uint32_t)s, s, share, true, eb);
        if (rc != BT_OK)
            return rc;
    }
    int nt = spec->threads > 0 ? spec->threads : omp_get_max_threads();
    if ((size_t)nt > ns)
        nt = (int)ns;
    s_book_t *books = e->books;
    long nsl = (long)ns;
    bool all_same = true, piped = false, want_pipe = spec->rec == NULL;
    size_t *tl_cur = e->tl_cur;
    bt_macc_t m;
    bt_macc_init(&m, c->initial_cash);
    /* When every sleeve has sleeve 0's timeline (the usual case) and no
     * recorder is attached, the sleeves run in blocks of bars: all sleeves
     * run block k (dynamic), their curves are summed into sleeve 0's in
     * parallel (per bar in sleeve order), and one thread feeds block k to the
     * metrics while the others already run block k + 1. Sums and metrics
     * are the same at any thread count. Otherwise the sleeves run whole and
     * the curves are combined below. */
#pragma omp parallel default(none) shared(books, nsl, all_same, piped, want_pipe, m, c, tl_cur) \
    num_threads(nt)
    {
#pragma omp for schedule(static)
        for (long i = 0; i < nsl; i++)
            books[i].same_tl = s_same_timeline(&books[i].ser[0], &books[0].ser[0]);
#pragma omp single
        {
            for (long i = 0; i < nsl; i++)
                all_same = all_same && books[i].same_tl;
            if (c->pbo_blocks) /* one timeline: its length is the step count, no scan */
                bt_macc_set_blocks(&m,
                                   all_same ? (uint64_t)(books[0].ser[0].n -
                                                         s_first_at(&books[0].ser[0],
                                                                    c->trade_start))
                                            : s_union_steps(s_get_sleeve_ser, books,
                                                            (size_t)nsl, tl_cur, c->trade_start),
                                   (uint32_t)c->pbo_blocks);
            piped = all_same && want_pipe;
        }
        if (piped) {
            size_t n = books[0].ser[0].n;
            size_t nblk = (n + S_PIPE_BLOCK - 1) / S_PIPE_BLOCK;
            for (size_t k = 0; k <= nblk; k++) {
                if (k > 0) {
#pragma omp single nowait
                    s_macc_range(&m, &books[0], (k - 1) * S_PIPE_BLOCK,
                                 k * S_PIPE_BLOCK < n ? k * S_PIPE_BLOCK : n);
                }
                if (k < nblk) {
                    size_t i0 = k * S_PIPE_BLOCK;
                    size_t i1 = i0 + S_PIPE_BLOCK < n ? i0 + S_PIPE_BLOCK : n;
#pragma omp for schedule(dynamic, 1)
                    for (long i = 0; i < nsl; i++) {
                        s_run_range(&books[i], i0, i1);
                        if (i1 == n)
                            s_book_end(&books[i]);
                    }
                    s_sum_range(books, (size_t)nsl, i0, i1);
                }
            }
        } else {
#pragma omp for schedule(dynamic, 1)
            for (long i = 0; i < nsl; i++)
                s_run_single(&books[i]);
            if (all_same)
                s_sum_range(books, (size_t)nsl, 0, books[0].ser[0].n);
        }
    }

    size_t *cur = e->tl_cur;
    double *leq = e->tl_eq, *lcash = e->tl_cash;
    uint8_t *lex = e->tl_ex;
    for (size_t s = 0; s < ns; s++) {
        cur[s] = 0;
        leq[s] = lcash[s] = share;
        lex[s] = 0;
    }
    if (piped) {
        /* the metrics were fed block by block above */
    } else if (all_same) {
        const s_book_t *b0 = &books[0];
        const int64_t *T = b0->ser[0].time;
        const double *E = b0->eq_out, *C = b0->cash_out;
        const uint8_t *X = b0->ex_out;
        size_t n = b0->ser[0].n;
        double peak = c->initial_cash;
        for (size_t i = s_first_at(&b0->ser[0], c->trade_start); i < n; i++) {
            double eq = E[i];
            bt_macc_step(&m, T[i], eq, X[i] != 0);
            if (!spec->rec)
                continue;
            if (eq > peak)
                peak = eq;
            double cash = C[i];
            bt_recorder_t *r = spec->rec;
            if (!s_grow((void **)&r->equity, r->nequity, &r->equity_cap, sizeof *r->equity))
                return bt_errf(eb, BT_ENOMEM, "out of memory for the equity record");
            r->equity[r->nequity++] = (bt_equity_rec_t){T[i], cash, eq - cash, eq,
                                                        peak > 0 ? 1.0 - eq / peak : 0.0};
        }
    } else {
        double peak = c->initial_cash;
        for (;;) {
            int64_t t = INT64_MAX;
            bool any = false;
            for (size_t s = 0; s < ns; s++) {
                const s_book_t *bk = &books[s];
                if (cur[s] < bk->ser[0].n && bk->ser[0].time[cur[s]] <= t) {
                    t = bk->ser[0].time[cur[s]];
                    any = true;
                }
            }
            if (!any)
                break;
            double eq = 0.0, cash = 0.0;
            bool ex = false;
            for (size_t s = 0; s < ns; s++) {
                const s_book_t *bk = &books[s];
                if (cur[s] < bk->ser[0].n && bk->ser[0].time[cur[s]] == t) {
                    leq[s] = bk->eq_out[cur[s]];
                    lex[s] = bk->ex_out[cur[s]];
                    if (bk->cash_out)
                        lcash[s] = bk->cash_out[cur[s]];
                    cur[s]++;
                }
                eq += leq[s];
                cash += lcash[s];
                ex |= lex[s] != 0;
            }
            if (t < c->trade_start)
                continue; /* warm-up: not measured, not recorded */
            bt_macc_step(&m, t, eq, ex);
            if (eq > peak)
                peak = eq;
            if (spec->rec) {
                bt_recorder_t *r = spec->rec;
                if (!s_grow((void **)&r->equity, r->nequity, &r->equity_cap, sizeof *r->equity))
                    return bt_errf(eb, BT_ENOMEM, "out of memory for the equity record");
                r->equity[r->nequity++] = (bt_equity_rec_t){t, cash, eq - cash, eq,
                                                            peak > 0 ? 1.0 - eq / peak : 0.0};
            }
        }
    }
    int64_t id_off = 0;
    for (size_t s = 0; s < ns; s++) {
        s_book_t *bk = &books[s];
        if (bk->err != BT_OK)
            return bt_errf(eb, bk->err, "out of memory while recording the run");
        s_merge_counts(&m, &bk->macc);
        if (spec->rec) {
            if (s_merge_rec(spec->rec, &bk->local, id_off) != BT_OK)
                return bt_errf(eb, BT_ENOMEM, "out of memory while recording the run");
            id_off += bk->next_id - 1;
        }
    }
    bt_macc_finish(&m, c->risk_free_rate, s_benchmark(spec), out);
    if (spec->blocks_out)
        bt_macc_blocks(&m, spec->blocks_out, 3u * (size_t)c->pbo_blocks);
    return BT_OK;
}

bt_err_t bt_engine_run(bt_engine_t *eng, const bt_run_spec_t *spec, bt_metrics_t *out,
                       bt_errbuf_t *eb)
{
    if (!eng || !spec || !out || !spec->cfg || !spec->strategy)
        return bt_errf(eb, BT_EINVAL, "bt_engine_run: engine, spec, cfg, strategy and out are required");
    if (spec->nsym == 0 || !spec->series)
        return bt_errf(eb, BT_EINVAL, "bt_engine_run: no symbols to run on");
    if (spec->nsym > UINT32_MAX)
        return bt_errf(eb, BT_ELIMIT, "bt_engine_run: too many symbols (%zu)", spec->nsym);
    const bt_strategy_t *st = spec->strategy;
    if (!st->init || !st->on_bar)
        return bt_errf(eb, BT_EINVAL, "strategy %s has no init or on_bar", st->name);
    if (st->nparams > 0 && !spec->params)
        return bt_errf(eb, BT_EINVAL, "strategy %s: no parameter values given", st->name);
    for (size_t i = 0; i < st->nparams; i++) {
        const bt_param_spec_t *ps = &st->params[i];
        double v = spec->params[i];
        if (!isfinite(v) || v < ps->min || v > ps->max)
            return bt_errf(eb, BT_ESTRATEGY, "strategy %s: parameter %s = %g is outside [%g, %g]",
                           st->name, ps->name, v, ps->min, ps->max);
        if (ps->type == BT_PARAM_INT && v != trunc(v))
            return bt_errf(eb, BT_ESTRATEGY, "strategy %s: parameter %s = %g must be a whole number",
                           st->name, ps->name, v);
    }
    bt_err_t rc = s_check_cfg(spec->cfg, eb);
    if (rc != BT_OK)
        return rc;
    memset(out, 0, sizeof *out);
    if (st->kind == BT_STRAT_SINGLE && spec->nsym > 1)
        return s_run_sleeves(eng, spec, out, eb);

    if (!s_engine_books(eng, 1))
        return bt_errf(eb, BT_ENOMEM, "out of memory for the engine");
    s_book_t *bk = &eng->books[0];
    rc = s_book_setup(bk, spec, spec->nsym, 0, 0, spec->cfg->initial_cash, false, eb);
    if (rc != BT_OK)
        return rc;
    if (spec->cfg->pbo_blocks) {
        if (spec->nsym > 1 && !s_engine_tl(eng, spec->nsym))
            return bt_errf(eb, BT_ENOMEM, "out of memory for %zu symbols", spec->nsym);
        int64_t from = spec->cfg->trade_start;
        uint64_t nsteps = spec->nsym == 1
                              ? bk->ser[0].n - s_first_at(&bk->ser[0], from)
                              : s_union_steps(s_get_book_ser, bk, spec->nsym, eng->tl_cur, from);
        bt_macc_set_blocks(&bk->macc, nsteps, (uint32_t)spec->cfg->pbo_blocks);
    }
    if (spec->nsym == 1)
        s_run_single(bk);
    else
        s_run_portfolio(bk);
    if (bk->err != BT_OK)
        return bt_errf(eb, bk->err, "out of memory while recording the run");
    bt_macc_finish(&bk->macc, spec->cfg->risk_free_rate, s_benchmark(spec), out);
    if (spec->blocks_out)
        bt_macc_blocks(&bk->macc, spec->blocks_out, 3u * (size_t)spec->cfg->pbo_blocks);
    return BT_OK;
}
