/* Unit tests of the grid fast path (common/engine/bt_batch, bt_indcache and
 * the built-in strategies' bt_fast_t):
 *  - every built-in strategy that declares its indicators gives the same
 *    metrics and PBO block statistics, bit for bit, through bt_batch_run as
 *    through bt_engine_run (the per-point path, independent of bt_batch),
 *    over many parameter sets and engine settings that stay on the fast
 *    path (commissions, slippage, sizing modes, shorting, volume cap, risk
 *    limits, close_at_end, a time window, no PBO blocks);
 *  - a refused parameter set fails with the engine's own message;
 *  - no look-ahead: a declared column at bar t is the same over the series
 *    cut after t, and `decide` makes the same decisions up to bar t when
 *    every later value (indicators and close) is garbage;
 *  - the cache computes a column once and hands it out again;
 *  - the one-symbol pass's vector groups (any lane count, same-bar events,
 *    flat -> long -> short, PBO blocks closing at different steps, equity
 *    exactly 0; groups of eight with a partial last one, lanes reordered by
 *    their columns; long flat runs, which skip the return sums) and the
 *    cross strategies' stretch skipping in decide.
 * The series is a seeded random walk (no files). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt_batch.h"
#include "bt_ind.h"
#include "bt_indcache.h"
#include "bt_registry.h"
#include "bt_strat_util.h"

#define NB 6000
#define NLANES 40

static int64_t g_t[NB];
static double g_o[NB], g_h[NB], g_l[NB], g_c[NB], g_v[NB];
static bt_series_t g_s;

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static double s_unif(void)
{
    g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(g_rng >> 11) / 9007199254740992.0;
}

static void s_series(void)
{
    double p = 100.0;
    for (size_t i = 0; i < NB; i++) {
        double o = p * (1.0 + 0.004 * (s_unif() - 0.5));
        double c = o * (1.0 + 0.03 * (s_unif() - 0.5));
        g_t[i] = (int64_t)(1262563200 + 86400 * (int64_t)i) * 1000000000;
        g_o[i] = o;
        g_c[i] = c;
        g_h[i] = fmax(o, c) * (1.0 + 0.01 * s_unif());
        g_l[i] = fmin(o, c) * (1.0 - 0.01 * s_unif());
        g_v[i] = 1000.0 + 5000.0 * s_unif();
        p = c;
    }
    memset(&g_s, 0, sizeof g_s);
    snprintf(g_s.symbol, sizeof g_s.symbol, "RW");
    g_s.n = NB;
    g_s.time = g_t;
    g_s.open = g_o;
    g_s.high = g_h;
    g_s.low = g_l;
    g_s.close = g_c;
    g_s.volume = g_v;
}

/* Engine settings that stay on the fast path. */
static void s_cfg(bt_engine_cfg_t *c, int k)
{
    bt_engine_cfg_defaults(c);
    switch (k % 12) {
    case 0:
        break;
    case 1:
        c->commission_rate = 0.001;
        c->slippage_bps = 2;
        break;
    case 2:
        c->commission_per_share = 0.01;
        c->commission_min = 1.0;
        c->sizing = BT_SIZE_PCT_CASH;
        c->size_value = 0.5;
        break;
    case 3:
        c->allow_short = true;
        c->commission_rate = 0.0005;
        break;
    case 4:
        c->close_at_end = true;
        c->sizing = BT_SIZE_FIXED;
        c->size_value = 300;
        break;
    case 5:
        c->volume_cap = 0.05; /* orders fill over several bars */
        break;
    case 6:
        c->max_position = 0.5;
        c->fractional = true;
        break;
    case 7:
        c->start = g_t[700];
        c->end = g_t[5100];
        c->risk_free_rate = 0.03;
        break;
    case 8:
        c->pbo_blocks = 0;
        c->sizing = BT_SIZE_TARGET_WEIGHT;
        break;
    case 9:
        c->allow_short = true;
        c->margin_requirement = 1.5;
        c->sizing = BT_SIZE_FIXED;
        c->size_value = 2000; /* shorts beyond the margin are rejected */
        break;
    case 10:
        c->allow_margin = true;
        c->size_value = 1.6;
        c->max_leverage = 1.2;
        break;
    case 11:
        c->pbo_blocks = 32;
        c->close_at_end = true;
        c->allow_short = true;
        break;
    }
}

/* Parameters of lane k for strategy name. */
static void s_params(const char *name, int k, double *p)
{
    if (strcmp(name, "sma_cross") == 0 || strcmp(name, "ema_cross") == 0) {
        p[0] = 2 + (k * 7) % 40;
        p[1] = p[0] + 1 + (k * 13) % 90;
        p[2] = k % 3 == 0;
        if (k == 5) /* refused: fast >= slow */
            p[1] = p[0];
    } else if (strcmp(name, "rsi_reversion") == 0) {
        p[0] = 2 + k % 30;
        p[1] = 20 + k % 15;
        p[2] = 60 + (k * 3) % 30;
    } else if (strcmp(name, "bollinger_reversion") == 0) {
        p[0] = 5 + (k * 5) % 60;
        p[1] = 0.5 + 0.25 * (k % 10);
    } else { /* donchian_breakout */
        p[0] = 1 + (k * 3) % 70;
        p[1] = 1 + (k * 11) % 50;
    }
}

