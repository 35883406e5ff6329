/* Integration tests of `bt run`: makes a synthetic store with `bt data
 * synth`, runs configs through the real program and checks its files:
 * headers, every metric in metrics.json, trade pnl adding up to the equity
 * change, and config errors giving exit 2 with FILE:LINE. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CLI_FIXTURE_PREFIX "/tmp/bt_test_run_XXXXXX"
#include "cli_fixture.h"

#include "bt_metrics.h"

TestSuite(run_cli, .init = s_setup, .fini = s_teardown, .timeout = 120);

static void s_make_store(void)
{
    int rc = s_sh("%s/bt data synth --out bars.h5 --symbols 2 --bars 600 --seed 7", BT_BIN_DIR);
    char *err = s_slurp("err.txt");
    cr_assert_eq(rc, 0, "synth failed: %s", err);
    free(err);
}

static const char *s_first_line(const char *text, char *buf, size_t cap)
{
    size_t n = strcspn(text, "\n");
    snprintf(buf, cap, "%.*s", (int)n, text);
    return buf;
}

Test(run_cli, writes_every_file)
{
    s_make_store();
    s_write("c.yaml", "strategy: sma_cross\n"
                      "data: {store: bars.h5, symbols: [SYN000, SYN001]}\n"
                      "capital: 50000\n"
                      "params: {fast: 5, slow: 20}\n"
                      "execution: {commission_pct: 0.1, slippage_bps: 2}\n"
                      "report: {close_at_end: true}\n");
    int rc = s_sh("%s/bt run c.yaml --out res --threads 2", BT_BIN_DIR);
    char *err = s_slurp("err.txt");
    cr_assert_eq(rc, 0, "bt run failed: %s", err);
    free(err);

    const char *files[] = {"res/trades.csv",   "res/orders.csv",     "res/equity.csv",
                           "res/metrics.json", "res/provenance.txt", "res/returns.csv",
                           "res/symbols.csv"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        cr_assert(s_exists(files[i]), "%s missing", files[i]);

    char line[512];
    char *trades = s_slurp("res/trades.csv");
    cr_assert_str_eq(s_first_line(trades, line, sizeof line),
                     "symbol,side,entry_time,exit_time,qty,entry_price,exit_price,pnl,return_pct,"
                     "commission,open,exit_reason");
    char *orders = s_slurp("res/orders.csv");
    cr_assert_str_eq(s_first_line(orders, line, sizeof line),
                     "id,created,done,symbol,type,qty,filled,limit,stop,avg_price,commission,"
                     "status,reason");
    char *equity = s_slurp("res/equity.csv");
    cr_assert_str_eq(s_first_line(equity, line, sizeof line),
                     "time,cash,positions_value,equity,drawdown");
    /* 600 bars -> 600 equity rows + header; first data row at the capital */
    size_t rows = 0;
    for (const char *p = equity; *p; p++)
        rows += *p == '\n';
    cr_assert_eq(rows, 601);
    cr_assert(strstr(equity, ",50000,"), "first equity row should show 50000");

    char *json = s_slurp("res/metrics.json");
    for (size_t i = 0; i < bt_metrics_count(); i++) {
        char key[64];
        snprintf(key, sizeof key, "\"%s\": ", bt_metrics_name(i));
        cr_assert(strstr(json, key), "metrics.json lacks %s", key);
    }
    cr_assert(strstr(json, "\"provenance\": {"));
    cr_assert(strstr(json, "\"stats\": {"));
    cr_assert(strstr(json, "\"sqn\": "));
    cr_assert(strstr(json, "\"config_sha256\": \""));
    cr_assert(strstr(json, "\"data_hash\": \""));
    cr_assert(strstr(json, "\"params\": {\"fast\": 5, \"slow\": 20"));
    cr_assert(strstr(json, "\"command_line\": \"bt run c.yaml --out res --threads 2\""));
    const char *fe = strstr(json, "\"final_equity\": ");
    cr_assert_not_null(fe);
    double final_equity = strtod(fe + strlen("\"final_equity\": "), NULL);

    /* sum of trade pnl = final_equity - capital when nothing is open
     * (close_at_end: every position is closed at the last bar) */
    double sum = 0;
    size_t ntrades = 0;
    for (const char *row = strchr(trades, '\n'); row && row[1]; row = strchr(row, '\n')) {
        row++;
        const char *fields[12];
        size_t nf = 0;
        fields[nf++] = row;
        for (const char *p = row; *p && *p != '\n'; p++)
            if (*p == ',' && nf < 12)
                fields[nf++] = p + 1;
        cr_assert_eq(nf, 12, "trade row with %zu fields", nf);
        cr_assert_eq(fields[10][0], '0', "a trade is still open");
        /* closed by a signal or by close_at_end */
        cr_assert(strncmp(fields[11], "signal", 6) == 0 || strncmp(fields[11], "end", 3) == 0,
                  "exit_reason %.10s", fields[11]);
        sum += strtod(fields[7], NULL);
        ntrades++;
    }
    cr_assert_gt(ntrades, 2, "expected some trades with fast=5 slow=20 over 600 bars");
    cr_assert_float_eq(sum, final_equity - 50000.0, 1e-6, "pnl sum %.9f vs equity change %.9f",
                       sum, final_equity - 50000.0);

    char *prov = s_slurp("res/provenance.txt");
    cr_assert(strstr(prov, "config: c.yaml\n"), "%s", prov);
    cr_assert(strstr(prov, "symbols: SYN000 SYN001\n"), "%s", prov);
    free(prov);
    free(json);
    free(equity);
    free(orders);
    free(trades);
}

