/* Unit tests of common/config/bt_grid: ranges (float steps), lists,
 * constraints pruning (counted by hand), size refusal, deterministic order,
 * the data.symbols axis, and sweep: section errors. Configs are parsed from
 * strings (no files). */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "bt_config.h"
#include "bt_grid.h"

static const bt_param_spec_t s_params[] = {
    {"fast", BT_PARAM_INT, 10, 2, 200, "fast period"},
    {"slow", BT_PARAM_INT, 30, 3, 500, "slow period"},
    {"band", BT_PARAM_REAL, 2.0, 0.05, 4.0, "band width"},
};
static size_t s_size(const double *p, size_t n) { (void)p; return n; }
static bt_err_t s_init(void *st, const double *p, size_t n, bt_errbuf_t *eb)
{
    (void)st; (void)p; (void)n; (void)eb;
    return BT_OK;
}
static void s_bar(void *st, bt_ctx_t *ctx) { (void)st; (void)ctx; }
static const bt_strategy_t s_fake = {"fake_cross", "test", BT_STRAT_SINGLE, s_params, 3,
                                     s_size, s_init, s_bar, NULL, NULL};
static const bt_strategy_t *const s_strats[] = {&s_fake};

#define S_HEAD "strategy: fake_cross\ndata: {store: bars.h5}\n"

static bt_config_t *s_cfg(const char *yaml)
{
    bt_errbuf_t eb;
    bt_config_t *c = bt_config_load_string(yaml, "g.yaml", NULL, 0, s_strats, 1, &eb);
    cr_assert_not_null(c, "%s", eb.msg);
    return c;
}

static bt_grid_t *s_grid(const bt_config_t *c, bool huge)
{
    bt_errbuf_t eb;
    bt_grid_t *g = bt_grid_new(c, huge, &eb);
    cr_assert_not_null(g, "%s", eb.msg);
    return g;
}

Test(grid, no_sweep_is_one_point)
{
    bt_config_t *c = s_cfg(S_HEAD);
    bt_grid_t *g = s_grid(c, false);
    cr_assert_eq(bt_grid_size(g), 1);
    cr_assert_eq(bt_grid_count(g), 1);
    cr_assert_eq(bt_grid_naxes(g), 0);
    bt_grid_destroy(&g);
    cr_assert_null(g);
    bt_config_destroy(&c);
}

Test(grid, float_range_exact_points)
{
    /* 0.1 to 0.5 step 0.1: (0.5-0.1)/0.1 = 4.000000000000001 in doubles -> 5 points */
    bt_config_t *c = s_cfg(S_HEAD "sweep:\n  params.band: {from: 0.1, to: 0.5, step: 0.1}\n");
    bt_grid_t *g = s_grid(c, false);
    cr_assert_eq(bt_grid_size(g), 5);
    const double want[] = {0.1, 0.2, 0.3, 0.4, 0.5};
    for (size_t j = 0; j < 5; j++)
        cr_assert_float_eq(bt_grid_axis_value(g, 0, j), want[j], 1e-12);
    /* value = from + i*step, not accumulated: the third is 0.1 + 2*0.1 */
    cr_assert_eq(bt_grid_axis_value(g, 0, 2), 0.1 + 2 * 0.1);
    bt_grid_destroy(&g);
    bt_config_destroy(&c);

    /* 0.1 to 0.3 step 0.1: (0.3-0.1)/0.1 = 1.9999999999999998 -> still 3 points */
    c = s_cfg(S_HEAD "sweep:\n  params.band: {from: 0.1, to: 0.3, step: 0.1}\n");
    g = s_grid(c, false);
    cr_assert_eq(bt_grid_size(g), 3);
    bt_grid_destroy(&g);
    bt_config_destroy(&c);

    /* 5 to 50 step 5 -> 10 points; 5 to 52 step 5 -> 10 points (52 is off the step grid) */
    c = s_cfg(S_HEAD "sweep:\n  params.fast: {from: 5, to: 52, step: 5}\n");
    g = s_grid(c, false);
    cr_assert_eq(bt_grid_size(g), 10);
    cr_assert_eq(bt_grid_axis_value(g, 0, 9), 50);
    bt_grid_destroy(&g);
    bt_config_destroy(&c);
}

