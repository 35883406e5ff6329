/* bench_engine — engine throughput (not a test).
 *
 * A 10M-bar random walk (one-minute bars) in 64-byte aligned arrays, run
 * through the full event path with the registry's sma_cross (fast 10, slow
 * 30): bars/s on one thread (median of 5), then 8 symbols x 1.25M bars as
 * SINGLE sleeves at 1 and 2 OpenMP threads, and peak RSS vs the bar data.
 * One-thread figures also in thread CPU time (steadier on a busy machine).
 * Usage: bench_engine [total_bars]   (default 10000000) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench_util.h"
#include "bt_alloc.h"
#include "bt_engine.h"
#include "bt_registry.h"
#include "bt_time.h"

#define NRUNS 5

typedef struct {
    int64_t *t;
    double *o, *h, *l, *c, *v;
} s_cols_t;

static uint64_t s_rng = 0x9E3779B97F4A7C15ULL;

static double s_u01(void)
{
    s_rng ^= s_rng << 13;
    s_rng ^= s_rng >> 7;
    s_rng ^= s_rng << 17;
    return (double)(s_rng >> 11) / 9007199254740992.0;
}

static int s_alloc(s_cols_t *x, size_t n)
{
    x->t = bt_aligned_alloc(n * sizeof *x->t);
    x->o = bt_aligned_alloc(n * sizeof(double));
    x->h = bt_aligned_alloc(n * sizeof(double));
    x->l = bt_aligned_alloc(n * sizeof(double));
    x->c = bt_aligned_alloc(n * sizeof(double));
    x->v = bt_aligned_alloc(n * sizeof(double));
    return x->t && x->o && x->h && x->l && x->c && x->v ? 0 : -1;
}

/* Fills bars [i0, i0 + n) of x as one symbol's random walk from t0. */
static void s_walk(s_cols_t *x, size_t i0, size_t n, int64_t t0)
{
    double p = 100.0;
    for (size_t i = i0; i < i0 + n; i++) {
        double o = p * (1.0 + 0.0005 * (s_u01() - 0.5));
        double c = o * (1.0 + 0.002 * (s_u01() - 0.5));
        x->t[i] = t0 + (int64_t)(i - i0) * BT_NS_PER_MIN;
        x->o[i] = o;
        x->c[i] = c;
        x->h[i] = (o > c ? o : c) * (1.0 + 0.0005 * s_u01());
        x->l[i] = (o < c ? o : c) * (1.0 - 0.0005 * s_u01());
        x->v[i] = 1000.0 + 1000.0 * s_u01();
        p = c;
    }
}

static bt_series_t s_view(const s_cols_t *x, size_t i0, size_t n, const char *sym)
{
    bt_series_t s;
    memset(&s, 0, sizeof s);
    snprintf(s.symbol, sizeof s.symbol, "%s", sym);
    s.n = n;
    s.time = x->t + i0;
    s.open = x->o + i0;
    s.high = x->h + i0;
    s.low = x->l + i0;
    s.close = x->c + i0;
    s.volume = x->v + i0;
    return s;
}



/* CPU time of this thread: on a shared machine it leaves out the time the
 * thread waited for a core, which wall time does not. */
static double s_cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Median seconds of NRUNS runs (wall; *cpu: median thread CPU time, which
 * covers the work only for one-thread runs); fills *m with the last run's
 * metrics. */
static double s_time(bt_engine_t *eng, const bt_run_spec_t *spec, bt_metrics_t *m, double *cpu)
{
    double dt[NRUNS], dc[NRUNS];
    for (int r = 0; r < NRUNS; r++) {
        bt_errbuf_t eb;
        double t0 = bt_monotonic_s(), c0 = s_cpu_now();
        if (bt_engine_run(eng, spec, m, &eb) != BT_OK) {
            fprintf(stderr, "bench_engine: run failed: %s\n", eb.msg);
            exit(1);
        }
        dt[r] = bt_monotonic_s() - t0;
        dc[r] = s_cpu_now() - c0;
    }
    qsort(dt, NRUNS, sizeof dt[0], bench_cmp_double);
    qsort(dc, NRUNS, sizeof dc[0], bench_cmp_double);
    *cpu = dc[NRUNS / 2];
    return dt[NRUNS / 2];
}

