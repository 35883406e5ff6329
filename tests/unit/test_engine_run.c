/* Engine runs as a whole: SINGLE sleeves on several symbols (identical at 1
 * and 3 threads, union timeline), the PORTFOLIO book's merged feed
 * (has_bar), start/end slicing, benchmark return, trade pnl adding up,
 * strategy init errors, bad config, and the step hook's own check. */
#include "test_engine_util.h"

#include "bt_registry.h"

#define RW_N 400

/* A random walk with a fixed seed (64-bit LCG), bar i on day day0 + i * every. */
typedef struct {
    int64_t t[RW_N];
    double o[RW_N], h[RW_N], l[RW_N], c[RW_N], v[RW_N];
    bt_series_t s;
} rw_t;

static double s_u01(uint64_t *st)
{
    *st = *st * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*st >> 11) / 9007199254740992.0;
}

static void s_rw(rw_t *x, uint64_t seed, size_t n, int day0, int every)
{
    memset(x, 0, sizeof *x);
    double p = 100.0;
    for (size_t i = 0; i < n; i++) {
        double o = p * (1.0 + 0.01 * (s_u01(&seed) - 0.5));
        double c = o * (1.0 + 0.04 * (s_u01(&seed) - 0.5));
        x->t[i] = tu_day(day0 + (int)i * every);
        x->o[i] = o;
        x->c[i] = c;
        x->h[i] = fmax(o, c) * (1.0 + 0.01 * s_u01(&seed));
        x->l[i] = fmin(o, c) * (1.0 - 0.01 * s_u01(&seed));
        x->v[i] = 1000 + 1000 * s_u01(&seed);
        p = c;
    }
    x->s.n = n;
    x->s.time = x->t;
    x->s.open = x->o;
    x->s.high = x->h;
    x->s.low = x->l;
    x->s.close = x->c;
    x->s.volume = x->v;
}

static rw_t g_rw[3];

static bt_metrics_t s_sma_run(int threads, bt_recorder_t *rec, const bt_engine_cfg_t *c)
{
    const bt_strategy_t *st = bt_strategy_find("sma_cross");
    cr_assert_not_null(st);
    double params[3] = {5, 20, 1};
    bt_series_t ser[3] = {g_rw[0].s, g_rw[1].s, g_rw[2].s};
    g_same_close = 0;
    g_bad = 0;
    bt_engine_t *eng = bt_engine_new();
    bt_run_spec_t spec = {.series = ser, .nsym = 3, .strategy = st, .params = params, .cfg = c,
                          .threads = threads, .rec = rec, .on_step = tu_hook};
    bt_metrics_t m;
    bt_errbuf_t eb;
    bt_err_t rc = bt_engine_run(eng, &spec, &m, &eb);
    cr_assert_eq(rc, BT_OK, "%s", eb.msg);
    cr_assert_eq(g_bad, 0, "%s", g_bad_msg);
    /* the engine object is reused: a second run gives the same answer */
    bt_metrics_t m2;
    spec.rec = NULL;
    rc = bt_engine_run(eng, &spec, &m2, &eb);
    cr_assert_eq(rc, BT_OK, "%s", eb.msg);
    cr_assert(memcmp(&m, &m2, sizeof m) == 0, "second run on the same engine differs");
    bt_engine_destroy(&eng);
    cr_assert_null(eng);
    return m;
}

static bt_engine_cfg_t s_busy_cfg(void)
{
    bt_engine_cfg_t c;
    bt_engine_cfg_defaults(&c);
    c.allow_short = true;
    c.commission_rate = 0.0005;
    c.commission_min = 1.0;
    c.slippage_bps = 2;
    c.volume_cap = 0.5;
    c.stop_loss = 0.05;
    c.take_profit = 0.08;
    c.close_at_end = true;
    return c;
}

