/* Engine risk layer: max_position shrink, max_leverage shrink, max_positions
 * refusal, stop_loss / take_profit / trailing_stop percentages (stop first
 * when both are in one bar; none on the entry bar), the
 * drawdown kill switch, monthly rebalancing. Hand-worked answers inline. */
#include "test_engine_util.h"

static const double FLAT[4][4] = {{10, 10, 10, 10}, {10, 10, 10, 10}, {10, 10, 10, 10},
                                  {10, 10, 10, 10}};

Test(engine_risk, max_position_shrinks)
{
    tu_ser_t x;
    tu_ser_init(&x, "A", 4, FLAT, 1e6, 0, 1);
    bt_engine_cfg_t c = tu_cfg();
    c.initial_cash = 10000;
    c.size_value = 100;
    c.max_position = 0.05; /* 0.05 * 10000 / 10 = 50 units at most */
    tu_act_t acts[] = {{.step = 0, .what = TU_SIGNAL, .target = 1}};
    bt_recorder_t rec;
    bt_recorder_init(&rec);
    bt_metrics_t m = tu_run(&c, &x.s, acts, TU_N(acts), &rec);
    cr_assert_eq(rec.norders, 1);
    cr_assert_str_eq(rec.orders[0].reason, "shrunk: max_position");
    TU_EQ(rec.orders[0].qty, 100.0); /* requested */
    TU_EQ(rec.orders[0].filled, 50.0);
    TU_EQ(g_pos[3], 50.0);
    TU_EQ(m.rejected_orders, 1.0); /* shrunk orders count too */
    bt_recorder_fini(&rec);
}

Test(engine_risk, max_leverage_shrinks)
{
    tu_ser_t x[2];
    tu_ser_init(&x[0], "A", 4, FLAT, 1e6, 0, 1);
    tu_ser_init(&x[1], "B", 4, FLAT, 1e6, 0, 1);
    bt_series_t ser[2] = {x[0].s, x[1].s};
    bt_engine_cfg_t c = tu_cfg();
    c.max_leverage = 1.0;
    tu_act_t acts[] = {
        {.step = 0, .what = TU_ORDER, .req = TU_MKT(0, 60)},
        {.step = 0, .what = TU_ORDER, .req = TU_MKT(1, 60)},
    };
    bt_recorder_t rec;
    bt_recorder_init(&rec);
    tu_run_ex(&c, ser, 2, &tu_script_pf, acts, TU_N(acts), &rec, 1);
    /* A: 600 gross <= 1000. B: 600 + 600 > 1000: room 400 / 10 = 40 units */
    const bt_order_rec_t *b = tu_order(&rec, g_ids[1]);
    cr_assert_str_eq(b->reason, "shrunk: max_leverage");
    TU_EQ(b->filled, 40.0);
    TU_EQ(tu_order(&rec, g_ids[0])->filled, 60.0);
    bt_recorder_fini(&rec);
}

Test(engine_risk, max_positions_refuses_new_symbol)
{
    tu_ser_t x[2];
    tu_ser_init(&x[0], "A", 4, FLAT, 1e6, 0, 1);
    tu_ser_init(&x[1], "B", 4, FLAT, 1e6, 0, 1);
    bt_series_t ser[2] = {x[0].s, x[1].s};
    bt_engine_cfg_t c = tu_cfg();
    c.max_positions = 1;
    tu_act_t acts[] = {
        {.step = 0, .what = TU_ORDER, .req = TU_MKT(0, 10)},
        {.step = 0, .what = TU_ORDER, .req = TU_MKT(1, 10)},
        {.step = 2, .what = TU_ORDER, .req = TU_MKT(0, 5)}, /* adding to a held symbol is fine */
    };
    bt_recorder_t rec;
    bt_recorder_init(&rec);
    bt_metrics_t m = tu_run_ex(&c, ser, 2, &tu_script_pf, acts, TU_N(acts), &rec, 1);
    cr_assert_eq(g_ids[1], 0);
    const bt_order_rec_t *r = tu_order_reason(&rec, "max_positions");
    cr_assert_not_null(r);
    cr_assert_eq(r->status, BT_OS_REJECTED);
    cr_assert_eq(r->sym, 1);
    cr_assert_neq(g_ids[2], 0);
    TU_EQ(m.rejected_orders, 1.0);
    bt_recorder_fini(&rec);
}

