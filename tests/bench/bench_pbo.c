/* bench_pbo — the PBO (CSCV) of bt_overfit on synthetic trial sets (not a
 * test; run directly: build/bench/bench_pbo [--runs N] [--trials T,T,...]).
 *
 * Trials: T x 16 blocks of 1,875 returns (30,000 per trial), block means
 * from correlated random returns with a fixed seed: a common factor per
 * block, a per-trial drift, and noise that is an AR(1) across neighbouring
 * trials (rho 0.95: neighbouring grid points trade alike), per-step
 * volatility 0.5-1.5 %. Default sets: 7,838 (issue 15's grid), 30,688 and
 * 200,000 trials (--drift 0: no per-trial drift, noise only, as on a real
 * grid). Reports the median over --runs of the CPU seconds (all
 * threads: CLOCK_PROCESS_CPUTIME_ID) and wall seconds of
 * bt_overfit_pbo_logits, per code path (bt_overfit_pbo_force), each run
 * alternating the paths, and checks every path's PBO and logits equal bit
 * for bit.
 *
 * Against another build of bt_overfit.c (e.g. main's, for base figures):
 * compile it with its public names prefixed and define BENCH_PBO_BASE, e.g.
 *   R="-Dbt_overfit_pbo_sample=base_pbo_sample -Dbt_overfit_pbo_logits=base_pbo_logits
 *      -Dbt_overfit_pbo=base_pbo -Dbt_overfit_pbo_default_splits=base_default_splits
 *      -Dbt_overfit_sharpe_sums=base_sharpe_sums -Dbt_overfit_dsr=base_dsr
 *      -Dbt_overfit_norm_cdf=base_norm_cdf -Dbt_overfit_norm_ppf=base_norm_ppf
 *      -Dbt_overfit_expected_max_sharpe=base_expected_max_sharpe"
 *   gcc -std=c17 -O3 -fopenmp $R -I<base>/coordinator/report -I<base>/common/base
 *      -I<base>/common/engine -c <base>/coordinator/report/bt_overfit.c -o base.o
 * and link it with this file built with -DBENCH_PBO_BASE (scripts/bench_pbo_base
 * does both); the base then runs first in every round and its figures are
 * the ones every path must equal. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bt_overfit.h"

#ifdef BENCH_PBO_BASE
bt_err_t base_pbo_logits(const float *stats, const double *count, size_t ntrials, uint32_t nblocks,
                         bt_pbo_t *out, double **logits, bt_errbuf_t *eb);
#endif

#define S_BLOCKS 16u
#define S_PER_BLOCK 1875.0
#define S_MAXRUNS 64

static double s_now(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int s_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double s_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, s_cmp);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static uint64_t s_rng = 0x243f6a8885a308d3ull;
/* per-trial drift, in units of a trial's whole-sample standard error; 0
 * (--drift 0): trials differ by noise only, as on a real grid of SMA
 * crosses, where the bounds prune nothing and both passes read every trial */
static double s_drift = 0.2;

static double s_unif(void) /* (0, 1) */
{
    uint64_t z = (s_rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) / 9007199254740992.0;
}

static double s_gauss(void)
{
    return sqrt(-2.0 * log(s_unif())) * cos(6.283185307179586 * s_unif());
}

/* T trials' (mean, M2) per block, trial-major as bt_overfit_pbo takes them. */
static float *s_trials(size_t T, double *count)
{
    float *st = malloc(T * 2 * S_BLOCKS * sizeof *st);
    if (!st)
        return NULL;
    s_rng = 0x243f6a8885a308d3ull ^ T;
    double factor[S_BLOCKS], e[S_BLOCKS];
    for (uint32_t b = 0; b < S_BLOCKS; b++) {
        count[b] = S_PER_BLOCK;
        factor[b] = s_gauss();
        e[b] = s_gauss();
    }
    const double rho = 0.95, rs = sqrt(1 - rho * rho);
    for (size_t t = 0; t < T; t++) {
        double sig = 0.005 + 0.01 * s_unif();
        double beta = 0.6 * s_unif();
        double drift = s_drift * s_gauss() * sig / sqrt(16 * S_PER_BLOCK);
        for (uint32_t b = 0; b < S_BLOCKS; b++) {
            e[b] = rho * e[b] + rs * s_gauss();
            double z = beta * factor[b] + sqrt(1 - beta * beta) * e[b];
            double m = drift + z * sig / sqrt(S_PER_BLOCK);
            double m2 = (S_PER_BLOCK - 1) * sig * sig * (1 + 0.05 * s_gauss());
            st[2 * (t * S_BLOCKS + b)] = (float)m;
            st[2 * (t * S_BLOCKS + b) + 1] = (float)m2;
        }
    }
    return st;
}

