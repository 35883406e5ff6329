/* Engine fill rules: market (next open, same close), limit, stop,
 * stop-limit, DAY vs GTC, cancel, partial fills under volume_cap.
 * Known answers are worked out by hand next to each assertion. */
#include "test_engine_util.h"

/* Rising bars: open = close of the day before + 1. */
static const double BARS_A[4][4] = {
    {10, 11, 9, 10}, {11, 12, 10, 11}, {12, 13, 11, 12}, {13, 14, 12, 13}};

Test(engine_fills, market_next_open)
{
    tu_ser_t x;
    tu_ser_init(&x, "A", 4, BARS_A, 1e6, 0, 1);
    bt_engine_cfg_t c = tu_cfg();
    tu_act_t acts[] = {{.step = 0, .what = TU_ORDER, .req = TU_MKT(0, 10)}};
    bt_recorder_t rec;
    bt_recorder_init(&rec);
    bt_metrics_t m = tu_run(&c, &x.s, acts, TU_N(acts), &rec);
    /* decided at bar 0's close, filled at bar 1's open 11: cash 1000 - 110 = 890 */
    cr_assert_eq(g_nfills, 1);
    TU_EQ(g_fills[0].f.price, 11.0);
    cr_assert_eq(g_fills[0].f.time, tu_day(1));
    cr_assert_eq(g_fills[0].f.decided, tu_day(0));
    TU_EQ(g_cash[3], 890.0);
    /* equity per step: 1000, 890+110, 890+120, 890+130 */
    TU_EQ(g_eq[0], 1000.0);
    TU_EQ(g_eq[1], 1000.0);
    TU_EQ(g_eq[2], 1010.0);
    TU_EQ(g_eq[3], 1020.0);
    TU_EQ(m.final_equity, 1020.0);
    const bt_order_rec_t *o = tu_order(&rec, g_ids[0]);
    cr_assert_eq(o->status, BT_OS_FILLED);
    TU_EQ(o->avg_price, 11.0);
    cr_assert_eq(o->created, tu_day(0));
    cr_assert_eq(o->done, tu_day(1));
    cr_assert_eq(g_nfill_cb, 1);
    /* open at the end: reported open, valued at the last close 13: pnl (13-11)*10 = 20 */
    cr_assert_eq(rec.ntrades, 1);
    cr_assert(rec.trades[0].open);
    TU_EQ(rec.trades[0].pnl, 20.0);
    TU_EQ(rec.trades[0].exit_price, 13.0);
    TU_EQ(m.trades, 0.0); /* closed round trips only */
    cr_assert_eq(rec.nequity, 4);
    bt_recorder_fini(&rec);
}

Test(engine_fills, market_same_close)
{
    tu_ser_t x;
    tu_ser_init(&x, "A", 4, BARS_A, 1e6, 0, 1);
    bt_engine_cfg_t c = tu_cfg();
    c.fill_at = BT_FILL_SAME_CLOSE;
    tu_act_t acts[] = {{.step = 0, .what = TU_ORDER, .req = TU_MKT(0, 10)}};
    bt_metrics_t m = tu_run(&c, &x.s, acts, TU_N(acts), NULL);
    /* filled at bar 0's close 10: cash 900, equity 900 + 10 * close */
    cr_assert_eq(g_nfills, 1);
    TU_EQ(g_fills[0].f.price, 10.0);
    cr_assert_eq(g_fills[0].f.time, tu_day(0));
    TU_EQ(g_eq[0], 1000.0);
    TU_EQ(g_eq[1], 1010.0);
    TU_EQ(m.final_equity, 1030.0);
}

Test(engine_fills, same_close_limit_waits)
{
    /* a limit order is never filled on its decision bar, even in same-close
     * mode: buy limit 10.5 at bar 0 (close 10 is below it) fills at bar 1's
     * open 11? no: bar 1 low 10 <= 10.5 -> min(open 11, 10.5) = 10.5 */
    tu_ser_t x;
    tu_ser_init(&x, "A", 4, BARS_A, 1e6, 0, 1);
    bt_engine_cfg_t c = tu_cfg();
    c.fill_at = BT_FILL_SAME_CLOSE;
    tu_act_t acts[] = {{.step = 0,
                        .what = TU_ORDER,
                        .req = {.sym = 0, .qty = 1, .type = BT_ORD_LIMIT, .limit = 10.5}}};
    tu_run(&c, &x.s, acts, TU_N(acts), NULL);
    cr_assert_eq(g_nfills, 1);
    cr_assert_eq(g_fills[0].f.time, tu_day(1));
    TU_EQ(g_fills[0].f.price, 10.5);
}