static const char *const s_names[] = {"sma_cross", "ema_cross", "rsi_reversion",
                                       "bollinger_reversion", "donchian_breakout"};

Test(batch, same_bits_as_the_engine)
{
    s_series();
    bt_engine_t *eng = bt_engine_new();
    bt_batch_t *b = bt_batch_new();
    bt_indcache_t *cache = bt_indcache_new((size_t)1 << 30);
    cr_assert(eng && b && cache);
    static double params[NLANES][BT_MAX_PARAMS];
    static bt_engine_cfg_t cfg[NLANES];
    static double blk_a[NLANES][3 * BT_MACC_MAX_BLOCKS], blk_b[NLANES][3 * BT_MACC_MAX_BLOCKS];
    static bt_batch_job_t jobs[NLANES];
    static const double *cols[NLANES * (BT_DECL_MAX + 1)];
    size_t checked = 0, refused = 0;
    for (size_t si = 0; si < sizeof s_names / sizeof *s_names; si++) {
        const bt_strategy_t *st = bt_strategy_find(s_names[si]);
        cr_assert(st && st->fast, "%s has no fast path", s_names[si]);
        for (int cfgset = 0; cfgset < 3; cfgset++) {
            memset(jobs, 0, sizeof jobs);
            memset(blk_a, 0, sizeof blk_a);
            memset(blk_b, 0, sizeof blk_b);
            for (int k = 0; k < NLANES; k++) {
                s_params(s_names[si], k + cfgset * NLANES, params[k]);
                /* lanes of one pass share a series slice: the window config
                 * (7) only in a pass of its own */
                s_cfg(&cfg[k], cfgset == 2 ? 7 : k + cfgset);
                if (cfgset != 2 && (k + cfgset) % 12 == 7)
                    s_cfg(&cfg[k], 1);
                bt_run_spec_t sp = {.series = &g_s, .nsym = 1, .strategy = st,
                                    .params = params[k], .cfg = &cfg[k], .threads = 1,
                                    .blocks_out = blk_b[k]};
                cr_assert(bt_batch_eligible(&sp));
                bt_errbuf_t eb;
                bt_errbuf_clear(&eb);
                cr_assert(bt_batch_prepare(cache, &sp, &cols[k * (BT_DECL_MAX + 1)], &eb), "%s",
                          eb.msg);
                jobs[k].spec = sp;
                jobs[k].cols = &cols[k * (BT_DECL_MAX + 1)];
            }
            bt_batch_run(b, jobs, NLANES);
            for (int k = 0; k < NLANES; k++) {
                bt_run_spec_t sp = jobs[k].spec;
                sp.blocks_out = blk_a[k];
                bt_metrics_t m;
                memset(&m, 0, sizeof m);
                bt_errbuf_t eb;
                bt_errbuf_clear(&eb);
                bt_err_t rc = bt_engine_run(eng, &sp, &m, &eb);
                cr_assert_eq(jobs[k].rc, rc, "%s lane %d: rc %d vs %d", s_names[si], k,
                             jobs[k].rc, rc);
                if (rc != BT_OK) {
                    cr_assert_str_eq(jobs[k].eb.msg, eb.msg);
                    refused++;
                    continue;
                }
                for (size_t i = 0; i < bt_metrics_count(); i++) {
                    double x = bt_metrics_get(&m, i), y = bt_metrics_get(&jobs[k].metrics, i);
                    cr_assert(memcmp(&x, &y, sizeof x) == 0, "%s lane %d cfg %d: %s %.17g vs %.17g",
                              s_names[si], k, k + cfgset, bt_metrics_name(i), x, y);
                }
                cr_assert(memcmp(blk_a[k], blk_b[k], sizeof blk_a[k]) == 0,
                          "%s lane %d: PBO blocks differ", s_names[si], k);
                checked++;
                if (cfgset == 0 && k < 3 && strcmp(s_names[si], "sma_cross") == 0)
                    cr_assert(m.trades > 10, "the walk must trade (got %g)", m.trades);
            }
        }
    }
    cr_assert(refused >= 2, "the refused parameter sets were tried");
    cr_assert(checked > 500);
    bt_indcache_destroy(&cache);
    bt_batch_destroy(&b);
    bt_engine_destroy(&eng);
}

/* A SINGLE strategy on three symbols of one timeline: one sleeve per symbol,
 * summed in sleeve order, as bt_engine does. */