static void s_expect_config_error(const char *yaml, const char *args, const char *needle)
{
    s_write("c.yaml", yaml);
    int rc = s_sh("%s/bt run c.yaml --out res %s", BT_BIN_DIR, args);
    char *err = s_slurp("err.txt");
    cr_assert_eq(rc, 2, "exit %d, stderr: %s", rc, err);
    cr_assert(strstr(err, needle), "stderr '%s' lacks '%s'", err, needle);
    cr_assert_not(s_exists("res"), "nothing should be written on a config error");
    free(err);
}

Test(run_cli, config_errors_exit_2)
{
    s_make_store();
    s_expect_config_error("strategy: sma_cross\ndata:\n  store: bars.h5\nexecution:\n"
                          "  fill: tomorrow\n",
                          "", "c.yaml:5: execution.fill");
    s_expect_config_error("strategy: sma_cross\ndata: {store: bars.h5}\nparams:\n  fsat: 3\n", "",
                          "c.yaml:4: params.fsat");
    s_expect_config_error("strategy: sma_cross\ndata: {store: bars.h5}\n",
                          "--set risk.stop_loss_pct=200", "--set risk.stop_loss_pct=200");
    s_expect_config_error("strategy: sma_crosss\ndata: {store: bars.h5}\n", "",
                          "c.yaml:1: strategy");
    s_expect_config_error("strategy: sma_cross\ndata: {store: bars.h5, symbols: [NOPE]}\n", "",
                          "NOPE");
    /* the sweep: section is checked even though bt run ignores it */
    s_expect_config_error("strategy: sma_cross\ndata: {store: bars.h5}\nsweep:\n"
                          "  params.fast: [5, 10]\n  constraints: [\"params.fast < params.slwo\"]\n",
                          "", "c.yaml:5: sweep.constraints");
}

Test(run_cli, usage)
{
    cr_assert_eq(s_sh("%s/bt run --help", BT_BIN_DIR), 0);
    char *out = s_slurp("out.txt");
    cr_assert(strstr(out, "example:"));
    free(out);
    cr_assert_eq(s_sh("%s/bt run", BT_BIN_DIR), 2);
    cr_assert_eq(s_sh("%s/bt run c.yaml --bogus", BT_BIN_DIR), 2);
    cr_assert_eq(s_sh("%s/bt run --list-settings", BT_BIN_DIR), 0);
    out = s_slurp("out.txt");
    cr_assert(strstr(out, "`execution.commission_pct`"));
    free(out);
}

/* Every example config in configs/ validates and runs (on a small synthetic
 * store in place of out/demo/demo.h5, all its symbols). */
