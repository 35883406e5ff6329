/* A user strategy from a shared library named in the config
 * (strategy_library:), end to end: `bt run` and `bt sweep` (whose workers
 * load the same .so from the YAML they receive) give bit-identical metrics
 * for the same parameters; a missing .so or a strategy name the library does
 * not provide is a config error (exit 2) naming the file and the key. The
 * library is the worked example strategies/examples/my_strategy.c
 * (streak_reversal), built as BT_BIN_DIR/strategies/my_strategy.so. */
#include <math.h>
#include <stdlib.h>

#include "sweep_fixture.h"

#define S_SO BT_BIN_DIR "/strategies/my_strategy.so"

static sfx_t f;
static char s_cfg[320];

/* streak_reversal on the fixture's store; sweep over down = 2, 3, 4 at hold 4. */
static void s_setup(void)
{
    sfx_setup(&f, "strategy-lib");
    sfx_path(s_cfg, sizeof s_cfg, &f, "lib.yaml");
    FILE *c = fopen(s_cfg, "w");
    cr_assert(c);
    fprintf(c, "strategy: streak_reversal\n"
               "strategy_library: %s\n"
               "data:\n"
               "  store: %s\n"
               "execution:\n"
               "  commission_pct: 0.1\n"
               "params: {down: 3, hold: 4}\n"
               "sweep:\n"
               "  params.down: [2, 3, 4]\n",
            S_SO, f.store);
    fclose(c);
}
static void s_teardown(void) { bt_proc_kill_all(); }

TestSuite(strategy_lib, .init = s_setup, .fini = s_teardown, .timeout = 120);

/* The value of "name": in metrics.json, as written (%.17g). */
static double s_json_metric(const char *json, const char *name)
{
    char key[80];
    snprintf(key, sizeof key, "\"%s\": ", name);
    const char *p = strstr(json, key);
    cr_assert_not_null(p, "metrics.json has no %s", name);
    return strtod(p + strlen(key), NULL);
}

/* Column `name` of the results.csv row whose params.down is `down`. */
static double s_csv_metric(const char *csv, int down, const char *name)
{
    /* header: find the column index */
    size_t hl = strcspn(csv, "\n");
    int col = -1, down_col = -1, i = 0;
    for (const char *p = csv; p < csv + hl; i++) {
        size_t n = strcspn(p, ",\n");
        if (n == strlen(name) && strncmp(p, name, n) == 0)
            col = i;
        if (n == 11 && strncmp(p, "params.down", 11) == 0)
            down_col = i;
        p += n + (p[n] == ',');
        if (p[-1] != ',')
            break;
    }
    cr_assert(col >= 0 && down_col >= 0, "results.csv lacks %s or params.down", name);
    for (const char *row = csv + hl + 1; *row; row += strcspn(row, "\n") + 1) {
        const char *p = row;
        double v = NAN, d = NAN;
        for (int k = 0; k <= (col > down_col ? col : down_col); k++) {
            if (k == col)
                v = strtod(p, NULL);
            if (k == down_col)
                d = strtod(p, NULL);
            p += strcspn(p, ",\n");
            if (*p == ',')
                p++;
        }
        if (d == down)
            return v;
        if (!row[strcspn(row, "\n")])
            break;
    }
    cr_assert_fail("no results.csv row with params.down = %d", down);
    return NAN;
}

