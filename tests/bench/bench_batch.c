/* bench_batch — the grid fast path's kernel in one process (not a test; run
 * directly: build/bench/bench_batch [--quick] [--reps N] [--chunk N] [--bars N]).
 *
 * The grid of issue 15 (sma_cross fast 2..101 x slow 10..208 step 2, fast <
 * slow = 7,838 points; commission 0.1 %, slippage 2 bp, 16 PBO blocks) on
 * one synthetic symbol of 50,000 hourly bars (bt data synth --seed 7 --freq
 * 1h), run through bt_indcache + bt_batch_run in chunks of 32 points as the
 * worker does, on one thread: bar-events per CPU second of the kernel alone
 * (no coordinator, no config copies), the columns' share, and a checksum of
 * the Sharpe ratios so two builds can be compared. --bars 3 leaves nearly
 * nothing but the per-point overhead (set-up, cache look-ups, finish). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bt_bars.h"
#include "bt_batch.h"
#include "bt_indcache.h"
#include "bt_registry.h"
#include "bt_synth.h"

static double s_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int s_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int reps = 5, fast_to = 101;
    size_t nbars = 50000;
    size_t chunk = 512; /* points per bt_batch_run call (the worker's work item) */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            fast_to = 31, reps = 3;
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            reps = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--bars") == 0 && i + 1 < argc) /* 3: per-job overhead */
            nbars = (size_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--chunk") == 0 && i + 1 < argc)
            chunk = (size_t)strtoul(argv[++i], NULL, 10);
    }
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    bt_synth_opts_t o;
    bt_synth_opts_defaults(&o);
    o.nsym = 1;
    o.nbars = nbars;
    o.freq = "1h";
    o.seed = 7;
    char sym[16];
    bt_synth_symbol(0, sym, sizeof sym);
    bt_bars_t *bars = bt_bars_new(sym, o.nbars);
    if (!bars || bt_synth_generate(&o, 0, bars, &eb) != BT_OK) {
        fprintf(stderr, "synth: %s\n", eb.msg);
        return 1;
    }
    bt_series_t s = bt_bars_view(bars);
    const bt_strategy_t *st = bt_strategy_find("sma_cross");
    bt_engine_cfg_t cfg;
    bt_engine_cfg_defaults(&cfg);
    cfg.initial_cash = 100000;
    cfg.commission_rate = 0.001;
    cfg.slippage_bps = 2;
    size_t n = 0;
    for (int f = 2; f <= fast_to; f++)
        for (int sl = 10; sl <= 208; sl += 2)
            n += f < sl;
    double *params = calloc(n * 3, sizeof *params);
    bt_batch_job_t *jobs = calloc(n, sizeof *jobs);
    const double **cols = calloc(n * (BT_DECL_MAX + 1), sizeof *cols);
    double *blk = calloc(n * 3 * BT_MACC_MAX_BLOCKS, sizeof *blk);
    if (!params || !jobs || !cols || !blk || !st)
        return 1;
    size_t k = 0;
    for (int f = 2; f <= fast_to; f++)
        for (int sl = 10; sl <= 208; sl += 2)
            if (f < sl) {
                params[3 * k] = f;
                params[3 * k + 1] = sl;
                params[3 * k + 2] = 0;
                k++;
            }
    double times[64], tcols[64];
    double sum = 0.0;
    bt_batch_t *b = bt_batch_new();
    for (int r = 0; r < reps && r < 64; r++) {
        double c0 = s_cpu();
        bt_indcache_t *cache = bt_indcache_new((size_t)512 << 20);
        for (size_t i = 0; i < n; i++) {
            jobs[i].spec = (bt_run_spec_t){.series = &s, .nsym = 1, .strategy = st,
                                           .params = &params[3 * i], .cfg = &cfg, .threads = 1,
                                           .blocks_out = &blk[i * 3 * BT_MACC_MAX_BLOCKS]};
            jobs[i].cols = &cols[i * (BT_DECL_MAX + 1)];
            if (!bt_batch_prepare(cache, &jobs[i].spec, &cols[i * (BT_DECL_MAX + 1)], &eb)) {
                fprintf(stderr, "prepare: %s\n", eb.msg);
                return 1;
            }
        }
        double c1 = s_cpu();
        for (size_t a = 0; a < n; a += chunk)
            bt_batch_run(b, &jobs[a], n - a < chunk ? n - a : chunk);
        double c2 = s_cpu();
        bt_indcache_destroy(&cache);
        times[r] = c2 - c0;
        tcols[r] = c1 - c0;
        sum = 0.0;
        for (size_t i = 0; i < n; i++)
            sum += jobs[i].rc == BT_OK ? jobs[i].metrics.sharpe + jobs[i].metrics.trades : 1e9;
    }
    bt_batch_destroy(&b);
    qsort(times, (size_t)reps, sizeof *times, s_cmp);
    qsort(tcols, (size_t)reps, sizeof *tcols, s_cmp);
    double t = times[reps / 2], ev = (double)n * (double)s.n;
    printf("grid kernel: %zu points x %zu bars, CPU median of %d: %.3f s = %.1f M bar-events "
           "per CPU second (best %.1f M; columns %.3f s; %.2f us per point); checksum %.17g\n",
           n, s.n, reps, t, ev / t / 1e6, ev / times[0] / 1e6, tcols[reps / 2],
           1e6 * t / (double)n, sum);
    free(params);
    free(jobs);
    free(cols);
    free(blk);
    bt_bars_destroy(&bars);
    return 0;
}
