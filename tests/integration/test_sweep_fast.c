/* The grid fast path end to end: the same sweeps through `bt sweep` with the
 * fast path (default) and with the per-point path (BT_FAST=0 in the
 * environment, which the local workers inherit) give byte-identical
 * results.csv and ranking.csv — for every built-in strategy that declares
 * its indicators, on two symbols (sleeves) and on one, with engine settings
 * swept as axes next to the parameters, and on a larger grid. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "sweep_fixture.h"

static char *s_file(const char *dir, const char *name, size_t *len)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    char *text = bt_proc_slurp(p, len);
    cr_assert(text, "cannot read %s", p);
    return text;
}

/* Runs cfg text through both paths; asserts identical results and ranking.
 * flag: select the per-point path with `bt sweep --no-fast` instead of
 * BT_FAST=0 in the environment. */
static void s_both_how(const sfx_t *f, const char *tag, const char *yaml, bool flag)
{
    char cfg[400], fast[400], slow[400], log[400];
    snprintf(cfg, sizeof cfg, "%s/%s.yaml", f->dir, tag);
    FILE *c = fopen(cfg, "w");
    cr_assert(c);
    fprintf(c, "%s", yaml);
    fclose(c);
    snprintf(fast, sizeof fast, "%s/%s-fast", f->dir, tag);
    snprintf(slow, sizeof slow, "%s/%s-slow", f->dir, tag);
    for (int k = 0; k < 2; k++) {
        if (k == 1 && !flag)
            setenv("BT_FAST", "0", 1);
        snprintf(log, sizeof log, "%s/%s-%d.log", f->dir, tag, k);
        char *argv[] = {
            (char *)f->bt, "sweep", cfg,           "--out", k ? slow : fast,
            "--workers",   "2",     "--log-level", "info",  k == 1 && flag ? "--no-fast" : NULL,
            NULL};
        int rc = bt_proc_run(argv, log, 300000);
        unsetenv("BT_FAST");
        cr_assert_eq(rc, 0, "%s: bt sweep failed (see %s)", tag, log);
        /* each worker says at exit how many of its jobs took the fast path */
        char *text = bt_proc_slurp(log, NULL);
        cr_assert(text && strstr(text, "grid fast path: "), "%s: no fast path line in %s", tag,
                  log);
        bool none = strstr(text, "grid fast path: 0 of") != NULL;
        cr_assert(k ? none : !none, "%s: the %s path was not the one taken (see %s)", tag,
                  k ? "per-point" : "fast", log);
        free(text);
    }
    const char *files[] = {"results.csv", "ranking.csv"};
    for (size_t i = 0; i < 2; i++) {
        size_t la = 0, lb = 0;
        char *a = s_file(fast, files[i], &la);
        char *b = s_file(slow, files[i], &lb);
        cr_assert(la > 100, "%s/%s is too short", fast, files[i]);
        cr_assert(la == lb && memcmp(a, b, la) == 0, "%s: %s differs between the paths", tag,
                  files[i]);
        free(a);
        free(b);
    }
}

static void s_both(const sfx_t *f, const char *tag, const char *yaml)
{
    s_both_how(f, tag, yaml, false);
}

/* `bt sweep --no-fast` takes the per-point path on its local workers (their
 * "grid fast path: 0 of" line) with the same results.csv and ranking.csv. */
Test(sweep_fast, no_fast_flag_same_results, .timeout = 600)
{
    sfx_t f;
    sfx_setup(&f, "sweep-nofast");
    char yaml[2000];
    snprintf(yaml, sizeof yaml,
             "strategy: sma_cross\ndata:\n  store: %s\n  symbols: all\ncapital: 100000\n"
             "execution:\n  commission_pct: 0.1\n  slippage_bps: 2\n"
             "rank_by: sharpe\ntop: 10\nsweep:\n"
             "  params.fast: {from: 2, to: 30, step: 2}\n"
             "  params.slow: {from: 10, to: 80, step: 7}\n"
             "  constraints: [\"params.fast < params.slow\"]\n",
             f.store);
    s_both_how(&f, "nofast", yaml, true);
}

Test(sweep_fast, same_results_as_the_per_point_path, .timeout = 600)
{
    sfx_t f;
    sfx_setup(&f, "sweep-fast");
    static const struct {
        const char *strategy, *axes;
    } grids[] = {
        {"sma_cross", "  params.fast: {from: 2, to: 30, step: 2}\n"
                      "  params.slow: {from: 10, to: 80, step: 7}\n"
                      "  params.short: [0, 1]\n"
                      "  constraints: [\"params.fast < params.slow\"]\n"},
        {"ema_cross", "  params.fast: {from: 2, to: 20, step: 3}\n"
                      "  params.slow: [25, 50]\n"
                      "  execution.commission_pct: [0.05, 0.2]\n"},
        {"rsi_reversion", "  params.period: [5, 14, 30]\n"
                          "  params.lower: [20, 30]\n"
                          "  params.upper: [65, 80]\n"},
        {"bollinger_reversion", "  params.period: [10, 20, 40]\n"
                                "  params.k: [1, 1.5, 2.5]\n"},
        {"donchian_breakout", "  params.entry: [5, 20, 55]\n"
                              "  params.exit: [3, 10, 20]\n"
                              "  data.symbols: [[SYN000], [SYN000, SYN001]]\n"},
    };
    for (size_t g = 0; g < sizeof grids / sizeof *grids; g++) {
        for (int one = 0; one < 2; one++) {
            char yaml[2000], tag[64];
            snprintf(yaml, sizeof yaml,
                     "strategy: %s\ndata:\n  store: %s\n  symbols: %s\ncapital: 100000\n"
                     "execution:\n  commission_pct: 0.1\n  slippage_bps: 2\n"
                     "rank_by: sharpe\ntop: 10\nsweep:\n%s",
                     grids[g].strategy, f.store, one ? "[SYN001]" : "all", grids[g].axes);
            snprintf(tag, sizeof tag, "%s-%d", grids[g].strategy, one);
            s_both(&f, tag, yaml);
        }
    }
}
