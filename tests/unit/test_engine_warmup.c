/* Engine warm-up (cfg.trade_start, docs/engine.md "Warm-up"): bars in
 * [start, trade_start) feed the strategy, its signals are kept as targets
 * and ordered at the first tradable step; nothing fills, no equity point,
 * metric step or recorder row before trade_start. Answers by hand in the
 * comments. */
#include "test_engine_util.h"

#include "bt_registry.h"

/* n daily bars: open = base + i, close = open + 0.5, high/low +-1. */
static void s_ramp(tu_ser_t *x, const char *sym, size_t n, double base)
{
    double bars[TU_MAXBARS][4];
    for (size_t i = 0; i < n; i++) {
        double o = base + (double)i;
        bars[i][0] = o;
        bars[i][1] = o + 1.0;
        bars[i][2] = o - 1.0;
        bars[i][3] = o + 0.5;
    }
    tu_ser_init(x, sym, n, (const double(*)[4])bars, 1e6, 0, 1);
}

Test(warmup, signal_in_warm_up_buys_at_first_tradable_bar)
{
    /* trade_start = day 3. Signal +1 at step 1 (warm-up): kept as target.
     * Step 3 (day 3) is the first tradable step: order +1 decided at day 3's
     * close (13.5), filled at day 4's open = 14. Cash 1000 - 14 = 986;
     * final equity at day 9 = 986 + 19.5 = 1005.5. Equity rows: days 3..9 = 7,
     * all 1000 until the fill. */
    tu_ser_t a;
    s_ramp(&a, "A", 10, 10.0);
    bt_engine_cfg_t c = tu_cfg();
    c.trade_start = tu_day(3);
    tu_act_t acts[] = {{.step = 1, .what = TU_SIGNAL, .sym = 0, .target = 1.0}};
    bt_recorder_t rec;
    bt_recorder_init(&rec);
    bt_metrics_t m = tu_run(&c, &a.s, acts, TU_N(acts), &rec);
    cr_assert_eq(g_nfills, 1);
    cr_assert_eq(g_fills[0].f.time, tu_day(4));
    cr_assert_eq(g_fills[0].f.decided, tu_day(3));
    TU_EQ(g_fills[0].f.price, 14.0);
    TU_EQ(g_fills[0].f.qty, 1.0);
    cr_assert_eq(rec.norders, 1);
    cr_assert_eq(rec.orders[0].created, tu_day(3));
    cr_assert_eq(rec.orders[0].status, BT_OS_FILLED);
    cr_assert_eq(rec.nequity, 7, "equity rows from trade_start only: %zu", rec.nequity);
    cr_assert_eq(rec.equity[0].time, tu_day(3));
    TU_EQ(rec.equity[0].equity, 1000.0);
    TU_EQ(rec.equity[1].equity, 1000.0 - 14.0 + 14.5); /* day 4: filled at 14, close 14.5 */
    TU_EQ(m.final_equity, 1005.5);
    /* exposure: held at days 4..9 = 6 of 7 measured steps */
    TU_EQ(m.exposure, 6.0 / 7.0);
    /* benchmark from trade_start: 19.5 / 13.5 - 1 */
    TU_EQ(m.benchmark_return, 19.5 / 13.5 - 1.0);
    bt_recorder_fini(&rec);
}

Test(warmup, same_close_fills_at_first_tradable_close)
{
    /* fill_at same_close: the warm-up target fills at day 3's close 13.5 */
    tu_ser_t a;
    s_ramp(&a, "A", 10, 10.0);
    bt_engine_cfg_t c = tu_cfg();
    c.fill_at = BT_FILL_SAME_CLOSE;
    c.trade_start = tu_day(3);
    tu_act_t acts[] = {{.step = 0, .what = TU_SIGNAL, .sym = 0, .target = 1.0}};
    tu_run(&c, &a.s, acts, TU_N(acts), NULL);
    cr_assert_eq(g_nfills, 1);
    cr_assert_eq(g_fills[0].f.time, tu_day(3));
    TU_EQ(g_fills[0].f.price, 13.5);
}

Test(warmup, flat_target_in_warm_up_orders_nothing)
{
    /* +1 then 0 in warm-up: the target at trade_start is 0, no order at all */
    tu_ser_t a;
    s_ramp(&a, "A", 10, 10.0);
    bt_engine_cfg_t c = tu_cfg();
    c.trade_start = tu_day(5);
    tu_act_t acts[] = {{.step = 1, .what = TU_SIGNAL, .sym = 0, .target = 1.0},
                       {.step = 3, .what = TU_SIGNAL, .sym = 0, .target = 0.0}};
    bt_recorder_t rec;
    bt_recorder_init(&rec);
    bt_metrics_t m = tu_run(&c, &a.s, acts, TU_N(acts), &rec);
    cr_assert_eq(g_nfills, 0);
    cr_assert_eq(rec.norders, 0);
    TU_EQ(m.final_equity, 1000.0);
    TU_EQ(m.exposure, 0.0);
    bt_recorder_fini(&rec);
}