Test(batch, sleeves_same_bits_as_the_engine)
{
    s_series();
    enum { NS = 3, NL = 12 };
    static int64_t t[NB];
    static double o[NS][NB], h[NS][NB], l[NS][NB], c[NS][NB], v[NS][NB];
    bt_series_t ser[NS];
    memcpy(t, g_t, sizeof t);
    for (int k = 0; k < NS; k++) {
        double p = 50.0 + 20.0 * k;
        for (size_t i = 0; i < NB; i++) {
            o[k][i] = p * (1.0 + 0.004 * (s_unif() - 0.5));
            c[k][i] = o[k][i] * (1.0 + 0.03 * (s_unif() - 0.5));
            h[k][i] = fmax(o[k][i], c[k][i]) * 1.004;
            l[k][i] = fmin(o[k][i], c[k][i]) * 0.996;
            v[k][i] = 3000.0;
            p = c[k][i];
        }
        ser[k] = g_s;
        ser[k].time = t;
        ser[k].open = o[k];
        ser[k].high = h[k];
        ser[k].low = l[k];
        ser[k].close = c[k];
        ser[k].volume = v[k];
    }
    bt_engine_t *eng = bt_engine_new();
    bt_batch_t *b = bt_batch_new();
    bt_indcache_t *cache = bt_indcache_new((size_t)1 << 30);
    static double params[NL][BT_MAX_PARAMS];
    static bt_engine_cfg_t cfg[NL];
    static double blk_a[NL][3 * BT_MACC_MAX_BLOCKS], blk_b[NL][3 * BT_MACC_MAX_BLOCKS];
    static bt_batch_job_t jobs[NL];
    static const double *cols[NL * NS * (BT_DECL_MAX + 1)];
    for (size_t si = 0; si < sizeof s_names / sizeof *s_names; si++) {
        const bt_strategy_t *st = bt_strategy_find(s_names[si]);
        memset(jobs, 0, sizeof jobs);
        for (int k = 0; k < NL; k++) {
            s_params(s_names[si], k + 6, params[k]);
            s_cfg(&cfg[k], k == 7 ? 3 : k);
            bt_run_spec_t sp = {.series = ser, .nsym = NS, .strategy = st, .params = params[k],
                                .cfg = &cfg[k], .threads = 1, .blocks_out = blk_b[k]};
            bt_errbuf_t eb;
            bt_errbuf_clear(&eb);
            cr_assert(bt_batch_eligible(&sp));
            cr_assert(bt_batch_prepare(cache, &sp, &cols[k * NS * (BT_DECL_MAX + 1)], &eb), "%s",
                      eb.msg);
            jobs[k].spec = sp;
            jobs[k].cols = &cols[k * NS * (BT_DECL_MAX + 1)];
        }
        bt_batch_run(b, jobs, NL);
        for (int k = 0; k < NL; k++) {
            bt_run_spec_t sp = jobs[k].spec;
            sp.blocks_out = blk_a[k];
            sp.threads = 1 + k % 2;
            bt_metrics_t m;
            bt_errbuf_t eb;
            bt_errbuf_clear(&eb);
            cr_assert_eq(bt_engine_run(eng, &sp, &m, &eb), BT_OK, "%s", eb.msg);
            cr_assert_eq(jobs[k].rc, BT_OK, "%s", jobs[k].eb.msg);
            cr_assert(memcmp(&m, &jobs[k].metrics, sizeof m) == 0, "%s lane %d: metrics differ",
                      s_names[si], k);
            cr_assert(memcmp(blk_a[k], blk_b[k], sizeof blk_a[k]) == 0);
        }
    }
    bt_indcache_destroy(&cache);
    bt_batch_destroy(&b);
    bt_engine_destroy(&eng);
}

/* Indicator columns: value at bar t does not change when the series ends at t. */
Test(batch, columns_do_not_look_ahead)
{
    s_series();
    bt_indcache_t *cache = bt_indcache_new((size_t)1 << 30);
    const bt_decl_t d[] = {
        {.kind = "sma", .p = {17}, .np = 1},
        {.kind = "ema", .p = {9}, .np = 1},
        {.kind = "rsi", .p = {14}, .np = 1},
        {.kind = "bollinger", .p = {20, 2}, .np = 2, .out = 2},
        {.kind = "highest", .p = {30}, .np = 1, .source = BT_SRC_HIGH},
    };
    const size_t cuts[] = {1, 16, 17, 18, 500, 2047, 2048, 4001};
    for (size_t j = 0; j < sizeof d / sizeof *d; j++) {
        bt_errbuf_t eb;
        bt_errbuf_clear(&eb);
        const double *full = bt_indcache_get(cache, &g_s, &d[j], &eb);
        cr_assert(full, "%s", eb.msg);
        cr_assert(bt_indcache_get(cache, &g_s, &d[j], &eb) == full, "computed once");
        for (size_t c = 0; c < sizeof cuts / sizeof *cuts; c++) {
            bt_series_t cut = bt_series_slice_idx(&g_s, 0, cuts[c]);
            const double *part = bt_indcache_get(cache, &cut, &d[j], &eb);
            cr_assert(part && part != full);
            cr_assert(memcmp(part, full, cuts[c] * sizeof *part) == 0, "%s: cut at %zu differs",
                      d[j].kind, cuts[c]);
        }
    }
    cr_assert_eq(bt_indcache_computed(cache),
                 (sizeof d / sizeof *d) * (1 + sizeof cuts / sizeof *cuts));
    bt_indcache_destroy(&cache);
}