typedef struct {
    const char *name;
    int isa; /* bt_overfit_pbo_force argument; -1: the base build */
    double cpu[S_MAXRUNS], wall[S_MAXRUNS];
} s_path_t;

static int s_run(s_path_t *p, int r, const float *st, const double *count, size_t T, bt_pbo_t *out,
                 double **lg)
{
    bt_errbuf_t eb;
    double c0 = s_now(CLOCK_PROCESS_CPUTIME_ID), w0 = s_now(CLOCK_MONOTONIC);
    bt_err_t rc;
#ifdef BENCH_PBO_BASE
    if (p->isa < 0)
        rc = base_pbo_logits(st, count, T, S_BLOCKS, out, lg, &eb);
    else
#endif
    {
        bt_overfit_pbo_force((bt_overfit_isa_t)p->isa);
        rc = bt_overfit_pbo_logits(st, count, T, S_BLOCKS, out, lg, &eb);
        bt_overfit_pbo_force(BT_OVERFIT_ISA_AUTO);
    }
    p->cpu[r] = s_now(CLOCK_PROCESS_CPUTIME_ID) - c0;
    p->wall[r] = s_now(CLOCK_MONOTONIC) - w0;
    if (rc != BT_OK) {
        fprintf(stderr, "bench_pbo: %s\n", eb.msg);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int runs = 5, scalar = 0;
    const char *list = "7838,30688,200000";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--runs") && i + 1 < argc) {
            runs = (int)strtol(argv[++i], NULL, 10);
        } else if (!strcmp(argv[i], "--trials") && i + 1 < argc) {
            list = argv[++i];
        } else if (!strcmp(argv[i], "--drift") && i + 1 < argc) {
            s_drift = strtod(argv[++i], NULL);
        } else if (!strcmp(argv[i], "--scalar")) {
            scalar = 1;
        } else {
            fprintf(stderr, "usage: bench_pbo [--runs N] [--trials T,T,...] [--drift X] [--scalar]\n"
                            "  e.g. bench_pbo --runs 5 --trials 7838,30688,200000\n"
                            "  --scalar also times the scalar path (slow)\n");
            return 2;
        }
    }
    if (runs < 1 || runs > S_MAXRUNS)
        runs = 5;
    s_path_t paths[] = {
#ifdef BENCH_PBO_BASE
        {"base", -1, {0}, {0}},
#endif
        {"avx512", BT_OVERFIT_ISA_AVX512, {0}, {0}},
        {"avx2", BT_OVERFIT_ISA_AVX2, {0}, {0}},
        {"scalar", BT_OVERFIT_ISA_SCALAR, {0}, {0}},
    };
    int npath = (int)(sizeof paths / sizeof paths[0]) - (scalar ? 0 : 1);
    int bad = 0;
    for (const char *s = list; *s;) {
        char *end;
        size_t T = (size_t)strtoull(s, &end, 10);
        s = *end ? end + 1 : end;
        if (T < 2)
            continue;
        double count[S_BLOCKS];
        float *st = s_trials(T, count);
        if (!st) {
            fprintf(stderr, "bench_pbo: out of memory\n");
            return 1;
        }
        bt_pbo_t ref = {0};
        double *reflg = NULL;
        for (int r = 0; r < runs; r++)
            for (int k = 0; k < npath; k++) {
                bt_pbo_t p;
                double *lg = NULL;
                if (s_run(&paths[k], r, st, count, T, &p, &lg))
                    return 1;
                if (!reflg) {
                    ref = p;
                    reflg = lg;
                    continue;
                }
                if (p.pbo != ref.pbo || p.median_logit != ref.median_logit ||
                    p.prob_oos_loss != ref.prob_oos_loss || p.splits != ref.splits ||
                    memcmp(lg, reflg, p.splits * sizeof *lg)) {
                    fprintf(stderr, "bench_pbo: %zu trials: %s differs from %s\n", T, paths[k].name,
                            paths[0].name);
                    bad = 1;
                }
                free(lg);
            }
        printf("%zu trials x %u blocks, %llu splits: PBO %.6f, median logit %.6f\n", T, S_BLOCKS,
               (unsigned long long)ref.splits, ref.pbo, ref.median_logit);
        for (int k = 0; k < npath; k++)
            printf("  %-7s CPU %.3f s  wall %.3f s  (medians of %d)\n", paths[k].name,
                   s_median(paths[k].cpu, runs), s_median(paths[k].wall, runs), runs);
        fflush(stdout);
        free(reflg);
        free(st);
    }
    if (bad)
        fprintf(stderr, "bench_pbo: FIGURES DIFFER\n");
    return bad;
}