Test(engine_run, sleeves_identical_across_threads)
{
    s_rw(&g_rw[0], 1, RW_N, 0, 1);
    s_rw(&g_rw[1], 2, RW_N - 50, 30, 1); /* starts later, ends at the same time as 0? no: later */
    s_rw(&g_rw[2], 3, RW_N / 2, 0, 2);   /* every other day */
    bt_engine_cfg_t c = s_busy_cfg();
    bt_recorder_t r1, r3;
    bt_recorder_init(&r1);
    bt_recorder_init(&r3);
    bt_metrics_t m1 = s_sma_run(1, &r1, &c);
    bt_metrics_t m3 = s_sma_run(3, &r3, &c);
    cr_assert(memcmp(&m1, &m3, sizeof m1) == 0, "metrics differ between 1 and 3 threads");
    cr_assert(m1.trades > 3, "the strategy should trade (%g trades)", m1.trades);
    cr_assert_eq(r1.norders, r3.norders);
    cr_assert_eq(r1.ntrades, r3.ntrades);
    cr_assert_eq(r1.nequity, r3.nequity);
    cr_assert(memcmp(r1.orders, r3.orders, r1.norders * sizeof *r1.orders) == 0);
    cr_assert(memcmp(r1.equity, r3.equity, r1.nequity * sizeof *r1.equity) == 0);
    /* union timeline: days 0..399 (sym 0), 30..379 (sym 1), even days 0..398 (sym 2) */
    cr_assert_eq(r1.nequity, RW_N);
    /* ids are unique after merging the sleeves */
    for (size_t i = 1; i < r1.norders; i++)
        for (size_t j = 0; j < i; j++)
            cr_assert(r1.orders[i].id == 0 || r1.orders[i].id != r1.orders[j].id);
    /* all positions closed at the end: trade pnls add up to the equity change */
    double sum = 0.0;
    for (size_t i = 0; i < r1.ntrades; i++) {
        cr_assert(!r1.trades[i].open);
        sum += r1.trades[i].pnl;
    }
    TU_EQ(sum, m1.final_equity - c.initial_cash);
    TU_EQ(m1.trades, (double)r1.ntrades); /* sleeves' trade counts summed once each */
    TU_EQ(r1.equity[r1.nequity - 1].equity, m1.final_equity);
    bt_recorder_fini(&r1);
    bt_recorder_fini(&r3);
}

Test(engine_run, sleeve_carries_equity_before_its_first_bar)
{
    /* A on days 0..3, B on days 2..3 only; each sleeve gets 500. B buys 10
     * at its first bar (day 2) and fills on day 3 at open 11. */
    static const double a[4][4] = {{10, 10, 10, 10}, {10, 10, 10, 10}, {10, 10, 10, 10},
                                   {10, 10, 10, 10}};
    static const double b[2][4] = {{10, 10, 10, 10}, {11, 12, 11, 12}};
    tu_ser_t x[2];
    tu_ser_init(&x[0], "A", 4, a, 1e6, 0, 1);
    tu_ser_init(&x[1], "B", 2, b, 1e6, 2, 1);
    bt_series_t ser[2] = {x[0].s, x[1].s};
    bt_engine_cfg_t c = tu_cfg();
    tu_act_t acts[] = {{.step = 0, .what = TU_ORDER, .req = TU_MKT(0, 10)}};
    bt_recorder_t rec;
    bt_recorder_init(&rec);
    bt_metrics_t m = tu_run_ex(&c, ser, 2, &tu_script, acts, TU_N(acts), &rec, 2);
    /* sleeve A buys 10 @ 10 (no change); sleeve B buys 10 @ 11, close 12: +10 */
    cr_assert_eq(rec.nequity, 4);
    TU_EQ(rec.equity[0].equity, 1000.0);
    TU_EQ(rec.equity[3].equity, 1010.0);
    TU_EQ(m.final_equity, 1010.0);
    /* benchmark: mean(10/10 - 1, 12/10 - 1) = 0.1 */
    TU_EQ(m.benchmark_return, 0.1);
    cr_assert_eq(rec.norders, 2);
    cr_assert_eq(rec.orders[1].sym, 1);
    cr_assert_neq(rec.orders[0].id, rec.orders[1].id);
    bt_recorder_fini(&rec);
}

/* Portfolio strategy that logs has_bar per step. */
static int g_has[8][2];
static size_t g_hsteps;

static void s_log_bar(void *state, bt_ctx_t *ctx)
{
    if (ctx->step < 8) {
        g_has[ctx->step][0] = ctx->has_bar[0];
        g_has[ctx->step][1] = ctx->has_bar[1];
        g_hsteps = ctx->step + 1;
    }
    if (ctx->step == 0)
        bt_signal(ctx, 0, 0.5);
    if (ctx->step == 1)
        bt_signal(ctx, 1, 0.5);
}

