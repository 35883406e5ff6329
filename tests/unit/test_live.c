/* bt_live: stepping a run bar by bar gives the orders, fills and equity of
 * bt_engine_run on the same bars (the independent reference is the batch
 * engine itself, with close_at_end off), for a SINGLE strategy on one
 * symbol, a SINGLE strategy on three symbols (sleeves, and sleeves under
 * risk.scope: account in lockstep) and a PORTFOLIO strategy, and for a
 * strategy placing DAY limit orders on intraday bars; replaying the same
 * bars into a fresh bt_live (a restart) gives the identical state; a
 * repeated time is refused. DAY expiry is also checked by hand on 5 bars. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt_engine.h"
#include "bt_live.h"
#include "bt_registry.h"
#include "bt_time.h"

#define N 600
#define NS 3

static int64_t T[NS][N];
static double O[NS][N], H[NS][N], Lo[NS][N], C[NS][N], V[NS][N];
static bt_series_t S[NS];

/* Seeded random walks; symbol 2 skips every 7th day (unequal timelines). */
static void s_make(void)
{
    uint64_t x = 7;
    for (int s = 0; s < NS; s++) {
        double px = 50.0 + 20 * s;
        size_t n = 0;
        for (int i = 0; i < N; i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            double r = ((double)(x >> 11) / 9007199254740992.0 - 0.5) * 0.06;
            if (s == 2 && i % 7 == 3)
                continue;
            T[s][n] = (bt_days_from_civil(2021, 1, 4) + i) * BT_NS_PER_DAY;
            O[s][n] = px;
            C[s][n] = px * (1 + r);
            H[s][n] = fmax(O[s][n], C[s][n]) * 1.01;
            Lo[s][n] = fmin(O[s][n], C[s][n]) * 0.99;
            V[s][n] = 1e6;
            px = C[s][n];
            n++;
        }
        S[s] = (bt_series_t){.n = n, .time = T[s], .open = O[s], .high = H[s], .low = Lo[s],
                             .close = C[s], .volume = V[s]};
        snprintf(S[s].symbol, sizeof S[s].symbol, "S%d", s);
    }
}

/* Steps the series merged by time into lv. */
static void s_step_all(bt_live_t *lv, size_t nsym)
{
    size_t idx[NS] = {0};
    for (;;) {
        int64_t t = INT64_MAX;
        for (size_t s = 0; s < nsym; s++)
            if (idx[s] < S[s].n && S[s].time[idx[s]] < t)
                t = S[s].time[idx[s]];
        if (t == INT64_MAX)
            return;
        bt_bar_t bars[NS];
        uint8_t has[NS];
        for (size_t s = 0; s < nsym; s++) {
            size_t i = idx[s];
            has[s] = i < S[s].n && S[s].time[i] == t;
            if (has[s]) {
                bars[s] = (bt_bar_t){t, S[s].open[i], S[s].high[i], S[s].low[i], S[s].close[i],
                                     S[s].volume[i]};
                idx[s]++;
            }
        }
        bt_errbuf_t eb;
        cr_assert_eq(bt_live_step(lv, t, bars, has, &eb), BT_OK, "%s", eb.msg);
    }
}

static void s_same_orders(const bt_order_rec_t *a, const bt_order_rec_t *b, int64_t id_off)
{
    cr_assert_eq(a->id, b->id ? b->id + id_off : 0);
    cr_assert_eq(a->sym, b->sym); /* run-level symbol index in both */
    cr_assert_eq(a->created, b->created);
    cr_assert_eq(a->done, b->done);
    cr_assert_eq(a->qty, b->qty);
    cr_assert_eq(a->filled, b->filled);
    cr_assert_eq(a->avg_price, b->avg_price);
    cr_assert_eq(a->commission, b->commission);
    cr_assert_eq(a->status, b->status);
}

static bt_engine_cfg_t s_cfg(void)
{
    bt_engine_cfg_t cfg;
    bt_engine_cfg_defaults(&cfg);
    cfg.close_at_end = false;
    cfg.commission_rate = 0.001;
    cfg.slippage_bps = 5;
    return cfg;
}