Test(run_cli, example_configs_run)
{
    int rc = s_sh("%s/bt data synth --out bars.h5 --symbols 4 --bars 300 --seed 42", BT_BIN_DIR);
    cr_assert_eq(rc, 0);
    const char *names[] = {"sma_cross", "ema_cross", "rsi_reversion", "bollinger_reversion",
                           "donchian_breakout", "momentum_rotation", "buy_and_hold", "orcl_sma"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        rc = s_sh("%s/bt run %s/configs/%s.yaml --set data.store=bars.h5 --set data.symbols=all "
                  "--out res_%s",
                  BT_BIN_DIR, BT_SOURCE_DIR, names[i], names[i]);
        char *err = s_slurp("err.txt");
        cr_assert_eq(rc, 0, "configs/%s.yaml: exit %d: %s", names[i], rc, err);
        free(err);
    }
}

/* configs/README.md carries the reference generated from the settings table;
 * it must match `bt run --list-settings` so it cannot drift. */
Test(run_cli, readme_matches_settings_table)
{
    cr_assert_eq(s_sh("%s/bt run --list-settings", BT_BIN_DIR), 0);
    char *out = s_slurp("out.txt");
    const char *body = strchr(out, '\n'); /* skip the "# Config keys" title */
    cr_assert_not_null(body);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "cp %s/configs/README.md readme.md", BT_SOURCE_DIR);
    cr_assert_eq(s_sh("%s", cmd), 0);
    char *readme = s_slurp("readme.md");
    cr_assert(strstr(readme, body + 1),
              "configs/README.md is out of date: regenerate its last section with "
              "'bt run --list-settings'");
    free(readme);
    free(out);
}

/* Issue 10: a date range with no bar is a config error (exit 2, nothing written) naming the
 * requested range and the data's; before, bt run wrote an "ok" run with all-zero metrics. */
Test(run_cli, empty_date_range_exits_2)
{
    s_make_store(); /* 600 daily bars from the synth default start, far before 2100 */
    s_expect_config_error("strategy: sma_cross\ndata: {store: bars.h5, start: 2100-01-01, "
                          "end: 2100-12-31}\n",
                          "", "no bar between 2100-01-01 and 2100-12-31; the data (2 symbols) "
                              "runs from ");
    s_expect_config_error("strategy: sma_cross\ndata: {store: bars.h5}\n",
                          "--set data.end=1990-01-31", "no bar between the first bar and "
                                                       "1990-01-31");
    char *err = s_slurp("err.txt");
    cr_assert(strstr(err, "c.yaml: data.start / data.end:"), "%s", err);
    free(err);
}

/* Issue 10: a NUL byte or a second YAML document in the config is an error naming FILE:LINE
 * (before: the NUL was accepted, the second document silently ignored). */
Test(run_cli, nul_byte_and_second_document_exit_2)
{
    s_make_store();
    static const char text[] = "strategy: sma_cross\ndata: {store: bars.h5}\n\0\n";
    char path[512];
    snprintf(path, sizeof path, "%s/c.yaml", s_dir);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    fwrite(text, 1, sizeof text - 1, f);
    fclose(f);
    int rc = s_sh("%s/bt run c.yaml --out res", BT_BIN_DIR);
    char *err = s_slurp("err.txt");
    cr_assert_eq(rc, 2, "exit %d: %s", rc, err);
    cr_assert(strstr(err, "c.yaml:3: a NUL byte"), "%s", err);
    free(err);
    cr_assert_not(s_exists("res"));
    s_expect_config_error("strategy: sma_cross\ndata: {store: bars.h5}\n---\n"
                          "params: {fast: 3}\n",
                          "", "c.yaml:3: a second YAML document");
}

/* A one-symbol store of `bars` one-minute bars, NAME.h5, and NAME.yaml running
 * sma_cross on it, in the test folder. */
