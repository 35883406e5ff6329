/* risk.scope: account — limits of a single-symbol strategy on several
 * symbols over the whole account instead of per sleeve. Hand-worked
 * answers inline. */
#include "test_engine_util.h"

/* Three symbols at 10; A drops to 6.5 at bar 2, B at bar 3, C at bar 4. */
static void s_three(tu_ser_t x[3])
{
    static const char *const names[3] = {"A", "B", "C"};
    for (int k = 0; k < 3; k++) {
        double b[6][4];
        for (int i = 0; i < 6; i++) {
            double p = i >= 2 + k ? 6.5 : 10.0;
            b[i][0] = b[i][1] = b[i][2] = b[i][3] = p;
        }
        tu_ser_init(&x[k], names[k], 6, (const double(*)[4])b, 1e6, 0, 1);
    }
}

/* Sorted distinct creation times of the "kill switch" orders (up to 8). */
static size_t s_kill_times(const bt_recorder_t *rec, int64_t *t, size_t *norders)
{
    size_t n = 0;
    *norders = 0;
    for (size_t i = 0; i < rec->norders; i++) {
        const bt_order_rec_t *o = &rec->orders[i];
        if (strcmp(o->reason, "kill switch") != 0 || o->status != BT_OS_FILLED)
            continue;
        (*norders)++;
        size_t j = 0;
        while (j < n && t[j] != o->created)
            j++;
        if (j == n && n < 8)
            t[n++] = o->created;
    }
    return n;
}

static bt_metrics_t s_run_kill(bt_risk_scope_t scope, bt_recorder_t *rec)
{
    static tu_ser_t x[3];
    s_three(x);
    bt_series_t ser[3] = {x[0].s, x[1].s, x[2].s};
    bt_engine_cfg_t c = tu_cfg();
    c.initial_cash = 3000; /* 1000 per sleeve */
    c.size_value = 100;    /* fixed 100 units: all of a sleeve's cash at 10 */
    c.max_drawdown = 0.3;
    c.risk_scope = scope;
    static tu_act_t acts[1];
    acts[0] = (tu_act_t){.step = 0, .what = TU_SIGNAL, .sym = 0, .target = 1};
    return tu_run_ex(&c, ser, 3, &tu_script, acts, 1, rec, 2);
}

Test(engine_account, kill_switch_per_sleeve_fires_three_times)
{
    bt_recorder_t rec;
    bt_recorder_init(&rec);
    s_run_kill(BT_RISK_SLEEVE, &rec);
    /* each sleeve: 100 @ 10, equity 650 < 0.7 * 1000 when its price drops:
     * A at bar 2, B at bar 3, C at bar 4 */
    int64_t t[8];
    size_t nord;
    size_t n = s_kill_times(&rec, t, &nord);
    cr_assert_eq(nord, 3);
    cr_assert_eq(n, 3);
    cr_assert_eq(t[0], tu_day(2));
    cr_assert_eq(t[1], tu_day(3));
    cr_assert_eq(t[2], tu_day(4));
    bt_recorder_fini(&rec);
}

Test(engine_account, kill_switch_account_fires_once)
{
    bt_recorder_t rec;
    bt_recorder_init(&rec);
    bt_metrics_t m = s_run_kill(BT_RISK_ACCOUNT, &rec);
    /* account equity: bar 2: 650 + 1000 + 1000 = 2650 (dd 11.7 %); bar 3:
     * 2300 (23.3 %); bar 4: 1950 (35 % >= 30 %): one kill at bar 4 closes all
     * three sleeves, filled at bar 5's open 6.5 */
    int64_t t[8];
    size_t nord;
    size_t n = s_kill_times(&rec, t, &nord);
    cr_assert_eq(nord, 3);
    cr_assert_eq(n, 1);
    cr_assert_eq(t[0], tu_day(4));
    cr_assert_eq(rec.ntrades, 3);
    for (size_t i = 0; i < rec.ntrades; i++) {
        cr_assert_eq(rec.trades[i].exit_reason, BT_EXIT_RISK);
        cr_assert_eq(rec.trades[i].exit_time, tu_day(5));
    }
    TU_EQ(m.final_equity, 1950.0);
    bt_recorder_fini(&rec);
}

/* Net position per sleeve from the fills of the step hook. */
static void s_positions(double pos[3])
{
    pos[0] = pos[1] = pos[2] = 0.0;
    for (size_t i = 0; i < g_nfills; i++)
        pos[g_fills[i].book] += g_fills[i].f.qty;
}

static bt_metrics_t s_run_lev(bt_risk_scope_t scope)
{
    static tu_ser_t x[3];
    s_three(x);
    bt_series_t ser[3] = {x[0].s, x[1].s, x[2].s};
    bt_engine_cfg_t c = tu_cfg();
    c.initial_cash = 3000;
    c.size_value = 100;
    c.max_leverage = 0.5;
    c.risk_scope = scope;
    static tu_act_t acts[1];
    acts[0] = (tu_act_t){.step = 0, .what = TU_SIGNAL, .sym = 0, .target = 1};
    return tu_run_ex(&c, ser, 3, &tu_script, acts, 1, NULL, 2);
}

Test(engine_account, gross_exposure_per_sleeve)
{
    bt_metrics_t m = s_run_lev(BT_RISK_SLEEVE);
    /* each sleeve: 0.5 * 1000 / 10 = 50 units (shrunk from 100) */
    double pos[3];
    s_positions(pos);
    TU_EQ(pos[0], 50.0);
    TU_EQ(pos[1], 50.0);
    TU_EQ(pos[2], 50.0);
    TU_EQ(m.rejected_orders, 3.0);
}

Test(engine_account, gross_exposure_account)
{
    bt_metrics_t m = s_run_lev(BT_RISK_ACCOUNT);
    /* limit 0.5 * 3000 = 1500 over all sleeves, in sleeve order: A 100 units
     * (1000), B shrunk to (1500 - 1000) / 10 = 50, C refused (no room) */
    double pos[3];
    s_positions(pos);
    TU_EQ(pos[0], 100.0);
    TU_EQ(pos[1], 50.0);
    TU_EQ(pos[2], 0.0);
    TU_EQ(m.rejected_orders, 2.0);
}