Test(engine_run, portfolio_merges_by_time)
{
    static const double a[4][4] = {{10, 10, 10, 10}, {10, 10, 10, 10}, {10, 10, 10, 10},
                                   {10, 10, 10, 10}};
    static const double b[2][4] = {{20, 20, 20, 20}, {20, 20, 20, 20}};
    tu_ser_t x[2];
    tu_ser_init(&x[0], "A", 4, a, 1e6, 0, 1);
    tu_ser_init(&x[1], "B", 2, b, 1e6, 1, 2); /* days 1 and 3 */
    bt_series_t ser[2] = {x[0].s, x[1].s};
    bt_strategy_t st = tu_script_pf;
    st.on_bar = s_log_bar;
    bt_engine_cfg_t c = tu_cfg();
    c.sizing = BT_SIZE_TARGET_WEIGHT;
    bt_recorder_t rec;
    bt_recorder_init(&rec);
    tu_run_ex(&c, ser, 2, &st, NULL, 0, &rec, 1);
    cr_assert_eq(g_hsteps, 4);
    int want[4][2] = {{1, 0}, {1, 1}, {1, 0}, {1, 1}};
    for (int i = 0; i < 4; i++)
        cr_assert(g_has[i][0] == want[i][0] && g_has[i][1] == want[i][1], "step %d", i);
    /* A: 0.5 * 1000 / 10 = 50 filled day 1. B: signal on day 1 at equity
     * 1000 -> 0.5 * 1000 / 20 = 25, B's next bar is day 3: filled then */
    cr_assert_eq(g_nfills, 2);
    cr_assert_eq(g_fills[1].f.sym, 1);
    cr_assert_eq(g_fills[1].f.time, tu_day(3));
    TU_EQ(g_fills[1].f.qty, 25.0);
    cr_assert_eq(rec.nequity, 4);
    bt_recorder_fini(&rec);
}

Test(engine_run, start_end_slice)
{
    static const double a[4][4] = {
        {10, 11, 9, 10}, {11, 12, 10, 11}, {12, 13, 11, 12}, {13, 14, 12, 13}};
    tu_ser_t x;
    tu_ser_init(&x, "A", 4, a, 1e6, 0, 1);
    bt_engine_cfg_t c = tu_cfg();
    c.start = tu_day(1);
    c.end = tu_day(2);
    bt_metrics_t m = tu_run(&c, &x.s, NULL, 0, NULL);
    /* two steps (days 1 and 2); benchmark 12 / 11 - 1 */
    cr_assert_eq(g_nsteps, 2);
    TU_EQ(m.benchmark_return, 12.0 / 11.0 - 1.0);
    TU_EQ(m.final_equity, 1000.0);
}

Test(engine_run, strategy_init_error)
{
    const bt_strategy_t *st = bt_strategy_find("sma_cross");
    cr_assert_not_null(st);
    double params[3] = {30, 20, 0}; /* fast > slow */
    rw_t *x = &g_rw[0];
    s_rw(x, 1, 50, 0, 1);
    bt_engine_cfg_t c;
    bt_engine_cfg_defaults(&c);
    bt_engine_t *eng = bt_engine_new();
    bt_run_spec_t spec = {.series = &x->s, .nsym = 1, .strategy = st, .params = params, .cfg = &c};
    bt_metrics_t m;
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    cr_assert_eq(bt_engine_run(eng, &spec, &m, &eb), BT_ESTRATEGY);
    cr_assert(strstr(eb.msg, "must be less than slow") != NULL, "%s", eb.msg);
    /* a parameter outside its bounds */
    params[0] = 0;
    cr_assert_eq(bt_engine_run(eng, &spec, &m, &eb), BT_ESTRATEGY);
    cr_assert(strstr(eb.msg, "fast") != NULL, "%s", eb.msg);
    bt_engine_destroy(&eng);
    bt_engine_destroy(&eng); /* safe twice */
}

Test(engine_run, bad_config_names_the_field)
{
    rw_t *x = &g_rw[0];
    s_rw(x, 1, 50, 0, 1);
    bt_engine_cfg_t c = tu_cfg();
    c.volume_cap = 2;
    bt_engine_t *eng = bt_engine_new();
    bt_run_spec_t spec = {.series = &x->s, .nsym = 1, .strategy = &tu_script, .cfg = &c};
    bt_metrics_t m;
    bt_errbuf_t eb;
    cr_assert_eq(bt_engine_run(eng, &spec, &m, &eb), BT_ECONFIG);
    cr_assert(strstr(eb.msg, "volume_cap") != NULL, "%s", eb.msg);
    bt_engine_destroy(&eng);
}

