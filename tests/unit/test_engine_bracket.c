/* Engine brackets: attached stop-loss / take-profit (children active once
 * the parent fills, one cancels the other, stop first when both are in
 * range), trailing stop. Known answers by hand next to each assertion. */
#include "test_engine_util.h"

/* Parent: buy 10 at market decided at bar 0, fills at bar 1's open 10. */
static void s_bracket(const double bar2[4], double sl, double tp, double trail,
                      bt_recorder_t *rec)
{
    double b[4][4] = {{10, 10.5, 9.5, 10}, {10, 10.6, 9.9, 10.2}, {0}, {11, 11, 8, 9}};
    memcpy(b[2], bar2, sizeof b[2]);
    tu_ser_t x;
    tu_ser_init(&x, "A", 4, (const double(*)[4])b, 1e6, 0, 1);
    bt_engine_cfg_t c = tu_cfg();
    static tu_act_t acts[1];
    acts[0] = (tu_act_t){.step = 0,
                         .what = TU_ORDER,
                         .req = {.qty = 10, .type = BT_ORD_MARKET, .stop_loss = sl,
                                 .take_profit = tp, .trail_pct = trail}};
    tu_run(&c, &x.s, acts, 1, rec);
}

static const bt_order_rec_t *s_child(const bt_recorder_t *rec, bt_order_type_t type)
{
    for (size_t i = 0; i < rec->norders; i++)
        if (rec->orders[i].id != g_ids[0] && rec->orders[i].type == type)
            return &rec->orders[i];
    cr_assert_fail("no child of type %d", (int)type);
    return NULL;
}

Test(engine_bracket, take_profit_cancels_stop)
{
    bt_recorder_t rec;
    bt_recorder_init(&rec);
    const double bar2[4] = {10.2, 11.2, 10.1, 11};
    s_bracket(bar2, 9.0, 11.0, 0, &rec);
    /* children act from bar 2: high 11.2 >= 11: TP at max(10.2, 11) = 11;
     * the stop is cancelled (one-cancels-other) so bar 3's low 8 does nothing */
    cr_assert_eq(g_nfills, 2);
    TU_EQ(g_fills[1].f.price, 11.0);
    TU_EQ(g_fills[1].f.qty, -10.0);
    cr_assert_eq(g_fills[1].f.time, tu_day(2));
    const bt_order_rec_t *sl = s_child(&rec, BT_ORD_STOP);
    cr_assert_eq(sl->status, BT_OS_CANCELLED);
    cr_assert_str_eq(sl->reason, "one-cancels-other");
    cr_assert_eq(s_child(&rec, BT_ORD_LIMIT)->status, BT_OS_FILLED);
    /* round trip pnl (11 - 10) * 10 = 10 */
    cr_assert_eq(rec.ntrades, 1);
    cr_assert(!rec.trades[0].open);
    TU_EQ(rec.trades[0].pnl, 10.0);
    bt_recorder_fini(&rec);
}

Test(engine_bracket, stop_loss_cancels_target)
{
    bt_recorder_t rec;
    bt_recorder_init(&rec);
    const double bar2[4] = {10, 10.1, 8.8, 9};
    s_bracket(bar2, 9.0, 11.0, 0, &rec);
    /* low 8.8 <= 9: stop at min(open 10, 9) = 9; TP cancelled */
    cr_assert_eq(g_nfills, 2);
    TU_EQ(g_fills[1].f.price, 9.0);
    cr_assert_eq(s_child(&rec, BT_ORD_LIMIT)->status, BT_OS_CANCELLED);
    TU_EQ(rec.trades[0].pnl, -10.0);
    bt_recorder_fini(&rec);
}

Test(engine_bracket, both_in_range_stop_first)
{
    bt_recorder_t rec;
    bt_recorder_init(&rec);
    const double bar2[4] = {10, 11.5, 8.5, 10};
    s_bracket(bar2, 9.0, 11.0, 0, &rec);
    /* range 8.5..11.5 covers both: the adverse exit (stop at 9) is assumed */
    cr_assert_eq(g_nfills, 2);
    TU_EQ(g_fills[1].f.price, 9.0);
    cr_assert_eq(s_child(&rec, BT_ORD_STOP)->status, BT_OS_FILLED);
    cr_assert_eq(s_child(&rec, BT_ORD_LIMIT)->status, BT_OS_CANCELLED);
    bt_recorder_fini(&rec);
}

Test(engine_bracket, children_wait_for_the_next_bar)
{
    /* parent fills at bar 1's open 10; bar 1's low 9.9 is above the stop; a
     * stop at 9.95 would be inside bar 1 but children act from bar 2 */
    bt_recorder_t rec;
    bt_recorder_init(&rec);
    const double bar2[4] = {10.2, 10.3, 10.1, 10.2};
    s_bracket(bar2, 9.95, 0, 0, &rec);
    /* bar 2 low 10.1 > 9.95: still open; bar 3 opens 11, low 8: fills at 9.95 */
    cr_assert_eq(g_nfills, 2);
    cr_assert_eq(g_fills[1].f.time, tu_day(3));
    TU_EQ(g_fills[1].f.price, 9.95);
    bt_recorder_fini(&rec);
}

Test(engine_bracket, trailing_stop)
{
    bt_recorder_t rec;
    bt_recorder_init(&rec);
    const double bar2[4] = {10.2, 12, 10.1, 11.8};
    /* bar 3 is {11, 11, 8, 9} */
    s_bracket(bar2, 0, 0, 0.1, &rec);
    /* entry 10: water mark 10, stop 9. bar 2: low 10.1 > 9, water mark -> 12,
     * stop -> 10.8. bar 3: low 8 <= 10.8: fills at min(open 11, 10.8) = 10.8 */
    cr_assert_eq(g_nfills, 2);
    cr_assert_eq(g_fills[1].f.time, tu_day(3));
    TU_EQ(g_fills[1].f.price, 10.8);
    TU_EQ(rec.trades[0].pnl, 8.0);
    bt_recorder_fini(&rec);
}

Test(engine_bracket, partial_parent_grows_children)
{
    /* parent 10 under volume_cap 0.1 * 50 = 5 per bar: 5 at bar 1, 5 at bar 2;
     * the stop child protects 5 then 10 and sells all 10 at bar 3 */
    static const double b[4][4] = {
        {10, 10.5, 9.5, 10}, {10, 10.6, 9.9, 10.2}, {10.2, 10.4, 10.1, 10.3}, {9.5, 9.6, 8.5, 9}};
    tu_ser_t x;
    tu_ser_init(&x, "A", 4, b, 50, 0, 1);
    bt_engine_cfg_t c = tu_cfg();
    c.volume_cap = 1.0; /* children are capped too: 50 per bar is plenty */
    x.v[1] = x.v[2] = 5; /* 5 units per bar for the parent */
    tu_act_t acts[] = {{.step = 0,
                        .what = TU_ORDER,
                        .req = {.qty = 10, .type = BT_ORD_MARKET, .stop_loss = 9.0}}};
    tu_run(&c, &x.s, acts, TU_N(acts), NULL);
    /* fills: +5 @10 (bar 1), +5 @10.2 (bar 2), -10 @ min(9.5, 9) = 9 (bar 3) */
    cr_assert_eq(g_nfills, 3);
    TU_EQ(g_fills[1].f.qty, 5.0);
    TU_EQ(g_fills[2].f.qty, -10.0);
    TU_EQ(g_fills[2].f.price, 9.0);
    TU_EQ(g_pos[3], 0.0);
}