/* bt_live == bt_engine_run on S[0..nsym-1]; returns the final equity. */
static double s_check_p(const bt_strategy_t *st, size_t nsym, bt_engine_cfg_t cfg,
                        const double *p)
{
    cr_assert(st);
    double params[16];
    bt_strategy_defaults(st, params);
    for (size_t i = 0; p && i < st->nparams; i++)
        params[i] = p[i];
    bt_recorder_t rec;
    bt_recorder_init(&rec);
    bt_engine_t *eng = bt_engine_new();
    bt_run_spec_t spec = {.series = S, .nsym = nsym, .strategy = st, .params = params,
                          .cfg = &cfg, .threads = 1, .rec = &rec};
    bt_metrics_t m;
    bt_errbuf_t eb;
    cr_assert_eq(bt_engine_run(eng, &spec, &m, &eb), BT_OK, "%s", eb.msg);
    cr_assert_gt(rec.norders, 4, "the strategy should trade on these bars");

    bt_live_t *lv = bt_live_new(st, params, &cfg, nsym, &eb);
    cr_assert(lv, "%s", eb.msg);
    s_step_all(lv, nsym);
    /* orders: books one after another, ids offset as bt_engine does */
    size_t k = 0;
    int64_t off = 0;
    for (size_t b = 0; b < bt_live_nbooks(lv); b++) {
        const bt_recorder_t *r = bt_live_recorder(lv, b);
        int64_t maxid = 0;
        for (size_t i = 0; i < r->norders; i++, k++) {
            cr_assert_lt(k, rec.norders);
            s_same_orders(&rec.orders[k], &r->orders[i], off);
            if (r->orders[i].id > maxid)
                maxid = r->orders[i].id;
        }
        off += maxid;
    }
    cr_assert_eq(k, rec.norders);
    /* final equity and cash */
    const bt_equity_rec_t *last = &rec.equity[rec.nequity - 1];
    cr_assert_eq(bt_live_equity(lv), last->equity, "%.17g vs %.17g", bt_live_equity(lv),
                 last->equity);
    cr_assert_eq(bt_live_cash(lv), last->cash);
    if (bt_live_nbooks(lv) == 1) {
        const bt_recorder_t *r = bt_live_recorder(lv, 0);
        cr_assert_eq(r->nequity, rec.nequity);
        for (size_t i = 0; i < rec.nequity; i++)
            cr_assert(memcmp(&r->equity[i], &rec.equity[i], sizeof rec.equity[i]) == 0,
                      "equity row %zu differs", i);
    }

    /* a restart: the same bars into a new bt_live give the same state */
    bt_live_t *again = bt_live_new(st, params, &cfg, nsym, &eb);
    s_step_all(again, nsym);
    cr_assert_eq(bt_live_equity(again), bt_live_equity(lv));
    for (size_t s = 0; s < nsym; s++)
        cr_assert_eq(bt_live_position(again, s), bt_live_position(lv, s));
    cr_assert_eq(bt_live_steps(again), bt_live_steps(lv));

    /* a step at a time already taken is refused, and changes nothing */
    bt_bar_t bar = {0, 1, 1, 1, 1, 1};
    uint8_t has[NS] = {1, 1, 1};
    double eq = bt_live_equity(lv);
    cr_assert_eq(bt_live_step(lv, bt_live_last_time(lv), (bt_bar_t[NS]){bar, bar, bar}, has, &eb),
                 BT_EINVAL);
    cr_assert_eq(bt_live_equity(lv), eq);

    bt_live_destroy(&again);
    bt_live_destroy(&lv);
    bt_live_destroy(&lv); /* safe twice */
    bt_engine_destroy(&eng);
    bt_recorder_fini(&rec);
    return eq;
}

static double s_check_st(const bt_strategy_t *st, size_t nsym, bt_engine_cfg_t cfg)
{
    return s_check_p(st, nsym, cfg, NULL);
}