Test(engine_run, hook_detects_a_broken_invariant)
{
    /* the checker itself: an equity that is not cash + positions is caught */
    double pos = 2, close = 10;
    bt_step_info_t in = {.nsym = 1, .position = &pos, .close = &close, .cash = 5, .equity = 26};
    g_bad = 0;
    tu_hook(NULL, &in);
    cr_assert_eq(g_bad, 1);
    bt_step_fill_t f = {.decided = 5, .time = 5};
    in.equity = 25;
    in.time = 5;
    in.fills = &f;
    in.nfills = 1;
    g_same_close = 0;
    tu_hook(NULL, &in);
    cr_assert_eq(g_bad, 2); /* a fill at its decision bar under next-open */
}

/* Sleeves that share one timeline take the engine's parallel curve sum: the
 * combined equity and cash must be, bit for bit, the per-step sums (in sleeve
 * order) of the same symbols run alone with initial_cash / 3 each, at 1 and 2
 * threads. Without a recorder the sleeves run in blocks of bars with the
 * metrics fed block by block: the metrics must equal the recorded run's.
 * 70,000 bars span several blocks (the last one partial); sleeve 1 shares
 * sleeve 0's time array, sleeve 2 has an equal copy. */
#define AL_N 70000

Test(engine_run, aligned_sleeves_sum_like_separate_runs)
{
    static int64_t t[2][AL_N];
    static double px[3][5][AL_N];
    uint64_t seed = 7;
    bt_series_t ser[3];
    for (int s = 0; s < 3; s++) {
        double p = 100.0;
        for (size_t i = 0; i < AL_N; i++) {
            double o = p * (1.0 + 0.01 * (s_u01(&seed) - 0.5));
            double c = o * (1.0 + 0.04 * (s_u01(&seed) - 0.5));
            px[s][0][i] = o;
            px[s][1][i] = fmax(o, c) * 1.004;
            px[s][2][i] = fmin(o, c) * 0.996;
            px[s][3][i] = c;
            px[s][4][i] = 1000;
            p = c;
            if (s < 2)
                t[s][i] = tu_day((int)i);
        }
        memset(&ser[s], 0, sizeof ser[s]);
        ser[s].n = AL_N;
        ser[s].time = t[s == 2 ? 1 : 0];
        ser[s].open = px[s][0];
        ser[s].high = px[s][1];
        ser[s].low = px[s][2];
        ser[s].close = px[s][3];
        ser[s].volume = px[s][4];
    }
    const bt_strategy_t *st = bt_strategy_find("sma_cross");
    cr_assert_not_null(st);
    double params[3] = {5, 20, 1};
    bt_engine_cfg_t c = s_busy_cfg();
    bt_engine_t *eng = bt_engine_new();
    bt_errbuf_t eb;
    bt_metrics_t m;
    /* each symbol alone */
    bt_engine_cfg_t c1 = c;
    c1.initial_cash = c.initial_cash / 3.0;
    bt_recorder_t one[3];
    for (int s = 0; s < 3; s++) {
        bt_recorder_init(&one[s]);
        bt_run_spec_t spec = {.series = &ser[s], .nsym = 1, .strategy = st, .params = params,
                              .cfg = &c1, .threads = 1, .rec = &one[s]};
        cr_assert_eq(bt_engine_run(eng, &spec, &m, &eb), BT_OK, "%s", eb.msg);
        cr_assert_eq(one[s].nequity, AL_N);
    }
    bt_metrics_t mt[2];
    for (int k = 0; k < 2; k++) {
        bt_recorder_t rec;
        bt_recorder_init(&rec);
        bt_run_spec_t spec = {.series = ser, .nsym = 3, .strategy = st, .params = params,
                              .cfg = &c, .threads = k + 1, .rec = &rec};
        cr_assert_eq(bt_engine_run(eng, &spec, &mt[k], &eb), BT_OK, "%s", eb.msg);
        cr_assert_eq(rec.nequity, AL_N);
        for (size_t i = 0; i < AL_N; i++) {
            double eq = one[0].equity[i].equity + one[1].equity[i].equity +
                        one[2].equity[i].equity;
            double cash = one[0].equity[i].cash + one[1].equity[i].cash + one[2].equity[i].cash;
            cr_assert(rec.equity[i].equity == eq && rec.equity[i].cash == cash,
                      "step %zu (%d threads): equity %.17g cash %.17g, expected %.17g %.17g", i,
                      k + 1, rec.equity[i].equity, rec.equity[i].cash, eq, cash);
            cr_assert_eq(rec.equity[i].time, t[0][i]);
        }
        bt_recorder_fini(&rec);
        /* the same without a recorder (blocks, metrics fed as they go) */
        bt_metrics_t mp;
        spec.rec = NULL;
        cr_assert_eq(bt_engine_run(eng, &spec, &mp, &eb), BT_OK, "%s", eb.msg);
        cr_assert(memcmp(&mp, &mt[k], sizeof mp) == 0,
                  "%d threads: metrics without a recorder differ (final equity %.17g vs %.17g)",
                  k + 1, mp.final_equity, mt[k].final_equity);
    }
    cr_assert(memcmp(&mt[0], &mt[1], sizeof mt[0]) == 0, "metrics differ between 1 and 2 threads");
    cr_assert(mt[0].trades > 10, "the strategy should trade (%g trades)", mt[0].trades);
    for (int s = 0; s < 3; s++)
        bt_recorder_fini(&one[s]);
    bt_engine_destroy(&eng);
}