Test(warmup, order_in_warm_up_is_refused)
{
    /* bt_order at step 1 (warm-up) returns 0, is recorded "warm-up" and not
     * counted in rejected_orders; the same order at step 4 (trade_start)
     * goes through and fills at day 5's open = 15. */
    tu_ser_t a;
    s_ramp(&a, "A", 8, 10.0);
    bt_engine_cfg_t c = tu_cfg();
    c.trade_start = tu_day(4);
    tu_act_t acts[] = {{.step = 1, .what = TU_ORDER, .req = TU_MKT(0, 2)},
                       {.step = 4, .what = TU_ORDER, .req = TU_MKT(0, 2)}};
    bt_recorder_t rec;
    bt_recorder_init(&rec);
    bt_metrics_t m = tu_run(&c, &a.s, acts, TU_N(acts), &rec);
    cr_assert_eq(g_ids[0], 0);
    cr_assert_gt(g_ids[1], 0);
    const bt_order_rec_t *r = tu_order_reason(&rec, "warm-up");
    cr_assert_not_null(r);
    cr_assert_eq(r->status, BT_OS_REJECTED);
    cr_assert_eq(r->created, tu_day(1));
    TU_EQ(m.rejected_orders, 0.0);
    cr_assert_eq(g_nfills, 1);
    cr_assert_eq(g_fills[0].f.time, tu_day(5));
    TU_EQ(g_fills[0].f.price, 15.0);
    bt_recorder_fini(&rec);
}

/* Runs acts_w with warm-up (start day 0, trade_start day k) and acts_s on
 * the data sliced at day k (same actions, steps shifted by k); every metric
 * and the blocks must be identical. */
static void s_same_as_sliced(const bt_strategy_t *st, size_t nsym, int k)
{
    tu_ser_t x[2];
    s_ramp(&x[0], "A", 20, 10.0);
    s_ramp(&x[1], "B", 20, 30.0);
    x[1].c[9] = 35.0; /* some variety: B dips at day 9 */
    x[1].l[9] = 34.0;
    bt_series_t ser[2] = {x[0].s, x[1].s};
    tu_act_t acts_w[] = {{.step = (size_t)k + 2, .what = TU_SIGNAL, .sym = 0, .target = 1.0},
                         {.step = (size_t)k + 6, .what = TU_SIGNAL, .sym = 0, .target = 0.0},
                         {.step = (size_t)k + 8, .what = TU_ORDER, .req = TU_MKT(0, 3)}};
    tu_act_t acts_s[TU_N(acts_w)];
    memcpy(acts_s, acts_w, sizeof acts_w);
    for (size_t i = 0; i < TU_N(acts_s); i++)
        acts_s[i].step -= (size_t)k;

    bt_engine_cfg_t cw = tu_cfg();
    cw.trade_start = tu_day(k);
    cw.commission_rate = 0.001;
    bt_engine_cfg_t cs = tu_cfg();
    cs.start = tu_day(k);
    cs.commission_rate = 0.001;

    double bw[3 * 16], bs[3 * 16];
    bt_metrics_t mw, ms;
    for (int pass = 0; pass < 2; pass++) {
        g_acts = pass == 0 ? acts_w : acts_s;
        g_nacts = TU_N(acts_w);
        bt_engine_t *eng = bt_engine_new();
        bt_run_spec_t spec = {.series = ser, .nsym = nsym, .strategy = st,
                              .cfg = pass == 0 ? &cw : &cs, .threads = 1,
                              .blocks_out = pass == 0 ? bw : bs};
        bt_errbuf_t eb;
        bt_errbuf_clear(&eb);
        bt_err_t rc = bt_engine_run(eng, &spec, pass == 0 ? &mw : &ms, &eb);
        bt_engine_destroy(&eng);
        cr_assert_eq(rc, BT_OK, "%s", eb.msg);
    }
    cr_assert_gt(mw.trades, 0.0, "the script must trade");
    for (size_t i = 0; i < bt_metrics_count(); i++)
        cr_assert(bt_metrics_get(&mw, i) == bt_metrics_get(&ms, i) ||
                      (isnan(bt_metrics_get(&mw, i)) && isnan(bt_metrics_get(&ms, i))),
                  "%s nsym %zu: %s warm-up %.17g vs sliced %.17g", st->name, nsym,
                  bt_metrics_name(i), bt_metrics_get(&mw, i), bt_metrics_get(&ms, i));
    cr_assert(memcmp(bw, bs, sizeof bw) == 0, "%s nsym %zu: block stats differ", st->name, nsym);
}