Test(grid, lists_and_order)
{
    bt_config_t *c = s_cfg(S_HEAD "sweep:\n  params.fast: [5, 10]\n"
                                  "  params.slow: [20, 30, 40]\n");
    bt_grid_t *g = s_grid(c, false);
    cr_assert_eq(bt_grid_size(g), 6);
    cr_assert_str_eq(bt_grid_axis_key(g, 0), "params.fast");
    /* file order, last axis fastest: (5,20) (5,30) (5,40) (10,20) (10,30) (10,40) */
    const double want[6][2] = {{5, 20}, {5, 30}, {5, 40}, {10, 20}, {10, 30}, {10, 40}};
    bt_config_t *d = bt_config_dup(c);
    bt_errbuf_t eb;
    for (uint64_t r = 0; r < 6; r++) {
        size_t idx[2];
        cr_assert(bt_grid_point(g, r, idx));
        cr_assert_eq(bt_grid_axis_value(g, 0, idx[0]), want[r][0]);
        cr_assert_eq(bt_grid_axis_value(g, 1, idx[1]), want[r][1]);
        cr_assert_eq(bt_grid_apply(g, r, d, &eb), BT_OK, "%s", eb.msg);
        cr_assert_eq(bt_config_params(d)[0], want[r][0]);
        cr_assert_eq(bt_config_params(d)[1], want[r][1]);
    }
    char label[128];
    cr_assert_str_eq(bt_grid_label(g, 4, label, sizeof label), "params.fast=10 params.slow=30");
    cr_assert_eq(bt_grid_apply(g, 6, d, &eb), BT_EINVAL);
    bt_config_destroy(&d);
    bt_grid_destroy(&g);
    bt_config_destroy(&c);
}

Test(grid, constraints_prune)
{
    /* fast in 5..30 step 5 (6 values), slow in 10..40 step 10 (4 values).
     * fast < slow: slow=10 -> fast 5 (1); 20 -> 5,10,15 (3); 30 -> 5..25 (5);
     * 40 -> all 6. Total 15 of 24. With "params.fast != 15" too: remove
     * (15,20) (15,30) (15,40) -> 12. */
    bt_config_t *c = s_cfg(S_HEAD "sweep:\n  params.fast: {from: 5, to: 30, step: 5}\n"
                                  "  params.slow: {from: 10, to: 40, step: 10}\n"
                                  "  constraints: [\"params.fast < params.slow\"]\n");
    bt_grid_t *g = s_grid(c, false);
    cr_assert_eq(bt_grid_size(g), 24);
    cr_assert_eq(bt_grid_count(g), 15);
    /* walking with bt_grid_next visits exactly count points, all valid */
    uint64_t r = 0, seen = 0;
    while (bt_grid_next(g, &r)) {
        size_t idx[2];
        cr_assert(bt_grid_point(g, r, idx));
        cr_assert_lt(bt_grid_axis_value(g, 0, idx[0]), bt_grid_axis_value(g, 1, idx[1]));
        seen++;
        r++;
    }
    cr_assert_eq(seen, 15);
    bt_grid_destroy(&g);
    bt_config_destroy(&c);

    c = s_cfg(S_HEAD "sweep:\n  params.fast: {from: 5, to: 30, step: 5}\n"
                     "  params.slow: {from: 10, to: 40, step: 10}\n"
                     "  constraints:\n    - params.fast < params.slow\n    - params.fast != 15\n");
    g = s_grid(c, false);
    cr_assert_eq(bt_grid_count(g), 12);
    bt_grid_destroy(&g);
    bt_config_destroy(&c);

    /* a literal on the left and a non-axis key (params.slow = 30 fixed) on the right:
     * 20 <= fast, fast < 30 -> fast in {20, 25} -> 2 */
    c = s_cfg(S_HEAD "params: {slow: 30}\nsweep:\n  params.fast: {from: 5, to: 30, step: 5}\n"
                     "  constraints: [\"20 <= params.fast\", \"params.fast < params.slow\"]\n");
    g = s_grid(c, false);
    cr_assert_eq(bt_grid_count(g), 2);
    bt_grid_destroy(&g);
    bt_config_destroy(&c);
}