/* Deferred columns (the worker's batch set-up): an SMA or EMA asked for
 * while deferring gets its memory at once and its values from
 * bt_indcache_fill on two threads, the same bits as a column computed at
 * once in another cache; asking again before the fill hands out the same
 * pointer; other kinds are computed at once; a trim drops what is pending. */
Test(batch, deferred_columns_are_the_same_bits)
{
    s_series();
    bt_indcache_t *now = bt_indcache_new((size_t)1 << 30);
    bt_indcache_t *later = bt_indcache_new((size_t)1 << 30);
    bt_decl_t d[40];
    size_t nd = 0;
    for (int w = 1; w <= 37; w += 3)
        d[nd++] = (bt_decl_t){.kind = "sma", .p = {w}, .np = 1};
    for (int w = 2; w <= 40; w += 5)
        d[nd++] = (bt_decl_t){.kind = "ema", .p = {w}, .np = 1};
    d[nd++] = (bt_decl_t){.kind = "rsi", .p = {14}, .np = 1};
    const double *v[40];
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    bt_indcache_defer(later, true);
    for (size_t j = 0; j < nd; j++) {
        v[j] = bt_indcache_get(later, &g_s, &d[j], &eb);
        cr_assert(v[j], "%s", eb.msg);
        cr_assert(bt_indcache_get(later, &g_s, &d[j], &eb) == v[j], "one column per key");
    }
    /* the RSI (not an SMA or EMA of the close) is there already */
    const double *rsi = bt_indcache_get(now, &g_s, &d[nd - 1], &eb);
    cr_assert(memcmp(v[nd - 1], rsi, NB * sizeof *rsi) == 0);
    bt_indcache_defer(later, false);
    bt_indcache_fill(later, 2);
    for (size_t j = 0; j < nd; j++) {
        const double *ref = bt_indcache_get(now, &g_s, &d[j], &eb);
        cr_assert(ref && ref != v[j]);
        cr_assert(memcmp(v[j], ref, NB * sizeof *ref) == 0, "%s(%g) differs", d[j].kind,
                  d[j].p[0]);
    }
    cr_assert_eq(bt_indcache_computed(later), nd);
    /* pending columns dropped by a trim (max_bytes 0) are freed, not filled */
    bt_indcache_t *small = bt_indcache_new(0);
    bt_indcache_defer(small, true);
    cr_assert(bt_indcache_get(small, &g_s, &d[0], &eb));
    bt_indcache_trim(small);
    bt_indcache_fill(small, 2); /* nothing left to fill */
    bt_indcache_destroy(&small);
    bt_indcache_destroy(&later);
    bt_indcache_destroy(&now);
}

/* Runs decide over bars [0, n) in blocks of blk; events into at/tg. */
static size_t s_decide_all(const bt_strategy_t *st, const double *p, const double *const *v,
                           size_t n, size_t blk, uint32_t *at, double *tg)
{
    unsigned char state[BT_FAST_STATE_BYTES];
    memset(state, 0, sizeof state);
    size_t k = 0;
    for (size_t i0 = 0; i0 < n; i0 += blk) {
        size_t i1 = i0 + blk < n ? i0 + blk : n;
        k += st->fast->decide(state, p, v, i0, i1, at + k, tg + k);
    }
    return k;
}

/* decide: decisions up to bar T stay the same when every value after T is
 * garbage (a decide that peeked ahead would change), in any block size. */
Test(batch, decide_does_not_look_ahead)
{
    s_series();
    bt_indcache_t *cache = bt_indcache_new((size_t)1 << 30);
    static uint32_t at0[NB], at1[NB];
    static double tg0[NB], tg1[NB];
    static double junk[BT_DECL_MAX + 1][NB];
    const size_t cuts[] = {40, 777, 2047, 3000, 5990};
    const size_t blks[] = {1, 7, 2048, NB};
    for (size_t si = 0; si < sizeof s_names / sizeof *s_names; si++) {
        const bt_strategy_t *st = bt_strategy_find(s_names[si]);
        for (int k = 0; k < 6; k++) {
            double p[BT_MAX_PARAMS];
            s_params(s_names[si], k == 5 ? 6 : k, p);
            bt_engine_cfg_t c;
            bt_engine_cfg_defaults(&c);
            bt_run_spec_t sp = {.series = &g_s, .nsym = 1, .strategy = st, .params = p,
                                .cfg = &c};
            const double *cols[BT_DECL_MAX + 1];
            bt_errbuf_t eb;
            bt_errbuf_clear(&eb);
            cr_assert(bt_batch_prepare(cache, &sp, cols, &eb), "%s", eb.msg);
            size_t nc = 0;
            while (nc <= BT_DECL_MAX && cols[nc])
                nc++;
            size_t n0 = s_decide_all(st, p, cols, NB, 2048, at0, tg0);
            cr_assert(n0 > 0, "%s %d never signals", s_names[si], k);
            for (size_t c2 = 0; c2 < sizeof cuts / sizeof *cuts; c2++) {
                size_t T = cuts[c2];
                const double *v[BT_DECL_MAX + 1] = {0};
                for (size_t j = 0; j < nc; j++) {
                    memcpy(junk[j], cols[j], (T + 1) * sizeof(double));
                    for (size_t i = T + 1; i < NB; i++)
                        junk[j][i] = (i % 3 == 0) ? NAN : (i % 3 == 1 ? -1e300 : 1e300);
                    v[j] = junk[j];
                }
                for (size_t bi = 0; bi < sizeof blks / sizeof *blks; bi++) {
                    size_t n1 = s_decide_all(st, p, v, NB, blks[bi], at1, tg1);
                    size_t e0 = 0, e1 = 0;
                    while (e0 < n0 && at0[e0] <= T)
                        e0++;
                    while (e1 < n1 && at1[e1] <= T)
                        e1++;
                    cr_assert_eq(e0, e1, "%s: %zu vs %zu decisions up to bar %zu", s_names[si],
                                 e0, e1, T);
                    cr_assert(memcmp(at0, at1, e0 * sizeof *at0) == 0);
                    cr_assert(memcmp(tg0, tg1, e0 * sizeof *tg0) == 0);
                }
            }
        }
    }
    bt_indcache_destroy(&cache);
}

