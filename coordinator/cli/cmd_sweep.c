/* bt sweep — a parameter sweep (plain or walk-forward) on local or remote
 * workers: options, the config, then the one sweep driver (bt_driver.h).
 * See docs/sweep.md. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bt_cmd.h"
#include "bt_config.h"
#include "bt_driver.h"
#include "bt_fs.h"
#include "bt_pystrat.h"
#include "bt_registry.h"
#include "bt_sweep_args.h"

#define S_YAML_MAX (1u << 20) /* the SWEEP message's cap on config text */

static void s_usage(FILE *out)
{
    fprintf(out,
            "usage: bt sweep CONFIG.yaml [--set key=value ...] [--out DIR] [--workers N]\n"
            "                [--threads N]\n"
            "                [--bind ENDPOINT] [--resume DIR] [--lease-ms MS]\n"
            "                [--heartbeat-ms MS] [--max-attempts N] [--idle-timeout SEC]\n"
            "                [--job-timeout SEC]\n"
            "                [--keys DIR] [--insecure] [--allow-huge] [--keep-invalid]\n"
            "                [--no-fast]\n"
            "                [--log-level LEVEL]\n\n"
            "Runs every point of the config's sweep: grid as one backtest job, on local\n"
            "bt-worker processes (by default one with a thread per core) and/or remote ones,\n"
            "and writes DIR/results.csv, ranking.csv, failures.csv and summary.txt. Results\n"
            "are journaled in DIR as they arrive; an interrupted sweep continues with\n"
            "--resume DIR.\n\n"
            "options:\n"
            "  --set key=value    override a config key (repeatable), value as in YAML, as in\n"
            "                     'bt run'; every worker applies the same overrides, and they\n"
            "                     are part of the config hash (a --resume must repeat them)\n"
            "  --out DIR          output folder (default out/sweep); must not hold a journal\n"
            "  --resume DIR       continue the sweep journaled in DIR (same config and data)\n"
            "  --workers N        local workers to start (0 = none; default: one worker with\n"
            "                     a thread per core, or a worker per core for a Python\n"
            "                     strategy, which runs on one thread a worker)\n"
            "  --threads N        threads per local worker (default 1 with --workers; alone:\n"
            "                     as many workers of N threads as fill the cores)\n"
            "  --bind EP          endpoint for workers (default tcp://127.0.0.1:*, a free port)\n"
            "  --keys DIR         CurveZMQ: encrypt, admit only the worker keys in DIR/allow\n"
            "                     (DIR/coordinator.key + .key_secret; see 'bt keygen --help');\n"
            "                     local workers use DIR/worker.key (+ .key_secret)\n"
            "  --insecure         allow a --bind other machines reach without --keys\n"
            "  --lease-ms MS      a silent worker loses its jobs after MS (default 10000)\n"
            "  --heartbeat-ms MS  heartbeat interval (default 1000)\n"
            "  --max-attempts N   attempts of a job (failed, or its worker died or went\n"
            "                     silent) before it is recorded failed (default 3)\n"
            "  --idle-timeout SEC give up (partial report, resume hint, exit 1) when no\n"
            "                     worker has been able to run the sweep for SEC (default\n"
            "                     300; 0 = wait for ever)\n"
            "  --job-timeout SEC  a worker holding jobs with no result for SEC loses them\n"
            "                     (an attempt); default 0 = max(60, 50 x median job time)\n"
            "  --allow-huge       allow a grid above sweep.max_grid\n"
            "  --keep-invalid     run grid points the strategy refuses (they fail, exit 3)\n"
            "                     instead of refusing the sweep up front\n"
            "  --no-fast          run every grid point as its own backtest (the per-point\n"
            "                     path) instead of the grid fast path; results are the same\n"
            "                     bits, for comparison and debugging. Local workers get\n"
            "                     BT_FAST=0; start remote ones with bt-worker --no-fast ...\n"
            "                     (scripts/slurm-sweep and ssh-sweep do with --no-fast)\n"
            "  --log-level L      error, warn, info (default) or debug\n\n"
            "bt sweep runs itself again at its start with glibc malloc settings in\n"
            "  GLIBC_TUNABLES (huge pages, a heap kept across batches; docs/sweep.md\n"
            "  \"Memory\"), which its local workers inherit; BT_MALLOC_TUNE=0 keeps\n"
            "  glibc's defaults\n\n"
            "exit codes: 0 every job ok; 1 failed or interrupted (resume with --resume DIR);\n"
            "  2 bad usage or config, or DIR in use by another coordinator (nothing run);\n"
            "  3 finished with failed jobs (listed in DIR/failures.csv and summary.txt)\n\n"
            "examples:\n"
            "  bt sweep configs/sma_cross.yaml --out out/sma\n"
            "  bt sweep configs/sma_cross.yaml --set execution.commission_pct=0.5 --out out/c05\n"
            "  bt sweep configs/sma_cross.yaml --out out/sma --bind tcp://*:5555 --workers 0\n"
            "      (then on each other machine: bt-worker --connect tcp://THIS_HOST:5555)\n"
            "  bt sweep configs/sma_cross.yaml --resume out/sma\n");
}

int bt_cmd_sweep(int argc, char **argv)
{
    bt_sweep_args_t a;
    int prc = bt_sweep_args_parse(argc, argv, &a);
    if (prc == 1)
        s_usage(stdout);
    if (prc != 0)
        return prc == 1 ? 0 : 2;
    if (a.run.keys_dir && a.run.workers != 0) {
        /* Local workers are CURVE clients too: they need a worker pair here. */
        char wk[4096];
        snprintf(wk, sizeof wk, "%s/worker.key_secret", a.run.keys_dir);
        if (access(wk, R_OK) != 0) {
            fprintf(stderr,
                    "bt sweep: --keys %s with local workers needs a worker pair there, admitted: "
                    "bt keygen %s && cp %s/worker.key %s/allow/local.key (or --workers 0)\n",
                    a.run.keys_dir, a.run.keys_dir, a.run.keys_dir, a.run.keys_dir);
            return 2;
        }
    }
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    /* A bad config is a usage error (exit 2), before any work. */
    size_t yaml_len = 0;
    char *yaml = bt_fs_read_file(a.config_path, S_YAML_MAX, &yaml_len, &eb);
    bt_config_t *cfg = yaml ? bt_config_load_lib(a.config_path, a.run.sets, a.run.nsets,
                                                 bt_strategy_table(), bt_strategy_count(),
                                                 bt_strategy_load, &eb)
                            : NULL;
    if (!cfg) {
        fprintf(stderr, "bt sweep: %s\n", eb.msg);
        free(yaml);
        return 2;
    }
    /* The workers decide the path (BT_FAST, worker/bt_runner.c); local ones
     * inherit this environment. */
    if (a.run.no_fast && setenv("BT_FAST", "0", 1) != 0) {
        fprintf(stderr, "bt sweep: --no-fast: cannot set BT_FAST=0 for the workers\n");
        bt_config_destroy(&cfg);
        free(yaml);
        return 1;
    }
    a.run.threads_given = (a.given & BT_SWEEP_GIVEN_THREADS) != 0;
    a.run.single_thread = bt_pystrat_is(bt_config_strategy(cfg));
    bool interrupted = false;
    int rc = bt_driver_run(a.config_path, cfg, yaml, yaml_len, &a.run, &interrupted);
    if (interrupted) {
        fputs("continue with: ", stderr);
        bt_sweep_args_hint(stderr, "bt", &a);
    }
    bt_config_destroy(&cfg);
    free(yaml);
    return rc;
}
