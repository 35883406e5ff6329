/* Shared helpers for the tests/unit/test_engine*.c programs: tiny bar sets,
 * a scripted strategy (signals, orders and cancels at given steps) and a
 * step hook that checks the engine's invariants on every step:
 *   equity == cash + sum(position * close) (1e-9 relative),
 *   no fill before its decision bar, and none at it unless same-close.
 * Each test program includes this once. */
#ifndef TEST_ENGINE_UTIL_H
#define TEST_ENGINE_UTIL_H

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bt_engine.h"
#include "bt_time.h"

#define TU_MAXBARS 64
#define TU_MAXSYM 4
#define TU_MAXLOG 512

/* One symbol's bars, daily from 2024-01-01 (a Monday). */
typedef struct {
    int64_t t[TU_MAXBARS];
    double o[TU_MAXBARS], h[TU_MAXBARS], l[TU_MAXBARS], c[TU_MAXBARS], v[TU_MAXBARS];
    bt_series_t s;
} tu_ser_t;

static int64_t tu_day(int k)
{
    return (bt_days_from_civil(2024, 1, 1) + k) * BT_NS_PER_DAY;
}

/* bars[i] = {open, high, low, close}; volume vol on every bar; bar i on day
 * day0 + i * every. */
static void tu_ser_init(tu_ser_t *x, const char *sym, size_t n, const double (*bars)[4],
                        double vol, int day0, int every)
{
    memset(x, 0, sizeof *x);
    cr_assert(n <= TU_MAXBARS);
    for (size_t i = 0; i < n; i++) {
        x->t[i] = tu_day(day0 + (int)i * every);
        x->o[i] = bars[i][0];
        x->h[i] = bars[i][1];
        x->l[i] = bars[i][2];
        x->c[i] = bars[i][3];
        x->v[i] = vol;
    }
    snprintf(x->s.symbol, sizeof x->s.symbol, "%s", sym);
    x->s.n = n;
    x->s.time = x->t;
    x->s.open = x->o;
    x->s.high = x->h;
    x->s.low = x->l;
    x->s.close = x->c;
    x->s.volume = x->v;
}

/* ---- scripted strategy ---- */

enum { TU_SIGNAL = 1, TU_ORDER, TU_CANCEL };

typedef struct {
    size_t step;       /* book step at which to act */
    int what;          /* TU_SIGNAL, TU_ORDER, TU_CANCEL */
    uint32_t sym;      /* signal symbol */
    double target;     /* signal target */
    bt_order_req_t req;/* order */
    int cancel_of;     /* TU_CANCEL: index of the TU_ORDER action whose id to cancel */
} tu_act_t;

static const tu_act_t *g_acts;
static size_t g_nacts;
static int64_t g_ids[64];   /* id returned for action i */
static int g_cancel_ok[64]; /* bt_cancel result for action i */
static size_t g_nfill_cb;   /* on_fill calls */

static size_t tu_state_size(const double *params, size_t nsym)
{
    return 8;
}

static bt_err_t tu_init(void *state, const double *params, size_t nsym, bt_errbuf_t *eb)
{
    return BT_OK;
}

static void tu_on_bar(void *state, bt_ctx_t *ctx)
{
    for (size_t i = 0; i < g_nacts; i++) {
        const tu_act_t *a = &g_acts[i];
        if (a->step != ctx->step)
            continue;
        if (a->what == TU_SIGNAL)
            bt_signal(ctx, a->sym, a->target);
        else if (a->what == TU_ORDER)
            g_ids[i] = bt_order(ctx, &a->req);
        else if (a->what == TU_CANCEL)
            g_cancel_ok[i] = bt_cancel(ctx, g_ids[a->cancel_of]);
    }
}

static void tu_on_fill(void *state, bt_ctx_t *ctx, const bt_fill_t *f)
{
    g_nfill_cb++;
}

static const bt_strategy_t tu_script = {
    .name = "script",
    .summary = "scripted test actions",
    .kind = BT_STRAT_SINGLE,
    .params = NULL,
    .nparams = 0,
    .state_size = tu_state_size,
    .init = tu_init,
    .on_bar = tu_on_bar,
    .on_fill = tu_on_fill,
};

static const bt_strategy_t tu_script_pf = {
    .name = "script_pf",
    .summary = "scripted test actions, one book",
    .kind = BT_STRAT_PORTFOLIO,
    .state_size = tu_state_size,
    .init = tu_init,
    .on_bar = tu_on_bar,
    .on_fill = tu_on_fill,
};

/* ---- step hook: invariants and logs ---- */

typedef struct {
    size_t book, step;
    bt_step_fill_t f;
} tu_fill_t;