Test(batch, eligibility)
{
    s_series();
    const bt_strategy_t *st = bt_strategy_find("sma_cross");
    const bt_strategy_t *bh = bt_strategy_find("buy_and_hold");
    double p[3] = {5, 20, 0};
    bt_engine_cfg_t c;
    bt_engine_cfg_defaults(&c);
    bt_run_spec_t sp = {.series = &g_s, .nsym = 1, .strategy = st, .params = p, .cfg = &c};
    cr_assert(bt_batch_eligible(&sp));
    c.stop_loss = 0.05;
    cr_assert_not(bt_batch_eligible(&sp), "engine exits run per point");
    bt_engine_cfg_defaults(&c);
    c.fill_at = BT_FILL_SAME_CLOSE;
    cr_assert_not(bt_batch_eligible(&sp));
    bt_engine_cfg_defaults(&c);
    c.trade_start = g_t[100];
    cr_assert_not(bt_batch_eligible(&sp), "warm-up runs per point");
    bt_engine_cfg_defaults(&c);
    c.size_at = BT_SIZE_AT_FILL;
    cr_assert_not(bt_batch_eligible(&sp), "sizing at the fill runs per point");
    bt_engine_cfg_defaults(&c);
    c.risk_scope = BT_RISK_ACCOUNT;
    cr_assert_not(bt_batch_eligible(&sp), "account-level limits run per point");
    bt_engine_cfg_defaults(&c);
    bt_series_t two[2] = {g_s, bt_series_slice_idx(&g_s, 1, NB)};
    sp.series = two;
    sp.nsym = 2;
    cr_assert(bt_batch_eligible(&sp));
    bt_indcache_t *cache = bt_indcache_new((size_t)1 << 30);
    const double *cols[2 * (BT_DECL_MAX + 1)];
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    cr_assert_not(bt_batch_prepare(cache, &sp, cols, &eb),
                  "sleeves on different timelines run per point");
    two[1] = g_s;
    cr_assert(bt_batch_prepare(cache, &sp, cols, &eb), "%s", eb.msg);
    bt_indcache_destroy(&cache);
    sp.series = &g_s;
    sp.nsym = 1;
    sp.strategy = bh;
    cr_assert(bh);
    cr_assert_not(bt_batch_eligible(&sp), "a strategy that declares nothing runs as today");
}

/* bt_batch_set_fastev for s_same_as_engine's batch. */
static bool g_fastev = true;

/* Runs n one-symbol jobs of st over ser through bt_batch_run and through
 * bt_engine_run; metrics and PBO blocks must be the same bits. Returns the
 * engine's metrics in out (n entries). */