Test(strategy_lib, run_and_sweep_agree)
{
    char out[320], log[340];
    sfx_path(out, sizeof out, &f, "run");
    snprintf(log, sizeof log, "%s.log", out);
    char *run[] = {f.bt, "run", s_cfg, "--out", out, NULL};
    cr_assert_eq(bt_proc_run(run, log, 60000), 0, "bt run failed (see %s)", log);
    cr_assert(bt_proc_wait_text(log, "strategy  streak_reversal (down=3 hold=4)", 0, NULL, 0));

    char sdir[320];
    sfx_path(sdir, sizeof sdir, &f, "sweep");
    snprintf(log, sizeof log, "%s.log", sdir);
    char *sweep[] = {f.bt, "sweep", s_cfg, "--out", sdir, "--workers", "2", NULL};
    cr_assert_eq(bt_proc_run(sweep, log, 120000), 0, "bt sweep failed (see %s)", log);

    char p[400];
    snprintf(p, sizeof p, "%s/metrics.json", out);
    char *json = bt_proc_slurp(p, NULL);
    snprintf(p, sizeof p, "%s/results.csv", sdir);
    char *csv = bt_proc_slurp(p, NULL);
    cr_assert(json && csv);
    cr_assert_eq(bt_proc_count_lines(p), 1 + 3, "one row per params.down value");
    /* The sweep's down = 3 job is the run's parameters: every metric below
     * is the same double (both print %.17g, which round-trips). */
    const char *names[] = {"final_equity", "sharpe", "trades", "max_drawdown", "commission"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        double a = s_json_metric(json, names[i]), b = s_csv_metric(csv, 3, names[i]);
        cr_assert(a == b, "%s: bt run %.17g, bt sweep %.17g", names[i], a, b);
    }
    /* The strategy traded (a test of a strategy that never trades proves
     * little), and other parameters give other results. */
    cr_assert_gt(s_json_metric(json, "trades"), 0);
    cr_assert_neq(s_csv_metric(csv, 2, "final_equity"), s_csv_metric(csv, 3, "final_equity"));
    free(json);
    free(csv);
}

Test(strategy_lib, missing_library_is_a_config_error)
{
    char bad[320], log[340];
    sfx_path(bad, sizeof bad, &f, "missing.yaml");
    FILE *c = fopen(bad, "w");
    cr_assert(c);
    fprintf(c, "strategy: streak_reversal\nstrategy_library: %s/nothere/my_strategy.so\n"
               "data:\n  store: %s\nsweep:\n  params.down: [2, 3]\n",
            f.dir, f.store);
    fclose(c);
    const char *cmds[] = {"run", "sweep"};
    for (int i = 0; i < 2; i++) {
        char out[320];
        snprintf(out, sizeof out, "%s/missing-%s", f.dir, cmds[i]);
        snprintf(log, sizeof log, "%s.log", out);
        char *argv[] = {f.bt, (char *)cmds[i], bad, "--out", out, NULL};
        cr_assert_eq(bt_proc_run(argv, log, 60000), 2, "bt %s", cmds[i]);
        /* FILE:LINE: key: ... the path ... */
        char want[400];
        snprintf(want, sizeof want, "missing.yaml:2: strategy_library: ");
        cr_assert(bt_proc_wait_text(log, want, 0, NULL, 0), "bt %s: no '%s'", cmds[i], want);
        snprintf(want, sizeof want, "%s/nothere/my_strategy.so", f.dir);
        cr_assert(bt_proc_wait_text(log, want, 0, NULL, 0), "bt %s: path not named", cmds[i]);
        cr_assert(bt_proc_wait_text(log, "no such file", 0, NULL, 0));
    }
    /* The same through --set, which names the override. */
    char out[320];
    snprintf(out, sizeof out, "%s/missing-set", f.dir);
    snprintf(log, sizeof log, "%s.log", out);
    char *argv[] = {f.bt, "run", s_cfg, "--set", "strategy_library=/nothere/x.so", "--out", out,
                    NULL};
    cr_assert_eq(bt_proc_run(argv, log, 60000), 2);
    cr_assert(bt_proc_wait_text(log, "--set strategy_library=/nothere/x.so: strategy_library",
                                0, NULL, 0));
}

Test(strategy_lib, strategy_must_be_the_one_in_the_library)
{
    char out[320], log[340];
    snprintf(out, sizeof out, "%s/wrong", f.dir);
    snprintf(log, sizeof log, "%s.log", out);
    char *argv[] = {f.bt, "run", s_cfg, "--set", "strategy=sma_cross", "--out", out, NULL};
    cr_assert_eq(bt_proc_run(argv, log, 60000), 2);
    cr_assert(bt_proc_wait_text(log, "write 'strategy: streak_reversal'", 0, NULL, 0));
    /* Without strategy_library a user strategy name is unknown, with a hint. */
    char *argv2[] = {f.bt, "run", f.cfg, "--set", "strategy=streak_reversal", "--out", out, NULL};
    cr_assert_eq(bt_proc_run(argv2, log, 60000), 2);
    cr_assert(bt_proc_wait_text(log, "needs 'strategy_library: path/to/lib.so'", 0, NULL, 0));
}