static void s_grid_err(const char *yaml, bool huge, bt_err_t code, const char *n1, const char *n2)
{
    bt_config_t *c = s_cfg(yaml);
    bt_errbuf_t eb;
    bt_grid_t *g = bt_grid_new(c, huge, &eb);
    cr_assert_null(g);
    cr_assert_eq(eb.code, code, "%s", eb.msg);
    cr_assert(strstr(eb.msg, n1), "'%s' lacks '%s'", eb.msg, n1);
    if (n2)
        cr_assert(strstr(eb.msg, n2), "'%s' lacks '%s'", eb.msg, n2);
    bt_config_destroy(&c);
}

Test(grid, constraint_errors)
{
    const char *head = S_HEAD "sweep:\n  params.fast: [5, 10]\n  constraints:\n";
    char y[512];
    snprintf(y, sizeof y, "%s    - params.fast << params.slow\n", head);
    s_grid_err(y, false, BT_ECONFIG, "g.yaml:6: sweep.constraints", "expected one of");
    snprintf(y, sizeof y, "%s    - params.fast < params.nope\n", head);
    s_grid_err(y, false, BT_ECONFIG, "g.yaml:6", "'params.nope' is neither");
    snprintf(y, sizeof y, "%s    - params.fast < 3 and 4\n", head);
    s_grid_err(y, false, BT_ECONFIG, "g.yaml:6", "unexpected 'and 4'");
    snprintf(y, sizeof y, "%s    - \"< 3\"\n", head);
    s_grid_err(y, false, BT_ECONFIG, "g.yaml:6", "expected a key or a number");
}

Test(grid, size_refusal)
{
    /* 3 axes of 1000 values = 1e9 points > 1e7 default */
    const char *big = S_HEAD "sweep:\n"
                             "  execution.slippage_bps: {from: 0, to: 999, step: 1}\n"
                             "  execution.commission_min: {from: 0, to: 999, step: 1}\n"
                             "  capital: {from: 1000, to: 1999, step: 1}\n";
    s_grid_err(big, false, BT_ELIMIT, "g.yaml:3: sweep: the grid has 1000000000 points",
               "--allow-huge");
    /* --allow-huge lifts it (no constraints, so nothing is scanned) */
    bt_config_t *c = s_cfg(big);
    bt_grid_t *g = s_grid(c, true);
    cr_assert_eq(bt_grid_size(g), 1000000000ULL);
    /* the last point decodes without materialising anything: (999, 999, 1999) */
    size_t idx[3];
    bt_grid_point(g, 999999999ULL, idx);
    cr_assert_eq(bt_grid_axis_value(g, 2, idx[2]), 1999);
    bt_grid_destroy(&g);
    bt_config_destroy(&c);
    /* sweep.max_grid lowers the limit: 2 x 3 = 6 > 5 */
    s_grid_err(S_HEAD "sweep:\n  max_grid: 5\n  params.fast: [5, 10]\n  params.slow: [20, 30, 40]\n",
               false, BT_ELIMIT, "6 points", "max_grid (5)");
    /* overflow of uint64 is caught before multiplying: 4 axes of 1e6 and one of
     * 1e5 points = 1e29 > 2^64 (1.8e19) */
    const char *huge = S_HEAD "sweep:\n"
        "  execution.slippage_bps: {from: 0, to: 999.999, step: 0.001}\n"
        "  execution.commission_min: {from: 0, to: 999999, step: 1}\n"
        "  capital: {from: 1, to: 1000000, step: 1}\n"
        "  sizing.quantity: {from: 1, to: 1000000, step: 1}\n"
        "  risk.max_positions: {from: 1, to: 100000, step: 1}\n";
    s_grid_err(huge, true, BT_ELIMIT, "more than 2^64", NULL);
}