static void s_same_as_engine(const bt_series_t *ser, const bt_strategy_t *st, double (*params)[BT_MAX_PARAMS],
                             bt_engine_cfg_t *cfg, size_t n, bt_metrics_t *out)
{
    enum { NMAX = 64 };
    cr_assert(n <= NMAX);
    bt_engine_t *eng = bt_engine_new();
    bt_batch_t *b = bt_batch_new();
    bt_indcache_t *cache = bt_indcache_new((size_t)1 << 30);
    cr_assert(eng && b && cache);
    bt_batch_set_fastev(b, g_fastev);
    static double blk_a[NMAX][3 * BT_MACC_MAX_BLOCKS], blk_b[NMAX][3 * BT_MACC_MAX_BLOCKS];
    static bt_batch_job_t jobs[NMAX];
    static const double *cols[NMAX * (BT_DECL_MAX + 1)];
    memset(jobs, 0, sizeof jobs);
    memset(blk_a, 0, sizeof blk_a);
    memset(blk_b, 0, sizeof blk_b);
    for (size_t k = 0; k < n; k++) {
        bt_run_spec_t sp = {.series = ser, .nsym = 1, .strategy = st, .params = params[k],
                            .cfg = &cfg[k], .threads = 1, .blocks_out = blk_b[k]};
        cr_assert(bt_batch_eligible(&sp));
        bt_errbuf_t eb;
        bt_errbuf_clear(&eb);
        cr_assert(bt_batch_prepare(cache, &sp, &cols[k * (BT_DECL_MAX + 1)], &eb), "%s", eb.msg);
        jobs[k].spec = sp;
        jobs[k].cols = &cols[k * (BT_DECL_MAX + 1)];
    }
    bt_batch_run(b, jobs, n);
    for (size_t k = 0; k < n; k++) {
        bt_run_spec_t sp = jobs[k].spec;
        sp.blocks_out = blk_a[k];
        bt_errbuf_t eb;
        bt_errbuf_clear(&eb);
        memset(&out[k], 0, sizeof out[k]);
        cr_assert_eq(bt_engine_run(eng, &sp, &out[k], &eb), BT_OK, "%s", eb.msg);
        cr_assert_eq(jobs[k].rc, BT_OK, "%s", jobs[k].eb.msg);
        for (size_t i = 0; i < bt_metrics_count(); i++) {
            double x = bt_metrics_get(&out[k], i), y = bt_metrics_get(&jobs[k].metrics, i);
            cr_assert(memcmp(&x, &y, sizeof x) == 0, "lane %zu of %zu: %s %.17g vs %.17g", k, n,
                      bt_metrics_name(i), x, y);
        }
        cr_assert(memcmp(blk_a[k], blk_b[k], sizeof blk_a[k]) == 0,
                  "lane %zu of %zu: PBO blocks differ", k, n);
    }
    bt_indcache_destroy(&cache);
    bt_batch_destroy(&b);
    bt_engine_destroy(&eng);
}

/* The one-symbol pass runs four lanes per vector: any lane count (padding
 * lanes in the last group), lanes with the same parameters (events on the
 * same bars in one group), lanes that go long and short within a block,
 * and PBO blocks of different counts closing at different steps of one
 * group, all give the engine's bits. */
Test(batch, vector_groups_same_bits)
{
    s_series();
    const bt_strategy_t *st = bt_strategy_find("sma_cross");
    static double params[64][BT_MAX_PARAMS];
    static bt_engine_cfg_t cfg[64];
    static bt_metrics_t m[64];
    for (size_t n = 1; n <= 9; n++) {
        for (size_t k = 0; k < n; k++) {
            /* lanes 0-3: the same point; the rest: short windows that trade often */
            params[k][0] = k < 4 ? 3 : 2 + (double)(k % 3);
            params[k][1] = k < 4 ? 7 : 5 + (double)k;
            params[k][2] = 1; /* short on a cross down: flat -> long -> short */
            bt_engine_cfg_defaults(&cfg[k]);
            cfg[k].allow_short = true;
            cfg[k].commission_rate = 0.001;
            cfg[k].pbo_blocks = k % 3 == 0 ? 16 : k % 3 == 1 ? 32 : 0;
            cfg[k].close_at_end = k % 2 == 1;
        }
        s_same_as_engine(&g_s, st, params, cfg, n, m);
    }
    /* the short windows trade hundreds of times over 6,000 bars: several
     * signals within every block of the pass */
    cr_assert(m[5].trades > 200, "lane 5 traded %g times", m[5].trades);
    /* fewer steps than PBO blocks (16 and 32 over 12 steps): empty blocks,
     * and several blocks closing at one step */
    bt_series_t short12 = bt_series_slice_idx(&g_s, 0, 12);
    for (size_t k = 0; k < 6; k++) {
        params[k][0] = 2;
        params[k][1] = 3 + (double)(k % 2);
        cfg[k].close_at_end = false;
    }
    s_same_as_engine(&short12, st, params, cfg, 6, m);
}

/* Groups of eight lanes (two quads stepped together), in any number: 1 to
 * 17 lanes and 40 (one to five groups, the last one partial), with the
 * lanes given in an order the pass changes (it sorts them by their columns:
 * the slow window first, so lanes of one slow window, given far apart, end
 * up in one group). Identical points given far apart have their events on
 * the same bars in one group; windows of 2 to 9 bars trade several times
 * in every block of 2,048 bars; PBO blocks of 16, 32 and none close at
 * different steps, inside the bar blocks; short lanes go flat -> long ->
 * short. Each lane gives bt_engine_run's bits. */
Test(batch, groups_of_eight_same_bits)
{
    s_series();
    const bt_strategy_t *st = bt_strategy_find("sma_cross");
    static double params[64][BT_MAX_PARAMS];
    static bt_engine_cfg_t cfg[64];
    static bt_metrics_t m[64];
    const size_t ns[] = {1, 2, 7, 8, 9, 15, 16, 17, 40};
    for (size_t a = 0; a < sizeof ns / sizeof *ns; a++) {
        size_t n = ns[a];
        for (size_t k = 0; k < n; k++) {
            size_t q = k % 5 == 4 ? 0 : k; /* every fifth lane: lane 0's point again */
            params[k][0] = 2 + (double)(q % 4);
            params[k][1] = 6 + (double)((q * 7) % 5); /* slow windows interleaved */
            params[k][2] = (double)(k % 2); /* odd lanes short on a cross down */
            bt_engine_cfg_defaults(&cfg[k]);
            cfg[k].allow_short = k % 2 == 1;
            cfg[k].commission_rate = 0.001;
            cfg[k].slippage_bps = 2;
            cfg[k].pbo_blocks = k % 3 == 0 ? 16 : k % 3 == 1 ? 32 : 0;
            cfg[k].close_at_end = k % 4 == 1;
        }
        s_same_as_engine(&g_s, st, params, cfg, n, m);
        if (n == 40) {
            cr_assert(m[4].trades == m[0].trades && m[4].sharpe == m[0].sharpe,
                      "lanes 0 and 4 are the same point");
            cr_assert(m[1].trades > 200, "lane 1 traded %g times", m[1].trades);
        }
    }
}