Test(engine_fills, buy_limit_and_gap)
{
    static const double b[4][4] = {
        {10, 10.5, 9.5, 10}, {10, 10.2, 9.6, 10}, {9.8, 10, 9.4, 9.7}, {9, 9.5, 8.8, 9.2}};
    tu_ser_t x;
    tu_ser_init(&x, "A", 4, b, 1e6, 0, 1);
    bt_engine_cfg_t c = tu_cfg();
    tu_act_t acts[] = {
        {.step = 0, .what = TU_ORDER, .req = {.qty = 1, .type = BT_ORD_LIMIT, .limit = 9.5}},
        {.step = 2, .what = TU_ORDER, .req = {.qty = 1, .type = BT_ORD_LIMIT, .limit = 9.5}},
    };
    tu_run(&c, &x.s, acts, TU_N(acts), NULL);
    cr_assert_eq(g_nfills, 2);
    /* bar 1 low 9.6 > 9.5: no fill; bar 2 low 9.4 <= 9.5: min(open 9.8, 9.5) = 9.5 */
    cr_assert_eq(g_fills[0].f.time, tu_day(2));
    TU_EQ(g_fills[0].f.price, 9.5);
    /* second order: bar 3 opens at 9 below the limit: fills at the better open 9 */
    cr_assert_eq(g_fills[1].f.time, tu_day(3));
    TU_EQ(g_fills[1].f.price, 9.0);
}

Test(engine_fills, sell_limit_and_gap)
{
    static const double b[4][4] = {
        {10, 10.5, 9.5, 10}, {10, 10.4, 9.8, 10.2}, {10.3, 10.6, 10, 10.5}, {11, 11.2, 10.8, 11}};
    tu_ser_t x;
    tu_ser_init(&x, "A", 4, b, 1e6, 0, 1);
    bt_engine_cfg_t c = tu_cfg();
    tu_act_t acts[] = {
        {.step = 0, .what = TU_ORDER, .req = TU_MKT(0, 2)},
        {.step = 0, .what = TU_ORDER, .req = {.qty = -1, .type = BT_ORD_LIMIT, .limit = 10.5}},
        {.step = 2, .what = TU_ORDER, .req = {.qty = -1, .type = BT_ORD_LIMIT, .limit = 10.5}},
    };
    bt_metrics_t m = tu_run(&c, &x.s, acts, TU_N(acts), NULL);
    cr_assert_eq(g_nfills, 3);
    /* buy 2 at bar 1's open 10; bar 1 high 10.4 < 10.5 so the limit waits */
    TU_EQ(g_fills[0].f.price, 10.0);
    /* bar 2 high 10.6 >= 10.5: max(open 10.3, 10.5) = 10.5 */
    cr_assert_eq(g_fills[1].f.time, tu_day(2));
    TU_EQ(g_fills[1].f.price, 10.5);
    /* bar 3 gaps up to 11: the sell fills at the better open 11 */
    cr_assert_eq(g_fills[2].f.time, tu_day(3));
    TU_EQ(g_fills[2].f.price, 11.0);
    /* one round trip: (10.5 - 10) + (11 - 10) = 1.5 */
    TU_EQ(m.trades, 1.0);
    TU_EQ(m.final_equity, 1001.5);
}

Test(engine_fills, buy_stop_and_gap)
{
    static const double b[4][4] = {
        {10, 10.5, 9.5, 10}, {10, 10.8, 9.9, 10.5}, {10.6, 11.3, 10.5, 11.2}, {12, 12.5, 11.8, 12.2}};
    tu_ser_t x;
    tu_ser_init(&x, "A", 4, b, 1e6, 0, 1);
    bt_engine_cfg_t c = tu_cfg();
    tu_act_t acts[] = {
        {.step = 0, .what = TU_ORDER, .req = {.qty = 1, .type = BT_ORD_STOP, .stop = 11}},
        {.step = 2, .what = TU_ORDER, .req = {.qty = 1, .type = BT_ORD_STOP, .stop = 11.5}},
    };
    tu_run(&c, &x.s, acts, TU_N(acts), NULL);
    cr_assert_eq(g_nfills, 2);
    /* bar 1 high 10.8 < 11; bar 2 high 11.3 >= 11: max(open 10.6, 11) = 11 */
    cr_assert_eq(g_fills[0].f.time, tu_day(2));
    TU_EQ(g_fills[0].f.price, 11.0);
    /* bar 3 gaps through 11.5: fills at the open 12 */
    cr_assert_eq(g_fills[1].f.time, tu_day(3));
    TU_EQ(g_fills[1].f.price, 12.0);
}