Test(warmup, metrics_equal_sliced_run_single)
{
    s_same_as_sliced(&tu_script, 1, 5);
}

Test(warmup, metrics_equal_sliced_run_sleeves)
{
    s_same_as_sliced(&tu_script, 2, 5);
}

Test(warmup, metrics_equal_sliced_run_portfolio)
{
    s_same_as_sliced(&tu_script_pf, 2, 7);
}

/* ---- sma_cross: a warmed-up run trades like the tail of a full run ---- */

static double g_posw[TU_MAXBARS]; /* position by bar index (day) */

static void s_pos_hook(void *user, const bt_step_info_t *in)
{
    int64_t d = (in->time - tu_day(0)) / BT_NS_PER_DAY;
    if (d >= 0 && d < TU_MAXBARS)
        g_posw[d] = in->position[0];
}

static void s_sma_run(const bt_series_t *ser, int64_t start, int64_t trade_start, double *pos,
                      bt_recorder_t *rec)
{
    const bt_strategy_t *st = bt_strategy_find("sma_cross");
    cr_assert_not_null(st);
    double p[] = {2, 3, 0}; /* fast 2, slow 3, long only */
    bt_engine_cfg_t c = tu_cfg();
    c.start = start;
    c.trade_start = trade_start;
    for (size_t i = 0; i < TU_MAXBARS; i++)
        g_posw[i] = NAN;
    bt_engine_t *eng = bt_engine_new();
    bt_run_spec_t spec = {.series = ser, .nsym = 1, .strategy = st, .params = p, .cfg = &c,
                          .threads = 1, .rec = rec, .on_step = s_pos_hook};
    bt_metrics_t m;
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    bt_err_t rc = bt_engine_run(eng, &spec, &m, &eb);
    bt_engine_destroy(&eng);
    cr_assert_eq(rc, BT_OK, "%s", eb.msg);
    memcpy(pos, g_posw, sizeof g_posw);
}

Test(warmup, sma_cross_matches_full_run_tail)
{
    /* closes as in test_strategies (fast 2, slow 3): the full run crosses up
     * at bar 6 (buy, fills bar 7) and down at bar 9 (sell, fills bar 10).
     * Warm-up from bar 0, trade_start bar 7: the cross at bar 6 is seen in
     * warm-up, so bar 7 orders the kept +1 (fills bar 8 open), bar 9 sells.
     * Position from bar 8 on equals the full run's. Without warm-up (data
     * from bar 7) the SMAs first exist at bar 9 and nothing trades. */
    static const double cl[] = {10, 10, 10, 9, 8, 9, 11, 12, 11, 9, 8, 8};
    double bars[12][4];
    for (int i = 0; i < 12; i++) {
        bars[i][0] = cl[i];
        bars[i][1] = cl[i] + 0.5;
        bars[i][2] = cl[i] - 0.5;
        bars[i][3] = cl[i];
    }
    tu_ser_t a;
    tu_ser_init(&a, "A", 12, (const double(*)[4])bars, 1e6, 0, 1);
    double full[TU_MAXBARS], warm[TU_MAXBARS], cold[TU_MAXBARS];
    bt_recorder_t rf, rw;
    bt_recorder_init(&rf);
    bt_recorder_init(&rw);
    s_sma_run(&a.s, INT64_MIN, INT64_MIN, full, &rf);
    s_sma_run(&a.s, INT64_MIN, tu_day(7), warm, &rw);
    s_sma_run(&a.s, tu_day(7), INT64_MIN, cold, NULL);
    cr_assert_eq(rf.norders, 2);
    cr_assert_eq(rf.orders[0].created, tu_day(6));
    cr_assert_eq(rf.orders[1].created, tu_day(9));
    cr_assert_eq(rw.norders, 2);
    cr_assert_eq(rw.orders[0].created, tu_day(7)); /* the kept target, ordered at trade_start */
    TU_EQ(rw.orders[0].qty, 1.0);
    cr_assert_eq(rw.orders[1].created, tu_day(9)); /* the same cross as the full run */
    TU_EQ(rw.orders[1].qty, -1.0);
    for (int d = 0; d < 7; d++)
        cr_assert(isnan(warm[d]), "no step hook during warm-up (bar %d)", d);
    TU_EQ(warm[7], 0.0);
    for (int d = 8; d < 12; d++)
        TU_EQ(warm[d], full[d]);
    for (int d = 7; d < 12; d++)
        TU_EQ(cold[d], 0.0); /* no warm-up: flat through the window */
    cr_assert_eq(rw.nequity, 5); /* bars 7..11 */
    bt_recorder_fini(&rf);
    bt_recorder_fini(&rw);
}
