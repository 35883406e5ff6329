/* Engine orders: bt_modify (in place, same id), trailing stops by amount
 * and by an ATR multiple, exit reasons of round trips. Known answers by
 * hand next to each assertion. */
#include "test_engine_util.h"

static const double s_bars[4][4] = {
    {10, 10.5, 9.5, 10}, {10, 10.2, 9.6, 9.8}, {9.7, 9.9, 9.0, 9.2}, {9.2, 9.5, 9.1, 9.4}};

/* A strategy that modifies the order of action 0 at step 1. */
static double g_mod_limit, g_mod_qty;
static int g_mod_ok = -1;

static void s_mod_on_bar(void *state, bt_ctx_t *ctx)
{
    tu_on_bar(state, ctx);
    if (ctx->step == 1)
        g_mod_ok = bt_modify(ctx, g_ids[0], g_mod_limit, 0, g_mod_qty);
}

static const bt_strategy_t s_mod_strat = {.name = "mod",
                                          .kind = BT_STRAT_SINGLE,
                                          .state_size = tu_state_size,
                                          .init = tu_init,
                                          .on_bar = s_mod_on_bar};

Test(engine_orders, modify_limit_price_and_qty_in_place)
{
    tu_ser_t x;
    tu_ser_init(&x, "A", 4, s_bars, 1e6, 0, 1);
    bt_engine_cfg_t c = tu_cfg();
    static tu_act_t acts[1];
    acts[0] = (tu_act_t){
        .step = 0, .what = TU_ORDER, .req = {.qty = 10, .type = BT_ORD_LIMIT, .limit = 9.5}};
    g_mod_limit = 9.7;
    g_mod_qty = 20;
    bt_recorder_t rec;
    bt_recorder_init(&rec);
    tu_run_ex(&c, &x.s, 1, &s_mod_strat, acts, 1, &rec, 1);
    /* bar 1: low 9.6 > 9.5, no fill; modified at step 1 to buy 20 at 9.7;
     * bar 2: low 9.0 <= 9.7, fills at min(open 9.7, 9.7) = 9.7 */
    cr_assert_eq(g_mod_ok, 1);
    cr_assert_eq(g_nfills, 1);
    cr_assert_eq(g_fills[0].f.order_id, g_ids[0]); /* same order, not a replacement */
    TU_EQ(g_fills[0].f.qty, 20.0);
    TU_EQ(g_fills[0].f.price, 9.7);
    cr_assert_eq(g_fills[0].f.time, tu_day(2));
    cr_assert_eq(rec.norders, 1); /* no cancel/replace pair */
    const bt_order_rec_t *o = tu_order(&rec, g_ids[0]);
    TU_EQ(o->qty, 20.0);
    TU_EQ(o->limit, 9.7);
    cr_assert_eq(o->status, BT_OS_FILLED);
    /* cash 1000 - 20 * 9.7 = 806 */
    TU_EQ(g_cash[3], 806.0);
    bt_recorder_fini(&rec);
}

Test(engine_orders, modify_refused_keeps_order)
{
    tu_ser_t x;
    tu_ser_init(&x, "A", 4, s_bars, 1e6, 0, 1);
    bt_engine_cfg_t c = tu_cfg();
    static tu_act_t acts[1];
    acts[0] = (tu_act_t){
        .step = 0, .what = TU_ORDER, .req = {.qty = 10, .type = BT_ORD_LIMIT, .limit = 9.5}};
    g_mod_limit = 9.7;
    g_mod_qty = -5; /* a buy cannot become a sell */
    bt_recorder_t rec;
    bt_recorder_init(&rec);
    tu_run_ex(&c, &x.s, 1, &s_mod_strat, acts, 1, &rec, 1);
    /* refused: the limit stays 9.5; bar 2 low 9.0 <= 9.5 fills 10 at
     * min(9.7, 9.5) = 9.5 */
    cr_assert_eq(g_mod_ok, 0);
    cr_assert_eq(g_nfills, 1);
    TU_EQ(g_fills[0].f.qty, 10.0);
    TU_EQ(g_fills[0].f.price, 9.5);
    bt_recorder_fini(&rec);
}

