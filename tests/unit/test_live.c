/* bt_live: stepping a run bar by bar gives the orders, fills and equity of
 * bt_engine_run on the same bars (the independent reference is the batch
 * engine itself, with close_at_end off), for a SINGLE strategy on one
 * symbol, a SINGLE strategy on three symbols (sleeves) and a PORTFOLIO
 * strategy; replaying the same bars into a fresh bt_live (a restart)
 * gives the identical state; a repeated time is refused. */
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

static void s_check(const char *strategy, size_t nsym)
{
    s_make();
    const bt_strategy_t *st = bt_strategy_find(strategy);
    cr_assert(st);
    double params[16];
    bt_strategy_defaults(st, params);
    bt_engine_cfg_t cfg;
    bt_engine_cfg_defaults(&cfg);
    cfg.close_at_end = false;
    cfg.commission_rate = 0.001;
    cfg.slippage_bps = 5;
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

/* Account-level limits step sleeves in lockstep, which live stepping does
 * not do: refused with a message naming the key, for several symbols only. */
Test(live, account_scope_on_several_symbols_refused)
{
    const bt_strategy_t *st = bt_strategy_find("sma_cross");
    cr_assert(st);
    double params[16];
    bt_strategy_defaults(st, params);
    bt_engine_cfg_t cfg;
    bt_engine_cfg_defaults(&cfg);
    cfg.risk_scope = BT_RISK_ACCOUNT;
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    cr_assert_null(bt_live_new(st, params, &cfg, 3, &eb));
    cr_assert(strstr(eb.msg, "risk.scope: account"), "%s", eb.msg);
    bt_live_t *one = bt_live_new(st, params, &cfg, 1, &eb);
    cr_assert_not_null(one, "one symbol has no sleeves to keep in step: %s", eb.msg);
    bt_live_destroy(&one);
}