int main(int argc, char **argv)
{
    size_t n = 10000000;
    if (argc > 1) {
        char *end = NULL;
        unsigned long long v = strtoull(argv[1], &end, 10);
        if (!end || *end || v < 1000 || v > 200000000ULL) {
            fprintf(stderr, "usage: bench_engine [total_bars in 1000..200000000]\n");
            return 2;
        }
        n = (size_t)v;
    }
    const bt_strategy_t *st = bt_strategy_find("sma_cross");
    if (!st) {
        fprintf(stderr, "bench_engine: sma_cross not in the registry\n");
        return 1;
    }
    double params[BT_MAX_PARAMS];
    bt_strategy_defaults(st, params);
    params[0] = 10;
    params[1] = 30;

    s_cols_t x;
    if (s_alloc(&x, n) != 0) {
        fprintf(stderr, "bench_engine: out of memory for %zu bars\n", n);
        return 1;
    }
    int64_t t0 = bt_days_from_civil(2000, 1, 3) * BT_NS_PER_DAY;
    s_walk(&x, 0, n, t0);

    bt_engine_cfg_t cfg;
    bt_engine_cfg_defaults(&cfg);
    cfg.commission_rate = 0.0005;
    cfg.slippage_bps = 1;
    bt_engine_t *eng = bt_engine_new();
    bt_metrics_t m;

    bt_series_t one = s_view(&x, 0, n, "RW");
    bt_run_spec_t spec = {.series = &one, .nsym = 1, .strategy = st, .params = params,
                          .cfg = &cfg, .threads = 1};
    double cpu;
    double dt = s_time(eng, &spec, &m, &cpu);
    printf("single series: %zu bars, median %.3f s, %.1f M bars/s (%.0f trades, final equity %.2f)\n",
           n, dt, (double)n / dt / 1e6, m.trades, m.final_equity);
    printf("single series CPU time: median %.3f s, %.1f M bars/s\n", cpu, (double)n / cpu / 1e6);
    {
        /* Peak so far covers the generated bars and the single-series runs
         * only: the engine streams its metrics and keeps no curve. */
        struct rusage ru1;
        getrusage(RUSAGE_SELF, &ru1);
        double mb = (double)n * (sizeof(int64_t) + 5 * sizeof(double)) / 1048576.0;
        printf("single series peak RSS %.1f MB; bar data %.1f MB (+%.1f MB)\n",
               (double)ru1.ru_maxrss / 1024.0, mb, (double)ru1.ru_maxrss / 1024.0 - mb);
    }

    /* 8 symbols x n/8 bars: regenerate as 8 walks over the same arrays */
    size_t k = 8, per = n / k;
    bt_series_t ser[8];
    for (size_t i = 0; i < k; i++) {
        s_walk(&x, i * per, per, t0);
        char sym[8];
        snprintf(sym, sizeof sym, "S%zu", i);
        ser[i] = s_view(&x, i * per, per, sym);
    }
    spec.series = ser;
    spec.nsym = k;
    bt_metrics_t m1, m2;
    spec.threads = 1;
    double c1, c2;
    double d1 = s_time(eng, &spec, &m1, &c1);
    spec.threads = 2;
    double d2 = s_time(eng, &spec, &m2, &c2);
    printf("8 sleeves x %zu bars: 1 thread %.1f M bars/s, 2 threads %.1f M bars/s (%s)\n", per,
           (double)(per * k) / d1 / 1e6, (double)(per * k) / d2 / 1e6,
           memcmp(&m1, &m2, sizeof m1) == 0 ? "identical metrics" : "METRICS DIFFER");
    printf("8 sleeves, 1 thread CPU time: median %.3f s, %.1f M bars/s\n", c1,
           (double)(per * k) / c1 / 1e6);

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double data_mb = (double)n * (sizeof(int64_t) + 5 * sizeof(double)) / 1048576.0;
    printf("peak RSS with 8 sleeves (one double + one byte per bar per sleeve) %.1f MB; bar data %.1f MB (%.2fx)\n", (double)ru.ru_maxrss / 1024.0, data_mb,
           (double)ru.ru_maxrss / 1024.0 / data_mb);

    bt_engine_destroy(&eng);
    bt_aligned_free(x.t);
    bt_aligned_free(x.o);
    bt_aligned_free(x.h);
    bt_aligned_free(x.l);
    bt_aligned_free(x.c);
    bt_aligned_free(x.v);
    return 0;
}