Test(engine_orders, modify_filled_order_is_false)
{
    tu_ser_t x;
    tu_ser_init(&x, "A", 4, s_bars, 1e6, 0, 1);
    bt_engine_cfg_t c = tu_cfg();
    static tu_act_t acts[1];
    acts[0] = (tu_act_t){.step = 0, .what = TU_ORDER, .req = TU_MKT(0, 10)};
    g_mod_limit = 0;
    g_mod_qty = 20;
    tu_run_ex(&c, &x.s, 1, &s_mod_strat, acts, 1, NULL, 1);
    /* the market order filled at bar 1's open before on_bar of step 1 */
    cr_assert_eq(g_mod_ok, 0);
    TU_EQ(g_pos[3], 10.0);
}

/* A strategy placing one market buy of 10 at step 0 with trailing stop tr. */
static bt_trail_t g_trail;
static int64_t g_trail_id;

static void s_trail_on_bar(void *state, bt_ctx_t *ctx)
{
    if (ctx->step == 0) {
        bt_order_req_t r = TU_MKT(0, 10);
        g_trail_id = bt_order_trail(ctx, &r, &g_trail);
    }
}

static const bt_strategy_t s_trail_strat = {.name = "trail",
                                            .kind = BT_STRAT_SINGLE,
                                            .state_size = tu_state_size,
                                            .init = tu_init,
                                            .on_bar = s_trail_on_bar};

static const bt_order_rec_t *s_trail_child(const bt_recorder_t *rec)
{
    for (size_t i = 0; i < rec->norders; i++)
        if (rec->orders[i].id != g_trail_id && rec->orders[i].type == BT_ORD_STOP)
            return &rec->orders[i];
    cr_assert_fail("no trailing child");
    return NULL;
}

Test(engine_orders, trailing_by_amount)
{
    const double b[4][4] = {{10, 10.5, 9.5, 10},
                            {10, 10.6, 9.9, 10.2},
                            {10.3, 11, 10.2, 10.9},
                            {10.8, 10.9, 10.4, 10.5}};
    tu_ser_t x;
    tu_ser_init(&x, "A", 4, b, 1e6, 0, 1);
    bt_engine_cfg_t c = tu_cfg();
    g_trail = (bt_trail_t){.mode = BT_TRAIL_AMOUNT, .value = 0.5};
    bt_recorder_t rec;
    bt_recorder_init(&rec);
    tu_run_ex(&c, &x.s, 1, &s_trail_strat, NULL, 0, &rec, 1);
    /* buy 10 at bar 1's open 10: stop 10 - 0.5 = 9.5 from bar 2;
     * bar 2: low 10.2 > 9.5; water mark -> high 11;
     * bar 3: stop 11 - 0.5 = 10.5, low 10.4 <= 10.5: fills at min(10.8, 10.5) */
    cr_assert(g_trail_id > 0);
    TU_EQ(s_trail_child(&rec)->stop, 9.5);
    cr_assert_eq(g_nfills, 2);
    TU_EQ(g_fills[1].f.price, 10.5);
    TU_EQ(g_fills[1].f.qty, -10.0);
    cr_assert_eq(g_fills[1].f.time, tu_day(3));
    cr_assert_eq(rec.ntrades, 1);
    TU_EQ(rec.trades[0].pnl, 5.0); /* (10.5 - 10) * 10 */
    cr_assert_eq(rec.trades[0].exit_reason, BT_EXIT_TRAILING);
    cr_assert_str_eq(bt_exit_reason_name(rec.trades[0].exit_reason), "trailing");
    /* the entry and its trailing stop only: a filled child attaches nothing
     * (it once spawned a reverse trailing stop of its own) */
    cr_assert_eq(rec.norders, 2, "%zu orders", rec.norders);
    bt_recorder_fini(&rec);
}

Test(engine_orders, trailing_by_atr_multiple)
{
    const double b[4][4] = {
        {10, 11, 9, 10}, {10, 10.5, 9.5, 10}, {10, 12, 9.9, 11.5}, {11.5, 11.6, 10.2, 10.4}};
    tu_ser_t x;
    tu_ser_init(&x, "A", 4, b, 1e6, 0, 1);
    bt_engine_cfg_t c = tu_cfg();
    g_trail = (bt_trail_t){.mode = BT_TRAIL_ATR, .value = 1.0, .atr_period = 2};
    bt_recorder_t rec;
    bt_recorder_init(&rec);
    tu_run_ex(&c, &x.s, 1, &s_trail_strat, NULL, 0, &rec, 1);
    /* TR: bar 0 = 11 - 9 = 2; bar 1 = max(1, .5, .5) = 1;
     * bar 2 = max(2.1, |12 - 10|, |9.9 - 10|) = 2.1.
     * Fill at bar 1's open 10; ATR from bars before bar 1: mean TR so far 2:
     * first stop 10 - 2 = 8.
     * bar 2: ATR(2) of bars 0..1 = (2 + 1) / 2 = 1.5, stop 10 - 1.5 = 8.5;
     * low 9.9: no fill; water mark -> 12.
     * bar 3: ATR = (1.5 * 1 + 2.1) / 2 = 1.8, stop 12 - 1.8 = 10.2;
     * low 10.2 <= 10.2: fills at min(11.5, 10.2) = 10.2 */
    TU_EQ(s_trail_child(&rec)->stop, 8.0);
    cr_assert_eq(g_nfills, 2);
    TU_EQ(g_fills[1].f.price, 10.2);
    cr_assert_eq(g_fills[1].f.time, tu_day(3));
    TU_EQ(rec.trades[0].pnl, 2.0);
    cr_assert_eq(rec.trades[0].exit_reason, BT_EXIT_TRAILING);
    bt_recorder_fini(&rec);
}