Test(engine_fills, sell_stop_and_gap)
{
    static const double b[4][4] = {
        {10, 10.5, 9.5, 10}, {10, 10.2, 9.7, 9.8}, {9.8, 9.9, 9.3, 9.4}, {8.5, 8.9, 8.2, 8.6}};
    tu_ser_t x;
    tu_ser_init(&x, "A", 4, b, 1e6, 0, 1);
    bt_engine_cfg_t c = tu_cfg();
    tu_act_t acts[] = {
        {.step = 0, .what = TU_ORDER, .req = TU_MKT(0, 2)},
        {.step = 0, .what = TU_ORDER, .req = {.qty = -1, .type = BT_ORD_STOP, .stop = 9.5}},
        {.step = 2, .what = TU_ORDER, .req = {.qty = -1, .type = BT_ORD_STOP, .stop = 9.0}},
    };
    tu_run(&c, &x.s, acts, TU_N(acts), NULL);
    cr_assert_eq(g_nfills, 3);
    /* bar 1 low 9.7 > 9.5; bar 2 low 9.3: min(open 9.8, 9.5) = 9.5 */
    cr_assert_eq(g_fills[1].f.time, tu_day(2));
    TU_EQ(g_fills[1].f.price, 9.5);
    /* bar 3 gaps down through 9: fills at the open 8.5 */
    cr_assert_eq(g_fills[2].f.time, tu_day(3));
    TU_EQ(g_fills[2].f.price, 8.5);
}

/* Stop-limit cases: buy 1 decided at bar 0 with stop S and limit L. */
typedef struct {
    double bars[3][4];
    double S, L;
    int fill_bar; /* -1 = no fill */
    double price;
} sl_case_t;

static void s_stop_limit(const sl_case_t *k)
{
    tu_ser_t x;
    tu_ser_init(&x, "A", 3, k->bars, 1e6, 0, 1);
    bt_engine_cfg_t c = tu_cfg();
    tu_act_t acts[] = {{.step = 0,
                        .what = TU_ORDER,
                        .req = {.qty = 1, .type = BT_ORD_STOP_LIMIT, .stop = k->S, .limit = k->L}}};
    tu_run(&c, &x.s, acts, TU_N(acts), NULL);
    if (k->fill_bar < 0) {
        cr_assert_eq(g_nfills, 0);
        return;
    }
    cr_assert_eq(g_nfills, 1);
    cr_assert_eq(g_fills[0].f.time, tu_day(k->fill_bar));
    TU_EQ(g_fills[0].f.price, k->price);
}

Test(engine_fills, stop_limit_buy)
{
    static const sl_case_t cases[] = {
        /* intrabar trigger at S = 11 <= L = 11.2: fills at S */
        {{{10, 10.5, 9.5, 10}, {10.5, 11.1, 10.4, 11}, {11, 11.2, 10.9, 11}}, 11, 11.2, 1, 11},
        /* opens at 11.5 above S and above L; low 11.1 reaches L: fills at L */
        {{{10, 10.5, 9.5, 10}, {11.5, 11.8, 11.1, 11.6}, {11, 11.2, 10.9, 11}}, 11, 11.2, 1, 11.2},
        /* opens above L and never comes back that bar: rests as a limit; bar 2
         * low 11.0 <= 11.2: min(open 11.4, 11.2) = 11.2 */
        {{{10, 10.5, 9.5, 10}, {11.5, 11.8, 11.3, 11.6}, {11.4, 11.5, 11.0, 11.1}}, 11, 11.2, 2,
         11.2},
        /* S = 11 > L = 10.8, trigger intrabar: whether the low 10.6 came after
         * the trigger is unknown, so no fill on bar 1; bar 2: min(10.9, 10.8) */
        {{{10, 10.5, 9.5, 10}, {10.5, 11.2, 10.6, 11}, {10.9, 11, 10.7, 10.8}}, 11, 10.8, 2,
         10.8},
        /* gap open 11.5 >= S and <= L = 11.6: fills at the open */
        {{{10, 10.5, 9.5, 10}, {11.5, 11.8, 11.3, 11.6}, {11, 11.2, 10.9, 11}}, 11, 11.6, 1, 11.5},
        /* never triggers */
        {{{10, 10.5, 9.5, 10}, {10.5, 10.9, 10.4, 10.8}, {10.8, 10.95, 10.7, 10.9}}, 11, 11.2, -1,
         0},
    };
    for (size_t i = 0; i < TU_N(cases); i++)
        s_stop_limit(&cases[i]);
}

