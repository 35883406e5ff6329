/* bench_python — a Python strategy on the C engine vs the same C strategy
 * (not a test).
 *
 * 1M one-minute bars of one synthetic symbol (bt data synth, seed 7) in a
 * temporary store. In this process, on one thread, median of 3: the
 * registry's sma_cross (fast 10, slow 30) and python/examples/sma_cross.py
 * (SmaCross, the same rule with its two SMAs declared as C indicators);
 * prints bars/s of each and the Python cost per bar (difference of the two).
 * Then whole processes, C and Python: a one-job `bt sweep` on one local
 * worker (start, load, run, report) and `bt run` (which also writes every
 * order, trade and equity point), median of 3, wall and CPU. The in-process
 * runs must give the same final equity (checked).
 * Usage: bench_python [bars] [path/to/sma_cross.py]
 *   defaults: 1000000, <this program>/../../python/examples/sma_cross.py */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "bt_engine.h"
#include "bt_registry.h"
#include "bt_store.h"
#include "bt_synth.h"
#include "bt_time.h"

#define NRUNS 3

static double s_cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Median wall and thread-CPU seconds of NRUNS engine runs. */
static void s_time(const bt_dataset_t *ds, const bt_strategy_t *st, const double *params,
                   double *wall, double *cpu, double *equity)
{
    bt_engine_cfg_t cfg;
    bt_engine_cfg_defaults(&cfg);
    bt_run_spec_t spec = {.series = ds->series,
                          .nsym = ds->nsym,
                          .strategy = st,
                          .params = params,
                          .cfg = &cfg,
                          .threads = 1};
    double dw[NRUNS], dc[NRUNS];
    bt_engine_t *eng = bt_engine_new();
    for (int r = 0; r < NRUNS; r++) {
        bt_errbuf_t eb;
        bt_metrics_t m;
        double t0 = bt_monotonic_s(), c0 = s_cpu_now();
        if (!eng || bt_engine_run(eng, &spec, &m, &eb) != BT_OK) {
            fprintf(stderr, "bench_python: run of %s failed: %s\n", st->name, eb.msg);
            exit(1);
        }
        dw[r] = bt_monotonic_s() - t0;
        dc[r] = s_cpu_now() - c0;
        *equity = m.final_equity;
    }
    bt_engine_destroy(&eng);
    *wall = bench_median(dw, NRUNS);
    *cpu = bench_median(dc, NRUNS);
}

/* Runs `bt CMD cfg --out out [--workers 1]` (output to /dev/null); returns
 * wall seconds and adds the child's user + system CPU seconds to *cpu. */
static double s_whole(const char *bt, const char *cmd, const char *cfg, const char *out,
                      double *cpu)
{
    char rm[200];
    snprintf(rm, sizeof rm, "rm -rf '%s'", out);
    if (system(rm) != 0)
        exit(1);
    struct rusage r0, r1;
    getrusage(RUSAGE_CHILDREN, &r0);
    double t0 = bt_monotonic_s();
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))
            _exit(127);
        if (strcmp(cmd, "sweep") == 0)
            execl(bt, bt, cmd, cfg, "--out", out, "--workers", "1", (char *)NULL);
        else
            execl(bt, bt, cmd, cfg, "--out", out, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "bench_python: bt %s %s failed\n", cmd, cfg);
        exit(1);
    }
    double w = bt_monotonic_s() - t0;
    getrusage(RUSAGE_CHILDREN, &r1);
    *cpu = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec -
                    r0.ru_stime.tv_sec) +
           1e-6 * (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec -
                           r0.ru_stime.tv_usec);
    return w;
}

/* Median wall and CPU of NRUNS whole processes; prints one line. */
static void s_whole_line(const char *bt, const char *cmd, const char *cfg, const char *out,
                         const char *label, size_t n)
{
    double dw[NRUNS], dc[NRUNS];
    for (int r = 0; r < NRUNS; r++)
        dw[r] = s_whole(bt, cmd, cfg, out, &dc[r]);
    double w = bench_median(dw, NRUNS), c = bench_median(dc, NRUNS);
    printf("  %-34s %6.3f s wall %6.2f M bars/s | %6.3f s CPU %6.2f M bars/s\n", label, w,
           (double)n / w / 1e6, c, (double)n / c / 1e6);
}