Test(engine_orders, trailing_bad_value_refused)
{
    tu_ser_t x;
    tu_ser_init(&x, "A", 4, s_bars, 1e6, 0, 1);
    bt_engine_cfg_t c = tu_cfg();
    g_trail = (bt_trail_t){.mode = BT_TRAIL_PCT, .value = 1.5};
    bt_metrics_t m = tu_run_ex(&c, &x.s, 1, &s_trail_strat, NULL, 0, NULL, 1);
    cr_assert_eq(g_trail_id, 0);
    cr_assert_eq(g_nfills, 0);
    TU_EQ(m.rejected_orders, 1.0);
}

Test(engine_orders, exit_reasons_signal_and_end)
{
    tu_ser_t x;
    tu_ser_init(&x, "A", 4, s_bars, 1e6, 0, 1);
    bt_engine_cfg_t c = tu_cfg();
    c.close_at_end = true;
    static tu_act_t acts[3];
    acts[0] = (tu_act_t){.step = 0, .what = TU_SIGNAL, .target = 1};
    acts[1] = (tu_act_t){.step = 1, .what = TU_SIGNAL, .target = 0};
    acts[2] = (tu_act_t){.step = 2, .what = TU_SIGNAL, .target = 1};
    bt_recorder_t rec;
    bt_recorder_init(&rec);
    tu_run(&c, &x.s, acts, 3, &rec);
    /* long at bar 1, flat at bar 2 (signal), long at bar 3, closed at its close (end) */
    cr_assert_eq(rec.ntrades, 2);
    cr_assert_eq(rec.trades[0].exit_reason, BT_EXIT_SIGNAL);
    cr_assert_eq(rec.trades[1].exit_reason, BT_EXIT_END);
    bt_recorder_fini(&rec);
}

/* ---- sizing at the fill price, reversals ---- */

/* Signal +1 at step 0; bar 1 opens at open1 (a gap from the close 10). */
static bt_metrics_t s_gap_run(bt_size_at_t at, double open1, bt_recorder_t *rec)
{
    const double b[3][4] = {{10, 10, 10, 10}, {open1, open1, open1, open1}, {10, 10, 10, 10}};
    tu_ser_t x;
    tu_ser_init(&x, "A", 3, b, 1e6, 0, 1);
    bt_engine_cfg_t c = tu_cfg();
    c.sizing = BT_SIZE_PCT_EQUITY;
    c.size_value = 1.0; /* all in */
    c.commission_rate = 0.01;
    c.size_at = at;
    static tu_act_t acts[1];
    acts[0] = (tu_act_t){.step = 0, .what = TU_SIGNAL, .target = 1};
    return tu_run(&c, &x.s, acts, 1, rec);
}

Test(engine_orders, size_at_close_all_in_rejected_on_gap_up)
{
    bt_metrics_t m = s_gap_run(BT_SIZE_AT_CLOSE, 12, NULL);
    /* 1000 / 10 = 100 units; at 12: 1200 + 12 > 1000 cash: rejected */
    cr_assert_eq(g_nfills, 0);
    TU_EQ(m.rejected_orders, 1.0);
}