static void s_check(const char *strategy, size_t nsym)
{
    s_make();
    s_check_st(bt_strategy_find(strategy), nsym, s_cfg());
}

Test(live, single_symbol_equals_engine_run)
{
    s_check("sma_cross", 1);
}

Test(live, sleeves_equal_engine_run)
{
    s_check("sma_cross", 3);
}

Test(live, portfolio_equals_engine_run)
{
    s_check("momentum_rotation", 3);
}

/* sizing.at: fill in a PORTFOLIO book sizes a signal from the other
 * symbols' previous closes: live stepping keeps the bars' history as the
 * backtest's series does. */
Test(live, portfolio_sized_at_fill_equals_engine_run)
{
    s_make();
    bt_engine_cfg_t cfg = s_cfg();
    cfg.size_at = BT_SIZE_AT_FILL;
    cfg.size_value = 0.45; /* two symbols held, 45 % each */
    const bt_strategy_t *st = bt_strategy_find("momentum_rotation");
    cr_assert(st && st->nparams == 3);
    const double p[3] = {20, 2, 0}; /* lookback 20, top_n 2, absolute 0 */
    s_check_p(st, NS, cfg, p);
}

/* Buys with an ATR trailing stop attached when flat (every 5th step): the
 * trail's distance is the Wilder ATR of the bars before the checked one. */
static void s_atr_on_bar(void *state, bt_ctx_t *ctx)
{
    (void)state;
    if (!ctx->has_bar[0] || ctx->position[0] != 0 || ctx->step % 5 != 0)
        return;
    bt_order_req_t r = {.sym = 0, .qty = 10, .type = BT_ORD_MARKET};
    bt_trail_t tr = {.mode = BT_TRAIL_ATR, .value = 1.5, .atr_period = 10};
    bt_order_trail(ctx, &r, &tr);
}

static size_t s_zero_size(const double *p, size_t n)
{
    (void)p;
    (void)n;
    return 8;
}

static bt_err_t s_zero_init(void *st, const double *p, size_t n, bt_errbuf_t *eb)
{
    (void)st;
    (void)p;
    (void)n;
    (void)eb;
    return BT_OK;
}

static const bt_strategy_t s_atr_strat = {.name = "atr_trail",
                                          .kind = BT_STRAT_SINGLE,
                                          .state_size = s_zero_size,
                                          .init = s_zero_init,
                                          .on_bar = s_atr_on_bar};

Test(live, atr_trailing_stops_equal_engine_run)
{
    s_make();
    s_check_st(&s_atr_strat, 1, s_cfg());
    s_check_st(&s_atr_strat, NS, s_cfg());
}

/* risk.scope: account: the sleeves step in lockstep under the account's
 * limits (bt_loop_account_step, shared with the backtest), so live
 * stepping equals bt_engine_run; the limits bind here (the result differs
 * from the sleeve scope's), so the lockstep is what is being compared. */
Test(live, account_scope_sleeves_equal_engine_run)
{
    s_make();
    const bt_strategy_t *st = bt_strategy_find("sma_cross");
    bt_engine_cfg_t cfg = s_cfg();
    cfg.max_positions = 1;
    cfg.max_drawdown = 0.15;
    double sleeve = s_check_st(st, NS, cfg);
    cfg.risk_scope = BT_RISK_ACCOUNT;
    double account = s_check_st(st, NS, cfg);
    cr_assert_neq(account, sleeve, "the account limits should change the result");
}

/* ---- DAY orders ---- */

/* Places a DAY limit whenever it has none open: a buy 1 % under the close
 * when flat, else a sale of the position 1 % over it. bt_modify with no
 * change tells whether the last order is still open. */
typedef struct {
    int64_t id;
} s_day_state_t;

static int g_open_seen[8]; /* steps 0..7: the last order was open (hand test) */

static size_t s_day_size(const double *p, size_t n)
{
    (void)p;
    (void)n;
    return sizeof(s_day_state_t);
}

static bt_err_t s_day_init(void *st, const double *p, size_t n, bt_errbuf_t *eb)
{
    (void)st;
    (void)p;
    (void)n;
    (void)eb;
    return BT_OK;
}