int main(int argc, char **argv)
{
    size_t n = 1000000;
    char exe[4096] = "", py[4600], bt[4600];
    ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[el > 0 ? el : 0] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0'; /* .../build/bench */
    snprintf(py, sizeof py, "%s/../../python/examples/sma_cross.py", exe);
    snprintf(bt, sizeof bt, "%s/../bt", exe);
    if (argc > 1)
        n = (size_t)strtoull(argv[1], NULL, 10);
    if (argc > 2)
        snprintf(py, sizeof py, "%s", argv[2]);
    if (n < 1000 || access(py, R_OK) != 0) {
        fprintf(stderr, "usage: bench_python [bars >= 1000] [path/to/sma_cross.py] (%s?)\n", py);
        return 2;
    }
    char dir[] = "/tmp/bt-bench-py-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char store[64], cfgp[64], out[64];
    snprintf(store, sizeof store, "%s/bars.h5", dir);
    snprintf(cfgp, sizeof cfgp, "%s/py.yaml", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    bt_errbuf_t eb;
    bt_synth_opts_t o;
    bt_synth_opts_defaults(&o);
    o.nsym = 1;
    o.nbars = n;
    o.freq = "1m";
    o.seed = 7;
    bt_dataset_t *ds = NULL;
    if (bt_synth_write(store, &o, true, false, &eb) != BT_OK ||
        !(ds = bt_dataset_load(store, NULL, 0, &eb))) {
        fprintf(stderr, "bench_python: %s\n", eb.msg);
        return 1;
    }
    char spec[4800];
    snprintf(spec, sizeof spec, "python:SmaCross:%s", py);
    const bt_strategy_t *cs = bt_strategy_find("sma_cross");
    const bt_strategy_t *ps = bt_strategy_load(spec, &eb);
    if (!cs || !ps) {
        fprintf(stderr, "bench_python: %s\n", cs ? eb.msg : "no sma_cross");
        return 1;
    }
    double p[BT_MAX_PARAMS] = {10, 30, 0};
    double cw, cc, ce, pw, pc, pe;
    s_time(ds, cs, p, &cw, &cc, &ce);
    s_time(ds, ps, p, &pw, &pc, &pe);
    printf("%zu bars, one thread, in-process engine runs (median of %d):\n", n, NRUNS);
    printf("  C sma_cross       %.3f s wall (%.3f s CPU)  %6.2f M bars/s\n", cw, cc,
           (double)n / cw / 1e6);
    printf("  Python SmaCross   %.3f s wall (%.3f s CPU)  %6.2f M bars/s\n", pw, pc,
           (double)n / pw / 1e6);
    printf("  Python cost per bar: %.0f ns (CPU %.0f ns) over the C strategy's %.0f ns\n",
           (pw - cw) / (double)n * 1e9, (pc - cc) / (double)n * 1e9, cw / (double)n * 1e9);
    if (ce != pe) {
        fprintf(stderr, "bench_python: final equity differs: C %.17g, Python %.17g\n", ce, pe);
        return 1;
    }
    const char *rules[2] = {"strategy: sma_cross\n", "strategy: SmaCross\nstrategy_python: "};
    printf("whole process, median of %d (CPU = user + system of bt and its worker; the\n"
           "machine is shared, so CPU is the steadier figure; target >= 0.5 M bars/s):\n",
           NRUNS);
    for (int k = 0; k < 2; k++) {
        FILE *f = fopen(cfgp, "w");
        if (!f)
            return 1;
        fprintf(f,
                "%s%s%sparams: {fast: 10, slow: 30}\ndata: {store: %s}\n"
                "sweep:\n  params.fast: [10]\n",
                rules[k], k ? py : "", k ? "\n" : "", store);
        fclose(f);
        s_whole_line(bt, "sweep", cfgp, out,
                     k ? "bt sweep, 1 job, Python SmaCross" : "bt sweep, 1 job, C sma_cross", n);
        s_whole_line(bt, "run", cfgp, out,
                     k ? "bt run (all outputs), Python" : "bt run (all outputs), C", n);
    }
    bt_dataset_destroy(&ds);
    char rm[160];
    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    return system(rm) == 0 ? 0 : 1;
}