Test(engine_fills, stop_limit_sell)
{
    static const double b[3][4] = {{10, 10.5, 9.5, 10}, {10, 10.2, 9.8, 10}, {9.2, 9.4, 9.0, 9.1}};
    tu_ser_t x;
    tu_ser_init(&x, "A", 3, b, 1e6, 0, 1);
    bt_engine_cfg_t c = tu_cfg();
    tu_act_t acts[] = {
        {.step = 0, .what = TU_ORDER, .req = TU_MKT(0, 1)},
        {.step = 0,
         .what = TU_ORDER,
         .req = {.qty = -1, .type = BT_ORD_STOP_LIMIT, .stop = 9.5, .limit = 9.3}},
    };
    tu_run(&c, &x.s, acts, TU_N(acts), NULL);
    /* bar 1: low 9.8 > 9.5 no trigger. bar 2 opens 9.2 <= S: triggered at the
     * open; 9.2 < L = 9.3 so not at the open; high 9.4 >= 9.3: fills at L */
    cr_assert_eq(g_nfills, 2);
    cr_assert_eq(g_fills[1].f.time, tu_day(2));
    TU_EQ(g_fills[1].f.price, 9.3);
}

Test(engine_fills, day_expires_gtc_stays)
{
    static const double b[3][4] = {{10, 10.5, 9.5, 10}, {10, 10.2, 9.6, 10}, {9.8, 10, 8.9, 9.5}};
    tu_ser_t x;
    tu_ser_init(&x, "A", 3, b, 1e6, 0, 1);
    bt_engine_cfg_t c = tu_cfg();
    tu_act_t acts[] = {
        {.step = 0, .what = TU_ORDER,
         .req = {.qty = 1, .type = BT_ORD_LIMIT, .limit = 9.0, .tif = BT_TIF_DAY}},
        {.step = 0, .what = TU_ORDER,
         .req = {.qty = 1, .type = BT_ORD_LIMIT, .limit = 9.0, .tif = BT_TIF_GTC}},
    };
    bt_recorder_t rec;
    bt_recorder_init(&rec);
    tu_run(&c, &x.s, acts, TU_N(acts), &rec);
    /* DAY: its day is bar 1's day; bar 1 low 9.6 > 9 and the next bar is a new
     * day: expired at bar 1. GTC: bar 2 low 8.9 <= 9: min(9.8, 9) = 9. */
    const bt_order_rec_t *d = tu_order(&rec, g_ids[0]);
    cr_assert_eq(d->status, BT_OS_EXPIRED);
    cr_assert_eq(d->done, tu_day(1));
    TU_EQ(d->filled, 0.0);
    const bt_order_rec_t *g = tu_order(&rec, g_ids[1]);
    cr_assert_eq(g->status, BT_OS_FILLED);
    TU_EQ(g->avg_price, 9.0);
    cr_assert_eq(g_nfills, 1);
    bt_recorder_fini(&rec);
}

Test(engine_fills, day_order_intraday_lives_until_day_end)
{
    /* hourly bars on one day then the next day: a DAY limit decided at bar 0
     * may fill at any bar of bar 1's day */
    static const double b[4][4] = {
        {10, 10.1, 9.9, 10}, {10, 10.1, 9.9, 10}, {10, 10.1, 9.7, 9.8}, {9.8, 9.9, 9.5, 9.6}};
    tu_ser_t x;
    tu_ser_init(&x, "A", 4, b, 1e6, 0, 1);
    for (int i = 0; i < 3; i++)
        x.t[i] = tu_day(0) + (int64_t)(10 + i) * BT_NS_PER_HOUR;
    x.t[3] = tu_day(1) + 10 * BT_NS_PER_HOUR;
    bt_engine_cfg_t c = tu_cfg();
    tu_act_t acts[] = {
        {.step = 0, .what = TU_ORDER,
         .req = {.qty = 1, .type = BT_ORD_LIMIT, .limit = 9.75, .tif = BT_TIF_DAY}},
        {.step = 0, .what = TU_ORDER,
         .req = {.qty = 1, .type = BT_ORD_LIMIT, .limit = 9.6, .tif = BT_TIF_DAY}},
    };
    bt_recorder_t rec;
    bt_recorder_init(&rec);
    tu_run(&c, &x.s, acts, TU_N(acts), &rec);
    /* 9.75 fills at bar 2 (same day, low 9.7): price 9.75. 9.6 would fill on
     * bar 3 (low 9.5) but that is the next day: expired at bar 2. */
    cr_assert_eq(g_nfills, 1);
    TU_EQ(g_fills[0].f.price, 9.75);
    cr_assert_eq(tu_order(&rec, g_ids[1])->status, BT_OS_EXPIRED);
    cr_assert_eq(tu_order(&rec, g_ids[1])->done, x.t[2]);
    bt_recorder_fini(&rec);
}