static tu_fill_t g_fills[TU_MAXLOG];
static size_t g_nfills;
static double g_eq[TU_MAXLOG], g_cash[TU_MAXLOG], g_pos[TU_MAXLOG]; /* book 0 per step */
static size_t g_nsteps;
static int g_bad;          /* invariant violations */
static int g_same_close;   /* the run fills market orders at the decision close */
static char g_bad_msg[256];

static void tu_hook(void *user, const bt_step_info_t *in)
{
    double sum = in->cash;
    for (size_t s = 0; s < in->nsym; s++)
        sum += in->position[s] * in->close[s];
    int bad = fabs(sum - in->equity) > 1e-9 * fmax(1.0, fabs(in->equity));
    for (size_t k = 0; k < in->nfills; k++) {
        const bt_step_fill_t *f = &in->fills[k];
        if (f->time != in->time || f->time < f->decided || (!g_same_close && f->time == f->decided))
            bad = 1;
    }
#pragma omp critical(tu_hook)
    {
        if (bad && !g_bad)
            snprintf(g_bad_msg, sizeof g_bad_msg, "book %zu step %zu: equity %.12g vs %.12g",
                     in->book, in->step, in->equity, sum);
        g_bad += bad;
        for (size_t k = 0; k < in->nfills && g_nfills < TU_MAXLOG; k++)
            g_fills[g_nfills++] = (tu_fill_t){in->book, in->step, in->fills[k]};
        if (in->book == 0 && in->step < TU_MAXLOG) {
            g_eq[in->step] = in->equity;
            g_cash[in->step] = in->cash;
            g_pos[in->step] = in->position[0];
            g_nsteps = in->step + 1;
        }
    }
}

/* A config for hand calculations: 1000 cash, no costs, FIXED size 1. */
static bt_engine_cfg_t tu_cfg(void)
{
    bt_engine_cfg_t c;
    bt_engine_cfg_defaults(&c);
    c.initial_cash = 1000.0;
    c.sizing = BT_SIZE_FIXED;
    c.size_value = 1.0;
    return c;
}

/* Runs the script on series; records into rec; asserts success and the
 * invariants. Returns the metrics. */
static inline bt_metrics_t tu_run_ex(const bt_engine_cfg_t *cfg, const bt_series_t *ser, size_t nsym,
                              const bt_strategy_t *st, const tu_act_t *acts, size_t nacts,
                              bt_recorder_t *rec, int threads)
{
    g_acts = acts;
    g_nacts = nacts;
    memset(g_ids, 0, sizeof g_ids);
    memset(g_cancel_ok, 0, sizeof g_cancel_ok);
    g_nfills = g_nsteps = g_nfill_cb = 0;
    g_bad = 0;
    g_same_close = cfg->fill_at == BT_FILL_SAME_CLOSE;
    bt_engine_t *eng = bt_engine_new();
    cr_assert_not_null(eng);
    bt_run_spec_t spec = {.series = ser, .nsym = nsym, .strategy = st, .params = NULL,
                          .cfg = cfg, .threads = threads, .rec = rec, .on_step = tu_hook};
    bt_metrics_t m;
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    bt_err_t rc = bt_engine_run(eng, &spec, &m, &eb);
    bt_engine_destroy(&eng);
    cr_assert_eq(rc, BT_OK, "run failed: %s", eb.msg);
    cr_assert_eq(g_bad, 0, "invariant broken: %s", g_bad_msg);
    return m;
}

static inline bt_metrics_t tu_run(const bt_engine_cfg_t *cfg, const bt_series_t *ser,
                           const tu_act_t *acts, size_t nacts, bt_recorder_t *rec)
{
    return tu_run_ex(cfg, ser, 1, &tu_script, acts, nacts, rec, 1);
}

/* Order record with this id (asserts it exists). */
static inline const bt_order_rec_t *tu_order(const bt_recorder_t *rec, int64_t id)
{
    for (size_t i = 0; i < rec->norders; i++)
        if (rec->orders[i].id == id)
            return &rec->orders[i];
    cr_assert_fail("no order record with id %lld", (long long)id);
    return NULL;
}

/* The k-th order record whose reason starts with prefix, or NULL. */
static inline const bt_order_rec_t *tu_order_reason(const bt_recorder_t *rec, const char *prefix)
{
    for (size_t i = 0; i < rec->norders; i++)
        if (strncmp(rec->orders[i].reason, prefix, strlen(prefix)) == 0)
            return &rec->orders[i];
    return NULL;
}

#define TU_EQ(a, b) cr_assert_float_eq((a), (b), 1e-9 * fmax(1.0, fabs((double)(b))), \
                                      "%s = %.12g, expected %.12g", #a, (double)(a), (double)(b))

#define TU_MKT(sym_, q) {.sym = (sym_), .qty = (q), .type = BT_ORD_MARKET}
#define TU_N(a) (sizeof(a) / sizeof((a)[0]))

#endif