/* Signal +1 (FIXED 10) at bar 0, filled at bar 1's open 10; bar 2 and 3 given. */
static void s_exit_run(bt_engine_cfg_t *c, const double bar2[4], const double bar3[4],
                       bt_recorder_t *rec)
{
    double b[4][4] = {{10, 10, 10, 10}, {10, 10.2, 9.9, 10}, {0}, {0}};
    memcpy(b[2], bar2, sizeof b[2]);
    memcpy(b[3], bar3, sizeof b[3]);
    tu_ser_t x;
    tu_ser_init(&x, "A", 4, (const double(*)[4])b, 1e6, 0, 1);
    c->size_value = 10;
    static const tu_act_t acts[] = {
        {.step = 0, .what = TU_SIGNAL, .target = 1},
        {.step = 3, .what = TU_SIGNAL, .target = 1}, /* unchanged: no re-entry */
    };
    tu_run(c, &x.s, acts, TU_N(acts), rec);
}

Test(engine_risk, stop_loss_percent)
{
    bt_engine_cfg_t c = tu_cfg();
    c.stop_loss = 0.1; /* 10 * 0.9 = 9 */
    bt_recorder_t rec;
    bt_recorder_init(&rec);
    const double b2[4] = {9.5, 9.6, 8.5, 8.8}, b3[4] = {9, 9, 9, 9};
    s_exit_run(&c, b2, b3, &rec);
    /* low 8.5 <= 9: exit at min(open 9.5, 9) = 9 at bar 2 */
    cr_assert_eq(g_nfills, 2);
    cr_assert_eq(g_fills[1].f.time, tu_day(2));
    TU_EQ(g_fills[1].f.price, 9.0);
    TU_EQ(g_pos[2], 0.0);
    TU_EQ(g_pos[3], 0.0);
    cr_assert_not_null(tu_order_reason(&rec, "stop_loss"));
    TU_EQ(rec.trades[0].pnl, -10.0);
    bt_recorder_fini(&rec);
}

Test(engine_risk, stop_loss_gap_fills_at_open)
{
    bt_engine_cfg_t c = tu_cfg();
    c.stop_loss = 0.1;
    const double b2[4] = {8.7, 8.9, 8.5, 8.8}, b3[4] = {9, 9, 9, 9};
    s_exit_run(&c, b2, b3, NULL);
    /* opens at 8.7 below the stop 9: fills at the open */
    TU_EQ(g_fills[1].f.price, 8.7);
}

Test(engine_risk, take_profit_percent_gap)
{
    bt_engine_cfg_t c = tu_cfg();
    c.take_profit = 0.1; /* 11 */
    bt_recorder_t rec;
    bt_recorder_init(&rec);
    const double b2[4] = {11.5, 12, 11.2, 11.8}, b3[4] = {12, 12, 12, 12};
    s_exit_run(&c, b2, b3, &rec);
    /* gap up over 11: exit at the better open 11.5; pnl 15 */
    TU_EQ(g_fills[1].f.price, 11.5);
    cr_assert_not_null(tu_order_reason(&rec, "take_profit"));
    TU_EQ(rec.trades[0].pnl, 15.0);
    bt_recorder_fini(&rec);
}

Test(engine_risk, trailing_stop_percent)
{
    bt_engine_cfg_t c = tu_cfg();
    c.trailing_stop = 0.1;
    bt_recorder_t rec;
    bt_recorder_init(&rec);
    const double b2[4] = {10.2, 12, 10.1, 11.8}, b3[4] = {11.8, 11.9, 10.5, 10.7};
    s_exit_run(&c, b2, b3, &rec);
    /* bar 2: stop 9 not hit, water mark -> 12; bar 3: stop 10.8, low 10.5:
     * exit at min(11.8, 10.8) = 10.8 */
    cr_assert_eq(g_nfills, 2);
    TU_EQ(g_fills[1].f.price, 10.8);
    cr_assert_not_null(tu_order_reason(&rec, "trailing_stop"));
    bt_recorder_fini(&rec);
}

