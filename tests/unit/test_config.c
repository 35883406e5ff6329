/* Unit tests of common/config/bt_config: defaults, unit conversion, every
 * error class with its FILE:LINE: key message, --set overrides and their
 * errors, and strategy parameter checks against a fake strategy. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bt_config.h"
#include "bt_metrics.h"

/* ---- A fake strategy with one INT and one REAL parameter ---- */

static const bt_param_spec_t s_fake_params[] = {
    {"fast", BT_PARAM_INT, 10, 2, 200, "fast period"},
    {"slow", BT_PARAM_INT, 30, 3, 500, "slow period"},
    {"band", BT_PARAM_REAL, 2.0, 0.5, 4.0, "band width"},
};
static size_t s_fake_size(const double *p, size_t n) { (void)p; return n * 8; }
static bt_err_t s_fake_init(void *st, const double *p, size_t n, bt_errbuf_t *eb)
{
    (void)st; (void)p; (void)n; (void)eb;
    return BT_OK;
}
static void s_fake_bar(void *st, bt_ctx_t *ctx) { (void)st; (void)ctx; }
static const bt_strategy_t s_fake = {"fake_cross", "test", BT_STRAT_SINGLE, s_fake_params, 3,
                                     s_fake_size, s_fake_init, s_fake_bar, NULL, NULL};
static const bt_strategy_t s_other = {"other", "test", BT_STRAT_PORTFOLIO, NULL, 0,
                                      s_fake_size, s_fake_init, s_fake_bar, NULL, NULL};
static const bt_strategy_t *const s_strats[] = {&s_fake, &s_other};

/* ---- Temp files ---- */

static char s_dir[256];

static void s_setup(void)
{
    snprintf(s_dir, sizeof s_dir, "/tmp/bt_test_config_XXXXXX");
    cr_assert_not_null(mkdtemp(s_dir));
}

static void s_teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    (void)system(cmd);
}

TestSuite(config, .init = s_setup, .fini = s_teardown);