Test(engine_orders, size_at_fill_gap_up)
{
    bt_recorder_t rec;
    bt_recorder_init(&rec);
    bt_metrics_t m = s_gap_run(BT_SIZE_AT_FILL, 12, &rec);
    /* unit cost 12 * 1.01 = 12.12; 1000 / 12.12 = 82.5 -> 82 units;
     * 82 * 12 = 984, commission 9.84, cash 1000 - 993.84 = 6.16 */
    cr_assert_eq(g_nfills, 1);
    TU_EQ(g_fills[0].f.qty, 82.0);
    TU_EQ(g_fills[0].f.commission, 9.84);
    TU_EQ(g_cash[1], 6.16);
    TU_EQ(m.rejected_orders, 0.0);
    TU_EQ(rec.orders[0].qty, 82.0); /* the record shows the size at the fill */
    cr_assert_eq(rec.orders[0].status, BT_OS_FILLED);
    bt_recorder_fini(&rec);
}

Test(engine_orders, size_at_fill_gap_down)
{
    s_gap_run(BT_SIZE_AT_FILL, 8, NULL);
    /* 1000 / (8 * 1.01) = 123.76 -> 123 units; 984 + 9.84 */
    cr_assert_eq(g_nfills, 1);
    TU_EQ(g_fills[0].f.qty, 123.0);
    TU_EQ(g_cash[1], 6.16);
}

Test(engine_orders, reversal_one_order_commission_split)
{
    const double b[4][4] = {{10, 10, 10, 10}, {10, 11, 10, 11}, {12, 12, 12, 12}, {12, 12, 12, 12}};
    tu_ser_t x;
    tu_ser_init(&x, "A", 4, b, 1e6, 0, 1);
    bt_engine_cfg_t c = tu_cfg(); /* fixed size 1 per unit of signal */
    c.size_value = 10;
    c.allow_short = true;
    c.commission_rate = 0.01;
    static tu_act_t acts[2];
    acts[0] = (tu_act_t){.step = 0, .what = TU_SIGNAL, .target = 1};
    acts[1] = (tu_act_t){.step = 1, .what = TU_SIGNAL, .target = -1};
    bt_recorder_t rec;
    bt_recorder_init(&rec);
    tu_run(&c, &x.s, acts, 2, &rec);
    /* +10 at 10 (commission 1); one order of -20 at 12 (commission 2.4):
     * half closes the long (commission 1.2 to it), half opens the short */
    cr_assert_eq(rec.norders, 2);
    cr_assert_eq(g_nfills, 2);
    TU_EQ(g_fills[1].f.qty, -20.0);
    TU_EQ(g_fills[1].f.commission, 2.4);
    TU_EQ(g_pos[2], -10.0);
    TU_EQ(g_cash[2], 1000 - 100 - 1 + 240 - 2.4);
    cr_assert_eq(rec.ntrades, 2);
    TU_EQ(rec.trades[0].commission, 2.2);
    TU_EQ(rec.trades[0].pnl, 20 - 2.2); /* (12 - 10) * 10 - commission */
    cr_assert_eq(rec.trades[0].exit_reason, BT_EXIT_SIGNAL);
    TU_EQ(rec.trades[1].qty, -10.0);
    TU_EQ(rec.trades[1].entry_price, 12.0);
    TU_EQ(rec.trades[1].commission, 1.2);
    cr_assert(rec.trades[1].open);
    bt_recorder_fini(&rec);
}

Test(engine_orders, reversal_sized_at_fill)
{
    const double b[4][4] = {{10, 10, 10, 10}, {10, 11, 10, 11}, {12, 12, 12, 12}, {12, 12, 12, 12}};
    tu_ser_t x;
    tu_ser_init(&x, "A", 4, b, 1e6, 0, 1);
    bt_engine_cfg_t c = tu_cfg();
    c.sizing = BT_SIZE_PCT_EQUITY;
    c.size_value = 0.5;
    c.allow_short = true;
    c.size_at = BT_SIZE_AT_FILL;
    static tu_act_t acts[2];
    acts[0] = (tu_act_t){.step = 0, .what = TU_SIGNAL, .target = 1};
    acts[1] = (tu_act_t){.step = 1, .what = TU_SIGNAL, .target = -1};
    tu_run(&c, &x.s, acts, 2, NULL);
    /* bar 1 at 10: 0.5 * 1000 / 10 = 50 long, cash 500.
     * bar 2 at 12: equity 500 + 50 * 12 = 1100; target -0.5 * 1100 / 12 =
     * -45.83 -> -45; one fill of -45 - 50 = -95 at 12; cash 500 + 1140 */
    cr_assert_eq(g_nfills, 2);
    TU_EQ(g_fills[0].f.qty, 50.0);
    TU_EQ(g_fills[1].f.qty, -95.0);
    TU_EQ(g_pos[2], -45.0);
    TU_EQ(g_cash[2], 1640.0);
}
