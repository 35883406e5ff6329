/* bench_run — whole-process `bt run` on one symbol x N one-minute bars with every output
 * (trades.csv, orders.csv, metrics.json, returns.csv, symbols.csv, provenance.txt,
 * report.html and the per-bar series in run.h5, --series h5): wall and CPU (user + sys of the
 * child) per run, medians of REPS runs, in M bars/s. The output folder is on /dev/shm when it
 * exists (the disk's speed is not what is measured). BT_BENCH_BASE=PATH/bt runs that bt too,
 * alternating with this one, for a comparison in the same conditions.
 *   usage: bench_run [BARS (10000000)] [REPS (5)] */
#define _DEFAULT_SOURCE /* wait4 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include "bt_time.h"

/* Runs argv quietly; wall and user+sys seconds; false if it failed. */
static int s_run(char *const argv[], double *wall, double *cpu)
{
    fflush(stdout); /* or the child repeats what is buffered */
    double t0 = bt_monotonic_s();
    pid_t pid = fork();
    if (pid < 0)
        return 0;
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout))
            _exit(127);
        execv(argv[0], argv);
        _exit(127);
    }
    int status = 0;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) != pid)
        return 0;
    *wall = bt_monotonic_s() - t0;
    *cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* PATH/bt next to PATH/bench/bench_run. */
static int s_bt_path(char *out, size_t cap)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return 0;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash)
        return 0;
    *slash = '\0';
    int w = snprintf(out, cap, "%s/../bt", self);
    return w > 0 && (size_t)w < cap && access(out, X_OK) == 0;
}

int main(int argc, char **argv)
{
    long bars = argc > 1 ? strtol(argv[1], NULL, 10) : 10000000;
    int reps = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 5;
    if (bars < 100 || reps < 1 || reps > 50) {
        fprintf(stderr, "usage: bench_run [BARS>=100] [REPS 1..50]\n");
        return 2;
    }
    char bt[PATH_MAX];
    if (!s_bt_path(bt, sizeof bt)) {
        fprintf(stderr, "bench_run: no bt next to this program's folder\n");
        return 1;
    }
    const char *base = getenv("BT_BENCH_BASE");
    struct stat sb;
    char dir[64];
    snprintf(dir, sizeof dir, "%s/bt_bench_run_XXXXXX",
             stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) ? "/dev/shm" : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    /* each bt writes over its own previous output (as a user re-running a config does): one
     * folder for both would make each run free the other build's files */
    char store[128], cfg[128], out[128], bout[128], nbars[32];
    snprintf(store, sizeof store, "%s/bars.h5", dir);
    snprintf(cfg, sizeof cfg, "%s/run.yaml", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(bout, sizeof bout, "%s/out_base", dir);
    snprintf(nbars, sizeof nbars, "%ld", bars);
    double w = 0, c = 0;
    char *synth[] = {bt,  "data", "synth", "--out", store, "--symbols", "1", "--bars", nbars,
                     "--freq", "1m", "--seed", "3", NULL};
    FILE *f = fopen(cfg, "w");
    if (!f || !s_run(synth, &w, &c)) {
        fprintf(stderr, "bench_run: cannot make the data in %s\n", dir);
        return 1;
    }
    fprintf(f, "strategy: sma_cross\nparams: {fast: 10, slow: 30}\ndata: {store: %s, symbols: "
               "all}\nexecution: {commission_pct: 0.1}\n", store);
    fclose(f);
    printf("bench_run: bt run, 1 symbol x %ld 1m bars, every output, --series h5; %d runs\n",
           bars, reps);
    double *tw = calloc((size_t)reps, sizeof *tw), *tc = calloc((size_t)reps, sizeof *tc);
    double *bw = calloc((size_t)reps, sizeof *bw), *bc = calloc((size_t)reps, sizeof *bc);
    int ok = tw && tc && bw && bc;
    char *mine[] = {bt, "run", cfg, "--out", out, "--series", "h5", NULL};
    char *theirs[] = {(char *)base, "run", cfg, "--out", bout, "--series", "h5", NULL};
    for (int r = 0; ok && r < reps; r++) {
        ok = s_run(mine, &tw[r], &tc[r]);
        if (ok && base)
            ok = s_run(theirs, &bw[r], &bc[r]);
    }
    if (!ok) {
        fprintf(stderr, "bench_run: a bt run failed (folder %s)\n", dir);
        return 1;
    }
    double n = (double)bars, mw = bench_median(tw, reps), mc = bench_median(tc, reps);
    printf("%-34s wall %7.3f s (%6.2f M bars/s)  cpu %7.3f s (%6.2f M bars/s)\n", "this bt", mw,
           n / mw / 1e6, mc, n / mc / 1e6);
    if (base) {
        double xw = bench_median(bw, reps), xc = bench_median(bc, reps);
        printf("%-34s wall %7.3f s (%6.2f M bars/s)  cpu %7.3f s (%6.2f M bars/s)\n",
               "BT_BENCH_BASE", xw, n / xw / 1e6, xc, n / xc / 1e6);
    }
    printf("target: whole bt run >= 20 M bars/s (wall): %s\n", n / mw >= 20e6 ? "met" : "MISSED");
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    free(tw), free(tc), free(bw), free(bc);
    return 0;
}