/* Writes text to DIR/name and returns the path (static buffer). */
static const char *s_write(const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", s_dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static bt_config_t *s_load(const char *text, const char *const *ov, size_t nov, bt_errbuf_t *eb)
{
    return bt_config_load(s_write("c.yaml", text), ov, nov, s_strats, 2, eb);
}

/* Loads text expecting failure; the message must contain each needle. */
static void s_expect_err(const char *text, const char *const *ov, size_t nov, const char *n1,
                         const char *n2)
{
    bt_errbuf_t eb;
    bt_config_t *c = s_load(text, ov, nov, &eb);
    cr_assert_null(c, "expected an error for:\n%s", text);
    cr_assert_eq(eb.code, BT_ECONFIG, "code %d msg %s", eb.code, eb.msg);
    cr_assert(strstr(eb.msg, n1), "message '%s' lacks '%s'", eb.msg, n1);
    if (n2)
        cr_assert(strstr(eb.msg, n2), "message '%s' lacks '%s'", eb.msg, n2);
}

#define S_MIN "strategy: fake_cross\ndata: {store: bars.h5}\n"

Test(config, defaults)
{
    bt_errbuf_t eb;
    bt_config_t *c = s_load(S_MIN, NULL, 0, &eb);
    cr_assert_not_null(c, "%s", eb.msg);
    const bt_engine_cfg_t *e = bt_config_engine(c);
    cr_assert_eq(bt_config_strategy(c), &s_fake);
    cr_assert_eq(bt_config_params(c)[0], 10);
    cr_assert_eq(bt_config_params(c)[1], 30);
    cr_assert_eq(bt_config_params(c)[2], 2.0);
    cr_assert_str_eq(bt_config_store(c), "bars.h5");
    size_t n = 99;
    cr_assert_null(bt_config_symbols(c, &n));
    cr_assert_eq(n, 0);
    cr_assert_eq(e->initial_cash, 100000);
    cr_assert_eq(e->fill_at, BT_FILL_NEXT_OPEN);
    cr_assert_eq(e->commission_rate, 0);
    cr_assert_eq(e->margin_requirement, 0.5);
    cr_assert_eq(e->sizing, BT_SIZE_PCT_EQUITY);
    cr_assert_float_eq(e->size_value, 0.95, 1e-15);
    cr_assert_eq(e->close_at_end, true);
    cr_assert_eq(e->allow_short, false);
    cr_assert_eq(e->rebalance, BT_REBAL_NONE);
    cr_assert_eq(e->start, INT64_MIN);
    cr_assert_eq(e->end, INT64_MAX);
    cr_assert_str_eq(bt_metrics_name((size_t)bt_config_rank_by(c)), "sharpe");
    cr_assert(bt_config_rank_desc(c));
    cr_assert_eq(bt_config_top(c), 20);
    cr_assert_eq(bt_config_max_grid(c), 10000000ULL);
    cr_assert_eq(bt_config_sweep(c)->naxes, 0);
    cr_assert_eq(strlen(bt_config_hash(c)), 64);
    bt_config_destroy(&c);
    cr_assert_null(c);
    bt_config_destroy(&c); /* safe twice */
}

Test(config, units_conversion)
{
    const char *text = S_MIN
        "capital: 50000\n"
        "execution:\n"
        "  fill: same_close\n"
        "  slippage_bps: 5\n"
        "  commission_pct: 0.1\n"
        "  commission_per_share: 0.005\n"
        "  commission_min: 1\n"
        "  volume_cap_pct: 10\n"
        "  allow_short: yes\n"
        "  allow_margin: true\n"
        "  margin_requirement_pct: 150\n"
        "sizing: {mode: percent_cash, value_pct: 25, fractional: true}\n"
        "risk:\n"
        "  max_position_pct: 20\n"
        "  max_leverage: 1.5\n"
        "  max_positions: 3\n"
        "  stop_loss_pct: 5\n"
        "  take_profit_pct: 12.5\n"
        "  trailing_stop_pct: 7\n"
        "  max_drawdown_pct: 30\n"
        "  rebalance: monthly\n"
        "report: {risk_free_rate_pct: 2, close_at_end: false}\n"
        "rank_by: max_drawdown\n"
        "top: 5\n";
    bt_errbuf_t eb;
    bt_config_t *c = s_load(text, NULL, 0, &eb);
    cr_assert_not_null(c, "%s", eb.msg);
    const bt_engine_cfg_t *e = bt_config_engine(c);
    cr_assert_eq(e->initial_cash, 50000);
    cr_assert_eq(e->fill_at, BT_FILL_SAME_CLOSE);
    cr_assert_eq(e->slippage_bps, 5);        /* bps stay bps */
    cr_assert_float_eq(e->commission_rate, 0.001, 1e-15); /* 0.1 % = 0.001 */
    cr_assert_eq(e->commission_per_share, 0.005);
    cr_assert_eq(e->commission_min, 1);
    cr_assert_float_eq(e->volume_cap, 0.10, 1e-15);
    cr_assert(e->allow_short && e->allow_margin);
    cr_assert_float_eq(e->margin_requirement, 1.5, 1e-15);
    cr_assert_eq(e->sizing, BT_SIZE_PCT_CASH);
    cr_assert_float_eq(e->size_value, 0.25, 1e-15);
    cr_assert(e->fractional);
    cr_assert_float_eq(e->max_position, 0.20, 1e-15);
    cr_assert_eq(e->max_leverage, 1.5);
    cr_assert_eq(e->max_positions, 3);
    cr_assert_float_eq(e->stop_loss, 0.05, 1e-15);
    cr_assert_float_eq(e->take_profit, 0.125, 1e-15);
    cr_assert_float_eq(e->trailing_stop, 0.07, 1e-15);
    cr_assert_float_eq(e->max_drawdown, 0.30, 1e-15);
    cr_assert_eq(e->rebalance, BT_REBAL_MONTHLY);
    cr_assert_float_eq(e->risk_free_rate, 0.02, 1e-15);
    cr_assert_eq(e->close_at_end, false);
    cr_assert_str_eq(bt_metrics_name((size_t)bt_config_rank_by(c)), "max_drawdown");
    cr_assert_not(bt_config_rank_desc(c)); /* smaller drawdown is better */
    cr_assert_eq(bt_config_top(c), 5);
    double v = 0;
    cr_assert_eq(bt_config_get(c, "execution.commission_pct", &v, &eb), BT_OK);
    cr_assert_eq(v, 0.1); /* read back in user units, exactly */
    bt_config_destroy(&c);
}

Test(config, fixed_sizing_and_dates)
{
    const char *text = S_MIN "sizing: {mode: fixed, quantity: 100}\n"
                             "data.symbols: [AAA, BBB]\n"
                             "data.start: 2001-02-03\n"
                             "data.end: 2001-12-31\n";
    /* top-level dotted keys are the same keys as nested ones */
    bt_errbuf_t eb;
    bt_config_t *c = s_load(text, NULL, 0, &eb);
    cr_assert_not_null(c, "%s", eb.msg);
    const bt_engine_cfg_t *e = bt_config_engine(c);
    cr_assert_eq(e->sizing, BT_SIZE_FIXED);
    cr_assert_eq(e->size_value, 100);
    size_t n = 0;
    const char *const *syms = bt_config_symbols(c, &n);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(syms[0], "AAA");
    cr_assert_str_eq(syms[1], "BBB");
    /* 2001-02-03 = day 11356 since 1970-01-01 (Python: date(2001,2,3).toordinal()-719163) */
    cr_assert_eq(e->start, INT64_C(11356) * 86400 * 1000000000);
    /* a bare end date includes the whole day: 2001-12-31 is day 11687 */
    cr_assert_eq(e->end, INT64_C(11688) * 86400 * 1000000000 - 1);
    bt_config_destroy(&c);
}

Test(config, set_overrides)
{
    const char *ov[] = {"params.fast=12", "execution.commission_pct=0.2", "data.symbols=[X, Y, Z]",
                        "execution.fill=same_close", "capital=1e6"};
    bt_errbuf_t eb;
    bt_config_t *c = s_load(S_MIN "params: {fast: 5}\nexecution: {commission_pct: 0.1}\n", ov, 5,
                            &eb);
    cr_assert_not_null(c, "%s", eb.msg);
    cr_assert_eq(bt_config_params(c)[0], 12);
    cr_assert_float_eq(bt_config_engine(c)->commission_rate, 0.002, 1e-15);
    cr_assert_eq(bt_config_engine(c)->fill_at, BT_FILL_SAME_CLOSE);
    cr_assert_eq(bt_config_engine(c)->initial_cash, 1e6);
    size_t n = 0;
    bt_config_symbols(c, &n);
    cr_assert_eq(n, 3);
    char h1[65];
    memcpy(h1, bt_config_hash(c), 65);
    bt_config_destroy(&c);
    /* the hash covers the overrides */
    c = s_load(S_MIN "params: {fast: 5}\nexecution: {commission_pct: 0.1}\n", ov, 4, &eb);
    cr_assert_not_null(c);
    cr_assert_str_neq(bt_config_hash(c), h1);
    bt_config_destroy(&c);
}

Test(config, set_overrides_bad_file_value)
{
    /* an override replaces the file's value before validation */
    const char *ov[] = {"params.fast=12"};
    bt_errbuf_t eb;
    bt_config_t *c = s_load(S_MIN "params: {fast: 1000}\n", ov, 1, &eb);
    cr_assert_not_null(c, "%s", eb.msg);
    cr_assert_eq(bt_config_params(c)[0], 12);
    bt_config_destroy(&c);
}

Test(config, set_errors)
{
    const char *o1[] = {"params.fast"};
    s_expect_err(S_MIN, o1, 1, "--set params.fast", "key=value");
    const char *o2[] = {"execution.comission_pct=1"};
    s_expect_err(S_MIN, o2, 1, "--set execution.comission_pct=1: execution.comission_pct",
                 "did you mean 'execution.commission_pct'");
    const char *o3[] = {"params.fast=abc"};
    s_expect_err(S_MIN, o3, 1, "--set params.fast=abc: params.fast", "whole number");
    const char *o4[] = {"capital=[1, 2"};
    s_expect_err(S_MIN, o4, 1, "--set capital=[1, 2", "YAML syntax error");
    const char *o5[] = {"risk.stop_loss_pct=150"};
    s_expect_err(S_MIN, o5, 1, "--set risk.stop_loss_pct=150: risk.stop_loss_pct",
                 "out of bounds");
}

Test(config, error_unknown_key)
{
    s_expect_err(S_MIN "execution:\n  comission_pct: 0.1\n", NULL, 0,
                 "c.yaml:4: execution.comission_pct", "did you mean 'execution.commission_pct'");
    /* right key in the wrong section */
    s_expect_err(S_MIN "commission_pct: 0.1\n", NULL, 0, "c.yaml:3: commission_pct",
                 "did you mean 'execution.commission_pct'");
    s_expect_err(S_MIN "zzzzzzzz: 1\n", NULL, 0, "c.yaml:3: zzzzzzzz", "unknown key");
    s_expect_err(S_MIN "exection:\n  fill: next_open\n", NULL, 0, "c.yaml:3: exection",
                 "did you mean 'execution:'");
}

Test(config, error_wrong_type)
{
    s_expect_err(S_MIN "capital: lots\n", NULL, 0, "c.yaml:3: capital", "expected a number");
    s_expect_err(S_MIN "capital: [1]\n", NULL, 0, "c.yaml:3: capital", "list or mapping");
    s_expect_err(S_MIN "execution: {allow_short: maybe}\n", NULL, 0,
                 "c.yaml:3: execution.allow_short", "true or false");
    s_expect_err(S_MIN "risk: {max_positions: 2.5}\n", NULL, 0, "c.yaml:3: risk.max_positions",
                 "whole number");
    s_expect_err(S_MIN "execution: 5\n", NULL, 0, "c.yaml:3: execution", "section");
    s_expect_err(S_MIN "capital:\n", NULL, 0, "c.yaml:3: capital", "got nothing");
    s_expect_err(S_MIN "data.symbols: 5\n", NULL, 0, "c.yaml:3: data.symbols", "list of symbols");
}

Test(config, error_bounds)
{
    s_expect_err(S_MIN "execution:\n  fill: next_open\n  commission_pct: 101\n", NULL, 0,
                 "c.yaml:5: execution.commission_pct", "allowed 0 to 99.99");
    s_expect_err(S_MIN "capital: -5\n", NULL, 0, "c.yaml:3: capital", "out of bounds");
    s_expect_err(S_MIN "capital: .nan\n", NULL, 0, "c.yaml:3: capital", "number");
}

Test(config, error_enum)
{
    s_expect_err(S_MIN "execution: {fill: tomorrow}\n", NULL, 0, "c.yaml:3: execution.fill",
                 "choose one of: next_open, same_close");
    s_expect_err(S_MIN "sizing: {mode: all_in}\n", NULL, 0, "c.yaml:3: sizing.mode",
                 "percent_equity, percent_cash, fixed, target_weight");
    s_expect_err(S_MIN "rank_by: sharp\n", NULL, 0, "c.yaml:3: rank_by", "did you mean 'sharpe'");
}

Test(config, error_dates)
{
    s_expect_err(S_MIN "data.start: 2001-02-30\n", NULL, 0, "c.yaml:3: data.start", "YYYY-MM-DD");
    s_expect_err(S_MIN "data.start: yesterday\n", NULL, 0, "c.yaml:3: data.start", "date");
    s_expect_err(S_MIN "data.start: 2002-01-01\ndata.end: 2001-01-01\n", NULL, 0,
                 "c.yaml:4: data.end", "before data.start");
}

Test(config, error_missing_required)
{
    s_expect_err("data: {store: x.h5}\n", NULL, 0, "c.yaml: strategy: missing required key",
                 "fake_cross, other");
    s_expect_err("strategy: fake_cross\n", NULL, 0, "c.yaml: data.store: missing required key",
                 NULL);
    s_expect_err("strategy: nope\ndata: {store: x.h5}\n", NULL, 0, "c.yaml:1: strategy",
                 "unknown strategy 'nope'");
}

Test(config, error_syntax_and_structure)
{
    s_expect_err(S_MIN "params: {fast: [1, 2\n", NULL, 0, "c.yaml:", "YAML syntax error");
    s_expect_err(S_MIN "capital: 1\ncapital: 2\n", NULL, 0, "c.yaml:", "duplicate");
    s_expect_err(S_MIN "execution: {fill: next_open}\nexecution.fill: same_close\n", NULL, 0,
                 "c.yaml:4: execution.fill", "given twice");
    s_expect_err("- a\n- b\n", NULL, 0, "c.yaml:1", "mapping");
    s_expect_err("", NULL, 0, "c.yaml", "empty");
    s_expect_err(S_MIN "walk_forward: {train: 100}\n", NULL, 0, "c.yaml:3: walk_forward",
                 "train and test are required");
}

Test(config, error_params)
{
    s_expect_err(S_MIN "params:\n  fast: 5\n  slwo: 40\n", NULL, 0, "c.yaml:5: params.slwo",
                 "valid parameters: fast, slow, band");
    s_expect_err(S_MIN "params: {fast: 5.5}\n", NULL, 0, "c.yaml:3: params.fast", "whole number");
    s_expect_err(S_MIN "params: {band: 9}\n", NULL, 0, "c.yaml:3: params.band", "0.5 to 4");
    s_expect_err(S_MIN "params: {fast: 1}\n", NULL, 0, "c.yaml:3: params.fast", "out of bounds");
    s_expect_err("strategy: other\ndata: {store: x}\nparams: {n: 1}\n", NULL, 0,
                 "c.yaml:3: params.n", "takes no parameters");
    bt_errbuf_t eb;
    bt_config_t *c = s_load(S_MIN "params: {band: 2.5, slow: 40}\n", NULL, 0, &eb);
    cr_assert_not_null(c, "%s", eb.msg);
    cr_assert_eq(bt_config_params(c)[2], 2.5);
    cr_assert_eq(bt_config_params(c)[1], 40);
    bt_config_destroy(&c);
}

Test(config, error_file)
{
    bt_errbuf_t eb;
    bt_config_t *c = bt_config_load("/nonexistent/x.yaml", NULL, 0, s_strats, 2, &eb);
    cr_assert_null(c);
    cr_assert_eq(eb.code, BT_EIO);
    cr_assert(strstr(eb.msg, "/nonexistent/x.yaml"), "%s", eb.msg);
}

Test(config, set_and_get)
{
    bt_errbuf_t eb;
    bt_config_t *c = s_load(S_MIN, NULL, 0, &eb);
    cr_assert_not_null(c);
    cr_assert_eq(bt_config_set(c, "params.fast", 12, &eb), BT_OK);
    cr_assert_eq(bt_config_params(c)[0], 12);
    cr_assert_eq(bt_config_set(c, "execution.commission_pct", 0.5, &eb), BT_OK);
    cr_assert_float_eq(bt_config_engine(c)->commission_rate, 0.005, 1e-15);
    cr_assert_eq(bt_config_set(c, "params.fast", 12.5, &eb), BT_ECONFIG);
    cr_assert(strstr(eb.msg, "params.fast"), "%s", eb.msg);
    cr_assert_eq(bt_config_set(c, "params.fast", 1000, &eb), BT_ECONFIG);
    cr_assert_eq(bt_config_set(c, "data.store", 1, &eb), BT_ECONFIG);
    cr_assert_eq(bt_config_set(c, "nope", 1, &eb), BT_ECONFIG);
    cr_assert_eq(bt_config_set(c, "sizing.mode", 2, &eb), BT_OK); /* enum index: fixed */
    cr_assert_eq(bt_config_engine(c)->sizing, BT_SIZE_FIXED);
    cr_assert_eq(bt_config_engine(c)->size_value, 1); /* sizing.quantity default */
    cr_assert_eq(bt_config_set(c, "sizing.mode", 4, &eb), BT_ECONFIG);
    cr_assert(bt_config_key_is_numeric(c, "risk.stop_loss_pct"));
    cr_assert_not(bt_config_key_is_numeric(c, "data.symbols"));

    bt_config_t *d = bt_config_dup(c);
    cr_assert_not_null(d);
    cr_assert_eq(bt_config_set(d, "params.fast", 20, &eb), BT_OK);
    cr_assert_eq(bt_config_params(c)[0], 12); /* the copy is independent */
    cr_assert_eq(bt_config_params(d)[0], 20);
    bt_config_destroy(&d);
    bt_config_destroy(&c);
}

Test(config, closest)
{
    const char *c[] = {"fast", "slow", "band"};
    cr_assert_str_eq(bt_config_closest("fsat", c, 3), "fast");
    cr_assert_str_eq(bt_config_closest("slo", c, 3), "slow");
    cr_assert_null(bt_config_closest("qqqqqqqqqq", c, 3));
}

Test(config, reference_lists_every_key)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    bt_config_write_reference(f);
    fclose(f);
    const char *keys[] = {"`strategy`", "`capital`", "`execution.commission_pct`",
                          "`sizing.value_pct`", "`risk.rebalance`", "`report.close_at_end`",
                          "`rank_order`", "`sweep.max_grid`", "`data.symbols`"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        cr_assert(strstr(buf, keys[i]), "reference lacks %s", keys[i]);
    free(buf);
}

/* strategy_library: resolved by the caller's loader (here a fake that hands
 * out s_other's table for "./plug.so" and fails otherwise). */
static char s_lib_seen[256];
static const bt_strategy_t *s_fake_lib(const char *path, bt_errbuf_t *eb)
{
    snprintf(s_lib_seen, sizeof s_lib_seen, "%s", path);
    if (strcmp(path, "./plug.so") == 0)
        return &s_other;
    bt_errf(eb, BT_ENOTFOUND, "cannot load strategy library '%s': no such file", path);
    return NULL;
}

Test(config, strategy_library_loaded_by_the_callers_loader)
{
    bt_errbuf_t eb;
    /* "other" is not in the list given to the loader: only the library has it. */
    const char *yaml = "strategy: other\nstrategy_library: plug.so\ndata: {store: x.h5}\n";
    bt_config_t *c = bt_config_load_string_lib(yaml, "l.yaml", NULL, 0, s_strats, 1, s_fake_lib,
                                               &eb);
    cr_assert_not_null(c, "%s", eb.msg);
    cr_assert_str_eq(s_lib_seen, "./plug.so"); /* no '/': taken from the current directory */
    cr_assert_eq(bt_config_strategy(c), &s_other);
    cr_assert_str_eq(bt_config_library(c), "plug.so");
    bt_config_t *d = bt_config_dup(c);
    cr_assert_str_eq(bt_config_library(d), "plug.so");
    bt_config_destroy(&d);
    bt_config_destroy(&c);

    /* A library that does not load: FILE:LINE: strategy_library and the path. */
    const char *missing = "strategy: other\nstrategy_library: /no/plug.so\ndata: {store: x.h5}\n";
    cr_assert_null(bt_config_load_string_lib(missing, "l.yaml", NULL, 0, s_strats, 1, s_fake_lib,
                                             &eb));
    cr_assert_eq(eb.code, BT_ECONFIG);
    cr_assert(strstr(eb.msg, "l.yaml:2: strategy_library: ") && strstr(eb.msg, "/no/plug.so"),
              "%s", eb.msg);
    /* strategy: must be the library's strategy. */
    const char *wrong = "strategy: fake_cross\nstrategy_library: plug.so\ndata: {store: x.h5}\n";
    cr_assert_null(bt_config_load_string_lib(wrong, "l.yaml", NULL, 0, s_strats, 1, s_fake_lib,
                                             &eb));
    cr_assert(strstr(eb.msg, "l.yaml:1: strategy: ") && strstr(eb.msg, "'strategy: other'"),
              "%s", eb.msg);
    /* Without a loader the key is refused, not ignored. */
    cr_assert_null(bt_config_load_string(yaml, "l.yaml", NULL, 0, s_strats, 1, &eb));
    cr_assert(strstr(eb.msg, "l.yaml:2: strategy_library: "), "%s", eb.msg);
    /* --set changes the hash (the sweep journal relies on it). */
    const char *base = "strategy: fake_cross\ndata: {store: x.h5}\n";
    const char *set1[] = {"capital=5000"};
    bt_config_t *p = bt_config_load_string(base, "b.yaml", NULL, 0, s_strats, 1, &eb);
    bt_config_t *q = bt_config_load_string(base, "b.yaml", set1, 1, s_strats, 1, &eb);
    cr_assert(p && q);
    cr_assert_str_neq(bt_config_hash(p), bt_config_hash(q));
    bt_config_destroy(&p);
    bt_config_destroy(&q);
}

/* Input integrity (issue 10): a NUL byte and a second YAML document are errors naming
 * FILE:LINE; before, the NUL was accepted and the second document silently ignored. */
Test(config, nul_byte_is_an_error_naming_the_line)
{
    /* "strategy: fake_cross\n" (line 1), "data: {store: bars.h5}\n" (line 2), then "x" NUL on
     * line 3 at column 2 */
    char path[512];
    snprintf(path, sizeof path, "%s/nul.yaml", s_dir);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    static const char text[] = S_MIN "x\0y: 1\n";
    fwrite(text, 1, sizeof text - 1, f);
    fclose(f);
    bt_errbuf_t eb;
    bt_config_t *c = bt_config_load(path, NULL, 0, s_strats, 2, &eb);
    cr_assert_null(c);
    cr_assert_eq(eb.code, BT_ECONFIG);
    char want[600];
    snprintf(want, sizeof want, "%s:3: a NUL byte at column 2", path);
    cr_assert(strstr(eb.msg, want), "%s", eb.msg);
    /* a NUL at the very end (after valid YAML) too */
    f = fopen(path, "wb");
    fwrite(S_MIN, 1, strlen(S_MIN) + 1, f);
    fclose(f);
    cr_assert_null(bt_config_load(path, NULL, 0, s_strats, 2, &eb));
    snprintf(want, sizeof want, "%s:3: a NUL byte at column 1", path);
    cr_assert(strstr(eb.msg, want), "%s", eb.msg);
}

Test(config, second_document_is_an_error_naming_the_line)
{
    /* lines: 1 strategy, 2 data, 3 '---', 4 execution */
    s_expect_err(S_MIN "---\nexecution: {commission_pct: 5}\n", NULL, 0, "c.yaml:3:",
                 "second YAML document");
    /* an explicit start marker on the first document is fine, and so is an end marker */
    bt_errbuf_t eb;
    bt_config_t *c = s_load("---\n" S_MIN "...\n", NULL, 0, &eb);
    cr_assert_not_null(c, "%s", eb.msg);
    bt_config_destroy(&c);
    /* an empty second document is still a second document: line 4 */
    s_expect_err("# c\n" S_MIN "---\n", NULL, 0, "c.yaml:4:", "second YAML document");
    /* garbage after the first document is a syntax error, not ignored */
    s_expect_err(S_MIN "---\n[unclosed\n", NULL, 0, "c.yaml", "YAML syntax error");
}

/* `top: 0 = all` was documented (docs/sweep.md, bt_report_write) but refused by the table's
 * bounds (1 .. 1000000); now 0 is accepted and means every ranked row. */
Test(config, top_zero_means_all)
{
    bt_errbuf_t eb;
    bt_config_t *c = s_load(S_MIN "top: 0\n", NULL, 0, &eb);
    cr_assert_not_null(c, "%s", eb.msg);
    cr_assert_eq(bt_config_top(c), 0);
    bt_config_destroy(&c);
    c = s_load(S_MIN, NULL, 0, &eb);
    cr_assert_eq(bt_config_top(c), 20); /* the default */
    bt_config_destroy(&c);
    s_expect_err(S_MIN "top: -1\n", NULL, 0, "c.yaml:3: top", "allowed 0 to 1000000");
}

/* Booleans and enums as sweep axes, as configs/README.md now says: a list names them
 * ([false, true]), a range counts them (0 .. 1); a list of 0/1 is refused like `allow_short: 1`. */
Test(config, bool_and_enum_sweep_axes)
{
    bt_errbuf_t eb;
    bt_config_t *c = s_load(S_MIN "sweep:\n  execution.allow_short: [false, true]\n"
                                  "  execution.fill: [same_close]\n"
                                  "  report.close_at_end: {from: 0, to: 1, step: 1}\n",
                            NULL, 0, &eb);
    cr_assert_not_null(c, "%s", eb.msg);
    const bt_sweep_spec_t *sw = bt_config_sweep(c);
    cr_assert_eq(sw->naxes, 3);
    cr_assert_eq(sw->axes[0].nvalues, 2);
    cr_assert_eq(sw->axes[0].values[0], 0.0); /* false */
    cr_assert_eq(sw->axes[0].values[1], 1.0); /* true */
    cr_assert_eq(sw->axes[1].values[0], 1.0); /* same_close is choice 1 */
    cr_assert_eq(sw->axes[2].kind, BT_AXIS_RANGE);
    cr_assert_eq(sw->axes[2].nvalues, 2);
    bt_config_destroy(&c);
    s_expect_err(S_MIN "sweep:\n  execution.allow_short: [0, 1]\n", NULL, 0,
                 "c.yaml:4: execution.allow_short", "expected true or false");
    s_expect_err(S_MIN "sweep:\n  execution.allow_short: {from: 0, to: 2, step: 1}\n", NULL, 0,
                 "c.yaml:4: execution.allow_short", "range to");
}

/* The keys of issue 14 (orders, sizing, risk scope, ranking filter): the
 * defaults keep the old behaviour; values land in the engine / accessor. */
Test(config, orders_sizing_scope_rank_min_trades)
{
    bt_errbuf_t eb;
    bt_config_t *c = s_load(S_MIN, NULL, 0, &eb);
    cr_assert_not_null(c, "%s", eb.msg);
    cr_assert_eq(bt_config_engine(c)->size_at, BT_SIZE_AT_CLOSE);
    cr_assert_eq(bt_config_engine(c)->risk_scope, BT_RISK_SLEEVE);
    cr_assert_eq(bt_config_rank_min_trades(c), 0);
    bt_config_destroy(&c);
    c = s_load(S_MIN "sizing: {at: fill}\nrisk: {scope: account}\n"
                     "sweep:\n  rank_min_trades: 25\n  params.fast: [5, 10]\n",
               NULL, 0, &eb);
    cr_assert_not_null(c, "%s", eb.msg);
    cr_assert_eq(bt_config_engine(c)->size_at, BT_SIZE_AT_FILL);
    cr_assert_eq(bt_config_engine(c)->risk_scope, BT_RISK_ACCOUNT);
    cr_assert_eq(bt_config_rank_min_trades(c), 25);
    cr_assert_eq(bt_config_sweep(c)->naxes, 1); /* rank_min_trades is no axis */
    bt_config_destroy(&c);
    const char *ov[] = {"sweep.rank_min_trades=7"};
    c = s_load(S_MIN, ov, 1, &eb);
    cr_assert_not_null(c, "%s", eb.msg);
    cr_assert_eq(bt_config_rank_min_trades(c), 7);
    bt_config_destroy(&c);
    s_expect_err(S_MIN "risk: {scope: world}\n", NULL, 0, "risk.scope", "account");
}