/* Equity exactly 0 at a step (all cash in 100 shares at 1,000, then a close
 * of 0): the next step's return is 0 (bt_macc_step's prev == 0 rule) in the
 * vector step as in the engine, and the drawdown is exactly 1. */
Test(batch, zero_equity_same_bits)
{
    enum { N = 120 };
    static int64_t t[N];
    static double o[N], h[N], l[N], c[N], v[N];
    for (size_t i = 0; i < N; i++) {
        double p = i >= 20 && i < 30 ? 900.0 : 1000.0;
        t[i] = (int64_t)(1262563200 + 86400 * (int64_t)i) * 1000000000;
        o[i] = h[i] = l[i] = c[i] = p;
        v[i] = 1e6;
    }
    c[40] = l[40] = 0.0; /* the position is worth nothing at this close */
    c[41] = l[41] = 0.0;
    bt_series_t s = {.n = N, .time = t, .open = o, .high = h, .low = l, .close = c, .volume = v};
    snprintf(s.symbol, sizeof s.symbol, "ZERO");
    const bt_strategy_t *st = bt_strategy_find("sma_cross");
    static double params[8][BT_MAX_PARAMS];
    static bt_engine_cfg_t cfg[8];
    static bt_metrics_t m[8];
    for (size_t k = 0; k < 8; k++) {
        params[k][0] = 2 + (double)(k % 2);
        params[k][1] = 5 + (double)(k / 2);
        params[k][2] = 0;
        bt_engine_cfg_defaults(&cfg[k]);
        cfg[k].initial_cash = 100000;
        cfg[k].size_value = 1.0; /* all of it: 100 shares at 1,000, cash 0 */
        cfg[k].pbo_blocks = k % 2 ? 4 : 0;
    }
    s_same_as_engine(&s, st, params, cfg, 8, m);
    cr_assert_eq(m[0].max_drawdown, 1.0, "equity reached 0 (max_drawdown %.17g)", m[0].max_drawdown);
}

/* Bars where no lane of a group has a position or an event take the flat
 * metrics step (s_vflat): no return sums, but the equity sum (turnover)
 * grows every bar and the peak's time moves. Here every lane is flat at
 * its initial cash for 200 bars (a constant price: no cross), then buys in
 * a dip (commission puts the equity just below the peak) and recovers in
 * a rally of 2 a day: the drawdown duration counts from the last bar at
 * the peak (a few days), not from bar 0 (over 200 days). Each lane gives
 * the engine's bits (making the flat equity sum add 1e-7 more fails it). */
Test(batch, flat_runs_same_bits)
{
    enum { N = 400 };
    static int64_t t[N];
    static double o[N], h[N], l[N], c[N], v[N];
    for (size_t i = 0; i < N; i++) {
        double p = 100.0;
        if (i >= 200 && i < 205)
            p = 100.0 - 2.0 * (double)(i - 199); /* 98 .. 90 */
        else if (i >= 205)
            p = 90.0 + 2.0 * (double)(i - 204); /* 92, 94, ... */
        t[i] = (int64_t)(1262563200 + 86400 * (int64_t)i) * 1000000000;
        o[i] = h[i] = l[i] = c[i] = p;
        v[i] = 1e6;
    }
    bt_series_t s = {.n = N, .time = t, .open = o, .high = h, .low = l, .close = c, .volume = v};
    snprintf(s.symbol, sizeof s.symbol, "FLAT");
    const bt_strategy_t *st = bt_strategy_find("sma_cross");
    static double params[16][BT_MAX_PARAMS];
    static bt_engine_cfg_t cfg[16];
    static bt_metrics_t m[16];
    for (size_t k = 0; k < 16; k++) {
        params[k][0] = 2 + (double)(k % 3);
        params[k][1] = 6 + (double)(k / 3);
        params[k][2] = 0;
        bt_engine_cfg_defaults(&cfg[k]);
        cfg[k].commission_rate = 0.001;
        cfg[k].pbo_blocks = k % 2 ? 8 : 0;
    }
    s_same_as_engine(&s, st, params, cfg, 16, m);
    for (size_t k = 0; k < 16; k++) {
        cr_assert(m[k].trades == 0 && m[k].final_equity > 100000.0, "lane %zu bought and gained",
                  k);
        cr_assert(m[k].max_drawdown_duration > 0.0 && m[k].max_drawdown_duration < 30.0,
                  "lane %zu: drawdown duration %.17g days counts from the last flat bar", k,
                  m[k].max_drawdown_duration);
    }
}