/* spec.on_step_fills (bt run's position collector): the hook sees only steps with a fill, and
 * those are all the steps where a position changed. Changes logged from a hook at every step and
 * from one at fill steps only are the same list, on three sleeves with stops, targets, shorts
 * and a close at the end. */
#define CH_MAX 4096
typedef struct {
    uint32_t sym;
    int64_t time;
    double qty;
} s_change_t;

typedef struct {
    size_t n, calls, nofill;
    s_change_t ch[CH_MAX];
    double last[3];
} s_changes_t;

static void s_change_hook(void *user, const bt_step_info_t *in)
{
    s_changes_t *c = user;
#pragma omp critical(s_change_hook)
    {
        c->calls++;
        c->nofill += in->nfills == 0;
        for (size_t j = 0; j < in->nsym; j++) {
            uint32_t s = in->sym0 + (uint32_t)j;
            if (in->position[j] != c->last[s] && c->n < CH_MAX) {
                c->ch[c->n++] = (s_change_t){s, in->time, in->position[j]};
                c->last[s] = in->position[j];
            }
        }
    }
}

/* By symbol, then time: sleeves on two threads log in any interleaving. */
static int s_cmp_change(const void *a, const void *b)
{
    const s_change_t *x = a, *y = b;
    if (x->sym != y->sym)
        return x->sym < y->sym ? -1 : 1;
    return (x->time > y->time) - (x->time < y->time);
}

Test(engine_run, on_step_fills_sees_every_position_change)
{
    s_rw(&g_rw[0], 11, RW_N, 0, 1);
    s_rw(&g_rw[1], 12, RW_N - 50, 30, 1);
    s_rw(&g_rw[2], 13, RW_N / 2, 0, 2);
    bt_engine_cfg_t c = s_busy_cfg();
    const bt_strategy_t *st = bt_strategy_find("sma_cross");
    double params[3] = {5, 20, 1};
    bt_series_t ser[3] = {g_rw[0].s, g_rw[1].s, g_rw[2].s};
    static s_changes_t every, fills;
    memset(&every, 0, sizeof every);
    memset(&fills, 0, sizeof fills);
    bt_engine_t *eng = bt_engine_new();
    bt_errbuf_t eb;
    bt_metrics_t m1, m2;
    bt_run_spec_t spec = {.series = ser, .nsym = 3, .strategy = st, .params = params, .cfg = &c,
                          .threads = 1, .on_step = s_change_hook, .on_step_user = &every};
    cr_assert_eq(bt_engine_run(eng, &spec, &m1, &eb), BT_OK, "%s", eb.msg);
    spec.on_step_user = &fills;
    spec.on_step_fills = true;
    spec.threads = 2;
    cr_assert_eq(bt_engine_run(eng, &spec, &m2, &eb), BT_OK, "%s", eb.msg);
    bt_engine_destroy(&eng);
    cr_assert(memcmp(&m1, &m2, sizeof m1) == 0, "the hook's mode changed the metrics");
    cr_assert(every.n > 10 && every.n < CH_MAX, "%zu changes", every.n);
    cr_assert_gt(every.nofill, 0);             /* the plain hook sees quiet steps too */
    cr_assert_eq(fills.nofill, 0);             /* this one only steps with a fill */
    cr_assert_lt(fills.calls, every.calls / 2); /* most steps are quiet */
    cr_assert_eq(fills.n, every.n);
    qsort(every.ch, every.n, sizeof every.ch[0], s_cmp_change);
    qsort(fills.ch, fills.n, sizeof fills.ch[0], s_cmp_change);
    for (size_t i = 0; i < every.n; i++)
        cr_assert(every.ch[i].sym == fills.ch[i].sym && every.ch[i].time == fills.ch[i].time &&
                      every.ch[i].qty == fills.ch[i].qty,
                  "change %zu differs", i);
}