Test(grid, symbols_axis)
{
    bt_config_t *c = s_cfg(S_HEAD "sweep:\n  data.symbols: [[AAA], [AAA, BBB], [CCC]]\n"
                                  "  params.fast: [5, 10]\n");
    bt_grid_t *g = s_grid(c, false);
    cr_assert_eq(bt_grid_size(g), 6);
    cr_assert(bt_grid_axis_is_symbols(g, 0));
    size_t n = 0;
    const char *const *s = bt_grid_axis_symbols(g, 0, 1, &n);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(s[1], "BBB");
    bt_config_t *d = bt_config_dup(c);
    bt_errbuf_t eb;
    /* point 3 = (symbols [AAA, BBB], fast 10) */
    cr_assert_eq(bt_grid_apply(g, 3, d, &eb), BT_OK);
    const char *const *got = bt_config_symbols(d, &n);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(got[0], "AAA");
    cr_assert_eq(bt_config_params(d)[0], 10);
    char label[128];
    cr_assert_str_eq(bt_grid_label(g, 3, label, sizeof label),
                     "data.symbols=[AAA,BBB] params.fast=10");
    bt_config_destroy(&d);
    bt_grid_destroy(&g);
    bt_config_destroy(&c);
}

static void s_load_err(const char *yaml, const char *n1, const char *n2)
{
    bt_errbuf_t eb;
    bt_config_t *c = bt_config_load_string(yaml, "g.yaml", NULL, 0, s_strats, 1, &eb);
    cr_assert_null(c);
    cr_assert(strstr(eb.msg, n1), "'%s' lacks '%s'", eb.msg, n1);
    if (n2)
        cr_assert(strstr(eb.msg, n2), "'%s' lacks '%s'", eb.msg, n2);
}

Test(grid, sweep_section_errors)
{
    s_load_err(S_HEAD "sweep:\n  params.fast: [5, 1000]\n", "g.yaml:4: params.fast",
               "out of bounds");
    s_load_err(S_HEAD "sweep:\n  params.fast: [5, 7.5]\n", "g.yaml:4: params.fast",
               "whole number");
    s_load_err(S_HEAD "sweep:\n  params.fats: [5]\n", "g.yaml:4: params.fats", "valid parameters");
    s_load_err(S_HEAD "sweep:\n  execution.comission_pct: [1]\n", "g.yaml:4",
               "did you mean 'execution.commission_pct'");
    s_load_err(S_HEAD "sweep:\n  params.fast: {from: 5, to: 1, step: 1}\n", "g.yaml:4",
               "below 'from'");
    s_load_err(S_HEAD "sweep:\n  params.fast: {from: 5, to: 10, step: 0}\n", "g.yaml:4",
               "greater than 0");
    s_load_err(S_HEAD "sweep:\n  params.fast: {from: 5, to: 10, stp: 1}\n", "g.yaml:4",
               "only from, to and step");
    s_load_err(S_HEAD "sweep:\n  params.fast: {from: 5, to: 300, step: 5}\n", "g.yaml:4",
               "range to");
    s_load_err(S_HEAD "sweep:\n  params.fast: 5\n", "g.yaml:4", "a list");
    s_load_err(S_HEAD "sweep:\n  data.store: [a, b]\n", "g.yaml:4", "not numeric");
    s_load_err(S_HEAD "sweep: [1]\n", "g.yaml:3: sweep", "mapping");
}