Test(engine_risk, kill_switch)
{
    static const double b[5][4] = {
        {10, 10, 10, 10}, {10, 10, 10, 10}, {10, 10, 8.5, 8.5}, {8, 8, 8, 8}, {9, 9, 9, 9}};
    tu_ser_t x;
    tu_ser_init(&x, "A", 5, b, 1e6, 0, 1);
    bt_engine_cfg_t c = tu_cfg();
    c.max_drawdown = 0.1;
    tu_act_t acts[] = {
        {.step = 0, .what = TU_ORDER, .req = TU_MKT(0, 100)},
        {.step = 0, .what = TU_ORDER, .req = {.qty = 1, .type = BT_ORD_LIMIT, .limit = 5}},
        {.step = 3, .what = TU_ORDER, .req = TU_MKT(0, 1)}, /* never placed */
    };
    bt_recorder_t rec;
    bt_recorder_init(&rec);
    bt_metrics_t m = tu_run(&c, &x.s, acts, TU_N(acts), &rec);
    /* 100 @ 10, cash 0. bar 2: equity 850 < 0.9 * 1000: kill. The resting
     * limit is cancelled; the position is sold at bar 3's open 8: cash 800.
     * The strategy is not called again. */
    cr_assert_eq(tu_order(&rec, g_ids[1])->status, BT_OS_CANCELLED);
    cr_assert_str_eq(tu_order(&rec, g_ids[1])->reason, "kill switch");
    const bt_order_rec_t *k = NULL;
    for (size_t i = 0; i < rec.norders; i++)
        if (rec.orders[i].status == BT_OS_FILLED && rec.orders[i].qty < 0)
            k = &rec.orders[i];
    cr_assert_not_null(k);
    cr_assert_str_eq(k->reason, "kill switch");
    TU_EQ(k->avg_price, 8.0);
    cr_assert_eq(g_ids[2], 0);
    TU_EQ(g_pos[3], 0.0);
    TU_EQ(m.final_equity, 800.0);
    bt_recorder_fini(&rec);
}

Test(engine_risk, monthly_rebalance)
{
    /* bars every 10 days from 2024-01-01: Jan 1, 11, 21, 31, Feb 10, 20 */
    static const double b[6][4] = {{10, 10, 10, 10}, {10, 10, 10, 10}, {20, 20, 20, 20},
                                   {20, 20, 20, 20}, {20, 20, 20, 20}, {20, 20, 20, 20}};
    tu_ser_t x;
    tu_ser_init(&x, "A", 6, b, 1e6, 0, 10);
    bt_engine_cfg_t c = tu_cfg();
    c.sizing = BT_SIZE_TARGET_WEIGHT;
    c.fractional = true;
    tu_act_t acts[] = {{.step = 0, .what = TU_SIGNAL, .target = 0.5}};
    /* without rebalancing: 0.5 * 1000 / 10 = 50 units, kept */
    tu_run(&c, &x.s, acts, TU_N(acts), NULL);
    TU_EQ(g_pos[5], 50.0);
    /* monthly: Feb 10 is the first step of a new month: equity 500 + 50 * 20
     * = 1500, target 0.5 * 1500 / 20 = 37.5, sell 12.5 at Feb 20's open 20 */
    c.rebalance = BT_REBAL_MONTHLY;
    tu_run(&c, &x.s, acts, TU_N(acts), NULL);
    cr_assert_eq(g_nfills, 2);
    cr_assert_eq(g_fills[1].f.time, tu_day(50));
    TU_EQ(g_fills[1].f.qty, -12.5);
    TU_EQ(g_pos[5], 37.5);
    TU_EQ(g_cash[5], 750.0);
}

Test(engine_risk, exit_stop_assumed_before_target_in_one_bar)
{
    bt_engine_cfg_t c = tu_cfg();
    c.stop_loss = 0.05;   /* 10 * 0.95 = 9.5 */
    c.take_profit = 0.05; /* 10 * 1.05 = 10.5 */
    bt_recorder_t rec;
    bt_recorder_init(&rec);
    const double b2[4] = {10, 11, 9, 10}, b3[4] = {10, 10, 10, 10};
    s_exit_run(&c, b2, b3, &rec);
    /* bar 2's range holds both 9.5 and 10.5: the stop is assumed first,
     * min(open 10, 9.5) = 9.5; pnl (9.5 - 10) * 10 = -5 */
    cr_assert_eq(g_nfills, 2);
    TU_EQ(g_fills[1].f.price, 9.5);
    cr_assert_not_null(tu_order_reason(&rec, "stop_loss"));
    cr_assert_null(tu_order_reason(&rec, "take_profit"));
    TU_EQ(rec.trades[0].pnl, -5.0);
    bt_recorder_fini(&rec);
}

Test(engine_risk, exits_start_the_bar_after_entry)
{
    bt_engine_cfg_t c = tu_cfg();
    c.stop_loss = 0.01; /* 10 * 0.99 = 9.9: the entry bar's low 9.9 touches it */
    const double b2[4] = {10, 10.1, 9.95, 10}, b3[4] = {10, 10, 10, 10};
    s_exit_run(&c, b2, b3, NULL);
    /* entry fills at bar 1's open 10; bar 1 is not checked, bars 2 and 3
     * stay above 9.9: only the entry fill, still 10 held at the end */
    cr_assert_eq(g_nfills, 1);
    TU_EQ(g_pos[3], 10.0);
}