static void s_day_on_bar(void *state, bt_ctx_t *ctx)
{
    s_day_state_t *d = state;
    if (!ctx->has_bar[0])
        return;
    bool open = d->id > 0 && bt_modify(ctx, d->id, 0, 0, 0);
    if (ctx->step < 8)
        g_open_seen[ctx->step] = open;
    if (open)
        return;
    double c = ctx->bar[0].close, pos = ctx->position[0];
    bt_order_req_t r = {.sym = 0, .type = BT_ORD_LIMIT, .tif = BT_TIF_DAY};
    r.qty = pos == 0 ? 10 : -pos;
    r.limit = pos == 0 ? c * 0.99 : c * 1.01;
    d->id = bt_order(ctx, &r);
}

static const bt_strategy_t s_day_strat = {.name = "day_limits",
                                          .kind = BT_STRAT_SINGLE,
                                          .state_size = s_day_size,
                                          .init = s_day_init,
                                          .on_bar = s_day_on_bar};

/* Hourly bars, 7 a day (10:00..16:00 UTC) on weekdays; symbol 1 skips some
 * hours, so its last bar of a day is not the other's. */
static void s_make_intraday(void)
{
    uint64_t x = 11;
    for (int s = 0; s < 2; s++) {
        double px = 40.0 + 10 * s;
        size_t n = 0;
        for (int i = 0; i < N; i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            double r = ((double)(x >> 11) / 9007199254740992.0 - 0.5) * 0.03;
            int day = i / 7, hour = 10 + i % 7;
            if (s == 1 && (i % 5 == 4 || i % 11 == 6))
                continue;
            T[s][n] = (bt_days_from_civil(2021, 1, 4) + day / 5 * 7 + day % 5) * BT_NS_PER_DAY +
                      hour * 3600 * BT_NS_PER_SEC;
            O[s][n] = px;
            C[s][n] = px * (1 + r);
            H[s][n] = fmax(O[s][n], C[s][n]) * 1.004;
            Lo[s][n] = fmin(O[s][n], C[s][n]) * 0.996;
            V[s][n] = 1e6;
            px = C[s][n];
            n++;
        }
        S[s] = (bt_series_t){.n = n, .time = T[s], .open = O[s], .high = H[s], .low = Lo[s],
                             .close = C[s], .volume = V[s]};
        snprintf(S[s].symbol, sizeof S[s].symbol, "S%d", s);
    }
}

/* DAY limits that fill and expire on intraday bars of two symbols: the
 * orders (expiry times included), fills and equity of bt_live equal
 * bt_engine_run's. */
Test(live, day_orders_equal_engine_run)
{
    s_make_intraday();
    s_check_st(&s_day_strat, 1, s_cfg());
    s_check_st(&s_day_strat, 2, s_cfg());
    /* both outcomes happened: some DAY orders filled, some expired */
    bt_recorder_t rec;
    bt_recorder_init(&rec);
    bt_engine_t *eng = bt_engine_new();
    bt_engine_cfg_t cfg = s_cfg();
    double p[1] = {0};
    bt_run_spec_t spec = {.series = S, .nsym = 2, .strategy = &s_day_strat, .params = p,
                          .cfg = &cfg, .threads = 1, .rec = &rec};
    bt_metrics_t m;
    bt_errbuf_t eb;
    cr_assert_eq(bt_engine_run(eng, &spec, &m, &eb), BT_OK, "%s", eb.msg);
    size_t filled = 0, expired = 0;
    for (size_t i = 0; i < rec.norders; i++) {
        filled += rec.orders[i].status == BT_OS_FILLED;
        expired += rec.orders[i].status == BT_OS_EXPIRED;
    }
    cr_assert_gt(filled, 10);
    cr_assert_gt(expired, 10);
    bt_engine_destroy(&eng);
    bt_recorder_fini(&rec);
}