static void s_big_config(const char *name, long bars)
{
    int rc = s_sh("%s/bt data synth --out %s.h5 --symbols 1 --bars %ld --freq 1m --seed 3",
                  BT_BIN_DIR, name, bars);
    cr_assert_eq(rc, 0, "bt data synth failed");
    char path[400];
    snprintf(path, sizeof path, "%s/%s.yaml", s_dir, name);
    FILE *c = fopen(path, "w");
    cr_assert_not_null(c);
    fprintf(c, "strategy: sma_cross\ndata: {store: %s/%s.h5}\nparams: {fast: 10, slow: 30}\n",
            s_dir, name);
    fclose(c);
}

/* A disk that fills in the middle of bt run's streamed outputs (a file size
 * limit here: `ulimit -f`, SIGXFSZ ignored so writes fail with EFBIG): a
 * clear error naming the file, exit 1, no temporary file left behind. Before:
 * HDF5's own clean-up at exit crashed on the half-closed run.h5 (exit 139)
 * after printing its error stack from the writer thread. */
Test(run_cli, full_disk_mid_run_is_a_clear_error)
{
    s_big_config("big", 200000);
    int rc = s_sh("(ulimit -f 1024 && trap '' XFSZ && exec %s/bt run %s/big.yaml --out res "
                  "--series h5)",
                  BT_BIN_DIR, s_dir);
    char *err = s_slurp("err.txt");
    cr_assert_eq(rc, 1, "exit %d, want 1:\n%s", rc, err);
    cr_assert(strstr(err, "bt run: cannot write results: writing ") &&
                  strstr(err, "(is the disk full?)"),
              "%s", err);
    cr_assert_null(strstr(err, "HDF5-DIAG"), "HDF5's error stack was printed:\n%s", err);
    free(err);
    rc = s_sh("ls res | grep -c tmp");
    char *out = s_slurp("out.txt");
    cr_assert_eq(rc, 1, "temporary files left in res: %s", out);
    free(out);
}

/* trades.csv and orders.csv are written on a thread of their own while the main thread makes
 * the other outputs: an error there (here trades.csv cannot replace the folder of that name)
 * is the run's error, exit 1, with the file named, and no temporary file is left. */
Test(run_cli, trades_csv_that_cannot_be_written_is_a_clear_error)
{
    s_big_config("tr", 20000);
    int rc = s_sh("mkdir -p tres/trades.csv/x && %s/bt run %s/tr.yaml --out tres", BT_BIN_DIR,
                  s_dir);
    char *err = s_slurp("err.txt");
    cr_assert_eq(rc, 1, "exit %d, want 1:\n%s", rc, err);
    cr_assert(strstr(err, "bt run: cannot write results: ") && strstr(err, "trades.csv"), "%s",
              err);
    free(err);
    rc = s_sh("ls -a tres | grep -c tmp");
    char *out = s_slurp("out.txt");
    cr_assert_eq(rc, 1, "temporary files left in tres: %s", out);
    free(out);
}

/* SIGTERM (or Ctrl-C) mid-run: exit 143, a line saying so, and no temporary
 * file left in the output folder (before: run.h5.tmp and .equity.csv.*.tmp
 * stayed). --chunk 1 makes the 300,000-bar run last long enough to be hit
 * while its series files are being written. */
Test(run_cli, sigterm_mid_run_leaves_no_temp_files)
{
    s_big_config("sig", 300000);
    int rc = s_sh("(%s/bt run %s/sig.yaml --out sig --series both --chunk 1 & p=$!; i=0; "
                  "while [ $i -lt 600 ] && ! ls sig 2>/dev/null | grep -q tmp; do "
                  "sleep 0.05; i=$((i+1)); done; "
                  "ls sig | grep -q tmp || "
                  "{ echo 'no temporary file seen: the run ended first' >&2; "
                  "wait $p; exit 3; }; kill -TERM $p; wait $p)",
                  BT_BIN_DIR, s_dir);
    char *err = s_slurp("err.txt");
    cr_assert_neq(rc, 3, "%s", err);
    cr_assert_eq(rc, 128 + 15, "exit %d, want 143:\n%s", rc, err);
    cr_assert(strstr(err, "bt run: interrupted; temporary files removed"), "%s", err);
    free(err);
    rc = s_sh("ls -a sig | grep -c tmp");
    char *out = s_slurp("out.txt");
    cr_assert_eq(rc, 1, "temporary files left in sig: %s", out);
    free(out);
}