Test(engine_fills, cancel)
{
    static const double b[3][4] = {{10, 10.5, 9.5, 10}, {10, 10.2, 9.6, 10}, {9.8, 10, 8.9, 9.5}};
    tu_ser_t x;
    tu_ser_init(&x, "A", 3, b, 1e6, 0, 1);
    bt_engine_cfg_t c = tu_cfg();
    tu_act_t acts[] = {
        {.step = 0, .what = TU_ORDER, .req = {.qty = 1, .type = BT_ORD_LIMIT, .limit = 9.0}},
        {.step = 1, .what = TU_CANCEL, .cancel_of = 0},
        {.step = 1, .what = TU_CANCEL, .cancel_of = 0},
    };
    bt_recorder_t rec;
    bt_recorder_init(&rec);
    tu_run(&c, &x.s, acts, TU_N(acts), &rec);
    /* cancelled at bar 1 before bar 2 would have filled it; the second cancel
     * finds it no longer open */
    cr_assert_eq(g_cancel_ok[1], 1);
    cr_assert_eq(g_cancel_ok[2], 0);
    cr_assert_eq(g_nfills, 0);
    const bt_order_rec_t *o = tu_order(&rec, g_ids[0]);
    cr_assert_eq(o->status, BT_OS_CANCELLED);
    cr_assert_eq(o->done, tu_day(1));
    bt_recorder_fini(&rec);
}

Test(engine_fills, volume_cap_partial_fills)
{
    tu_ser_t x;
    tu_ser_init(&x, "A", 4, BARS_A, 50, 0, 1);
    bt_engine_cfg_t c = tu_cfg();
    c.volume_cap = 0.1; /* 0.1 * 50 = 5 units per bar */
    tu_act_t acts[] = {{.step = 0, .what = TU_ORDER, .req = TU_MKT(0, 12)}};
    bt_recorder_t rec;
    bt_recorder_init(&rec);
    tu_run(&c, &x.s, acts, TU_N(acts), &rec);
    /* 5 at 11, 5 at 12, 2 at 13 (the opens of bars 1..3) */
    cr_assert_eq(g_nfills, 3);
    TU_EQ(g_fills[0].f.qty, 5.0);
    TU_EQ(g_fills[1].f.qty, 5.0);
    TU_EQ(g_fills[2].f.qty, 2.0);
    TU_EQ(g_fills[2].f.price, 13.0);
    const bt_order_rec_t *o = tu_order(&rec, g_ids[0]);
    cr_assert_eq(o->status, BT_OS_FILLED);
    TU_EQ(o->filled, 12.0);
    TU_EQ(o->avg_price, (55.0 + 60.0 + 26.0) / 12.0);
    TU_EQ(g_pos[1], 5.0);
    TU_EQ(g_pos[2], 10.0);
    bt_recorder_fini(&rec);
}

Test(engine_fills, volume_cap_partial_still_open_at_end)
{
    tu_ser_t x;
    tu_ser_init(&x, "A", 3, BARS_A, 50, 0, 1);
    bt_engine_cfg_t c = tu_cfg();
    c.volume_cap = 0.1;
    tu_act_t acts[] = {{.step = 0, .what = TU_ORDER, .req = TU_MKT(0, 12)}};
    bt_recorder_t rec;
    bt_recorder_init(&rec);
    tu_run(&c, &x.s, acts, TU_N(acts), &rec);
    /* only bars 1 and 2 follow: 10 of 12 filled, the order is reported partial */
    const bt_order_rec_t *o = tu_order(&rec, g_ids[0]);
    cr_assert_eq(o->status, BT_OS_PARTIAL);
    TU_EQ(o->filled, 10.0);
    bt_recorder_fini(&rec);
}