/* The inline event step (bt_fastev) against the engine's functions on
 * lanes that trade on most bars: sma_cross 1/2 to 3/5 crosses every few
 * bars (100 to 1,500 round trips over 6,000 bars), so an exit fill and a
 * new entry signal often fall on one bar; a
 * short signal (short = 1) on a long-only book means flat; sizing at 100 %
 * of equity has buys refused for cash when the open gaps up; a position
 * is open on the last bar (with and without close_at_end); commissions by
 * rate, per share and with a minimum; fractional and whole shares. Run with
 * the inline step and without, every lane gives bt_engine_run's bits. */
Test(batch, fast_events_same_bits)
{
    s_series();
    const bt_strategy_t *st = bt_strategy_find("sma_cross");
    static double params[32][BT_MAX_PARAMS];
    static bt_engine_cfg_t cfg[32];
    static bt_metrics_t m[32];
    enum { N = 24 };
    for (size_t k = 0; k < N; k++) {
        params[k][0] = 1 + (double)(k % 3);
        params[k][1] = params[k][0] + 1 + (double)((k / 6) % 3);
        params[k][2] = (double)(k % 4 == 3); /* a cross down targets -1 */
        bt_engine_cfg_t *c = &cfg[k];
        bt_engine_cfg_defaults(c);
        c->commission_rate = 0.001;
        c->slippage_bps = 2;
        switch (k % 6) {
        case 0:
            break;
        case 1:
            c->size_value = 1.0; /* a gap up at the open: insufficient cash */
            c->close_at_end = true;
            break;
        case 2:
            c->fractional = true;
            c->size_value = 0.5;
            break;
        case 3:
            c->commission_per_share = 0.01;
            c->commission_min = 2.0;
            c->close_at_end = true;
            break;
        case 4:
            c->slippage_bps = 0;
            c->commission_rate = 0;
            c->pbo_blocks = 0;
            break;
        case 5:
            c->size_value = 1.0;
            c->fractional = true;
            c->start = g_t[1000];
            break;
        }
    }
    static bt_metrics_t on[32];
    g_fastev = true;
    s_same_as_engine(&g_s, st, params, cfg, N, on);
    g_fastev = false;
    s_same_as_engine(&g_s, st, params, cfg, N, m);
    g_fastev = true;
    double rej = 0.0;
    for (size_t k = 0; k < N; k++) {
        cr_assert(on[k].trades > 100, "lane %zu traded %g times", k, on[k].trades);
        if (k % 6 == 1)
            rej += on[k].rejected_orders;
    }
    cr_assert(rej > 0, "some buys were refused for cash");
}

/* bt_su_cross_decide steps only the bars of a stretch of 8 that can act;
 * it must give the bar-by-bar loop's decisions, with NaN holes (inf - inf)
 * and crosses on every position of a stretch, in any block size. */
Test(batch, cross_decide_skips_nothing)
{
    enum { N = 3000 };
    static double f[N], s[N];
    static uint32_t at0[N], at1[N];
    static double tg0[N], tg1[N];
    for (size_t i = 0; i < N; i++) {
        f[i] = i < 13 ? NAN : 100.0 + 3.0 * (s_unif() - 0.5);
        s[i] = i < 29 ? NAN : 100.0 + (i % 50 < 25 ? 0.5 : -0.5);
        if (i % 97 == 0 && i > 100) /* a diff of NaN in the middle */
            f[i] = s[i] = INFINITY;
        if (i % 131 == 0) /* a diff of exactly 0 */
            f[i] = s[i];
    }
    const double *v[2] = {f, s};
    for (int down = 0; down < 2; down++) {
        /* the reference: the plain loop, bar by bar */
        bt_su_cross_t x0;
        memset(&x0, 0, sizeof x0);
        x0.down = -(double)down;
        size_t k0 = 0;
        for (size_t i = 0; i < N; i++) {
            if (f[i] != f[i] || s[i] != s[i])
                continue;
            bt_su_cross_at(&x0, f[i] - s[i], i, at0, tg0, &k0);
        }
        cr_assert(k0 > 100);
        const size_t blks[] = {1, 5, 8, 9, 64, 1000, N};
        for (size_t b = 0; b < sizeof blks / sizeof *blks; b++) {
            bt_su_cross_t x1;
            memset(&x1, 0, sizeof x1);
            size_t k1 = 0;
            for (size_t i0 = 0; i0 < N; i0 += blks[b]) {
                size_t i1 = i0 + blks[b] < N ? i0 + blks[b] : N;
                k1 += bt_su_cross_decide(&x1, -(double)down, v, i0, i1, at1 + k1, tg1 + k1);
            }
            cr_assert_eq(k1, k0, "block %zu: %zu signals vs %zu", blks[b], k1, k0);
            cr_assert(memcmp(at0, at1, k0 * sizeof *at0) == 0, "block %zu: bars differ", blks[b]);
            cr_assert(memcmp(tg0, tg1, k0 * sizeof *tg0) == 0, "block %zu: targets differ",
                      blks[b]);
        }
    }
}