/* By hand: bars at 10:00, 11:00, 12:00 of day 1 and 10:00, 11:00 of day 2,
 * close 100, lows 99.5 except 98 at day 2's first bar. Step 0 places a DAY
 * buy limit at 100 * 0.99 = 99, valid for the day of its first bar (day 1).
 * Steps 1 and 2 see it open (at 12:00 too: nothing knows yet that 12:00 is
 * day 1's last bar); day 2's first bar expires it before it can fill (its
 * low 98 would), stamped done = 12:00 of day 1 (the last bar of its day);
 * step 3 sees it gone and places a new one at 99, which step 4 (low 99.5)
 * does not fill: still open. The same in bt_engine_run and bt_live. */
Test(live, day_order_expires_at_a_later_days_first_bar)
{
    int64_t d1 = bt_days_from_civil(2021, 3, 1) * BT_NS_PER_DAY, h = 3600 * BT_NS_PER_SEC;
    static int64_t t[5];
    static double o[5] = {100, 100, 100, 100, 100}, hi[5] = {101, 101, 101, 101, 101},
                  lo[5] = {99.5, 99.5, 99.5, 98, 99.5}, c[5] = {100, 100, 100, 100, 100},
                  v[5] = {1e6, 1e6, 1e6, 1e6, 1e6};
    t[0] = d1 + 10 * h;
    t[1] = d1 + 11 * h;
    t[2] = d1 + 12 * h;
    t[3] = d1 + BT_NS_PER_DAY + 10 * h;
    t[4] = d1 + BT_NS_PER_DAY + 11 * h;
    bt_series_t one = {.n = 5, .time = t, .open = o, .high = hi, .low = lo, .close = c,
                       .volume = v};
    bt_engine_cfg_t cfg = s_cfg();
    cfg.slippage_bps = 0;
    double p[1] = {0};
    for (int live = 0; live < 2; live++) {
        bt_recorder_t rec;
        bt_recorder_init(&rec);
        bt_errbuf_t eb;
        const bt_recorder_t *r = &rec;
        bt_engine_t *eng = NULL;
        bt_live_t *lv = NULL;
        memset(g_open_seen, 0, sizeof g_open_seen);
        if (!live) {
            eng = bt_engine_new();
            bt_run_spec_t spec = {.series = &one, .nsym = 1, .strategy = &s_day_strat,
                                  .params = p, .cfg = &cfg, .threads = 1, .rec = &rec};
            bt_metrics_t m;
            cr_assert_eq(bt_engine_run(eng, &spec, &m, &eb), BT_OK, "%s", eb.msg);
        } else {
            lv = bt_live_new(&s_day_strat, p, &cfg, 1, &eb);
            cr_assert(lv, "%s", eb.msg);
            for (size_t i = 0; i < 5; i++) {
                bt_bar_t b = {t[i], o[i], hi[i], lo[i], c[i], v[i]};
                uint8_t has = 1;
                cr_assert_eq(bt_live_step(lv, t[i], &b, &has, &eb), BT_OK, "%s", eb.msg);
            }
            r = bt_live_recorder(lv, 0);
        }
        cr_assert_geq(r->norders, 2);
        const bt_order_rec_t *a = &r->orders[0];
        cr_assert_eq(a->status, BT_OS_EXPIRED, "live %d: status %d", live, a->status);
        cr_assert_eq(a->done, t[2], "live %d: expiry stamped at day 1's last bar", live);
        cr_assert_eq(a->filled, 0);
        cr_assert_str_eq(a->reason, "day order expired");
        const int seen[5] = {0, 1, 1, 0, 1};
        for (int i = 0; i < 5; i++)
            cr_assert_eq(g_open_seen[i], seen[i], "live %d: step %d open %d", live, i,
                         g_open_seen[i]);
        cr_assert_eq(r->norders, 2);
        cr_assert_eq(r->orders[1].created, t[3]);
        cr_assert_eq(r->orders[1].limit, 99);
        cr_assert_eq(r->orders[1].status, BT_OS_OPEN);
        bt_live_destroy(&lv);
        bt_engine_destroy(&eng);
        bt_recorder_fini(&rec);
    }
}
