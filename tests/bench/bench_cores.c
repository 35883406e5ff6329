/* bench_cores — what two cores of this machine give two copies of the same work, by the kind
 * of work: the ceiling for "two workers >= 1.8x one worker" (issue 15, docs/sweep.md "Two
 * workers on two cores").
 *
 * Each kernel runs alone in one process, then in two processes at once (each on its own memory);
 * the figure is the second's time over the first's per thread, and 2 x alone / both the
 * speed-up two copies get. Kernels: a dependent integer chain (the core alone), sums over
 * 512 KiB (private cache), 16 MiB (the shared last-level cache) and 256 MiB (memory), and the
 * first touch of 256 MiB of fresh memory advised for huge pages (what a worker's column cache
 * and books cost the first time). Medians of 5 rounds. Arguments are ignored (scripts/bench
 * passes its own to every benchmark). */
#define _DEFAULT_SOURCE /* madvise */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_util.h"
#include "bt_time.h"

#define S_ROUNDS 5


typedef enum { K_ALU, K_SUM, K_FRESH } s_kind_t;

typedef struct {
    s_kind_t kind;
    size_t bytes; /* K_SUM: the array; K_FRESH: the mapping */
    int reps;     /* K_SUM: passes */
} s_job_t;

static double s_alu(void)
{
    uint64_t x = 1;
    for (long i = 0; i < 300000000L; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        x ^= x >> 13;
    }
    return (double)(x & 1);
}

/* Eight independent sums: the loop streams as fast as the cache or memory gives. */
static double s_sum(const double *a, size_t n, int reps)
{
    double s[8] = {0};
    for (int r = 0; r < reps; r++)
        for (size_t i = 0; i + 7 < n; i += 8)
            for (int k = 0; k < 8; k++)
                s[k] += a[i + (size_t)k];
    return s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
}

static double s_fresh(size_t bytes)
{
    unsigned char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -1;
    madvise(p, bytes, MADV_HUGEPAGE);
    for (size_t i = 0; i < bytes; i += 4096)
        p[i] = 1;
    double s = p[bytes / 2];
    munmap(p, bytes);
    return s;
}

/* One copy of the work in a child process (two workers are two processes): its array made
 * first, then it says so on `ready` and waits for the parent's go (the end of `go`), runs,
 * and writes its seconds (negative: failed) to `out`. */
static void s_child(const s_job_t *j, int ready, int go, int out)
{
    double *a = NULL;
    if (j->kind == K_SUM) {
        a = malloc(j->bytes);
        for (size_t e = 0; a && e < j->bytes / sizeof(double); e++)
            a[e] = (double)(e & 1023);
    }
    char c = 1;
    if (write(ready, &c, 1) != 1)
        _exit(1);
    while (read(go, &c, 1) > 0) {
    }
    double t0 = bt_monotonic_s(), sink = 0;
    if (j->kind == K_ALU)
        sink = s_alu();
    else if (j->kind == K_SUM)
        sink = a ? s_sum(a, j->bytes / sizeof(double), j->reps) : -1;
    else
        sink = s_fresh(j->bytes);
    double secs = sink < 0 ? -1 : bt_monotonic_s() - t0;
    if (write(out, &secs, sizeof secs) != (ssize_t)sizeof secs)
        _exit(1);
    _exit(0);
}

/* Seconds per copy with nc copies (1 or 2) at once: the slower one's; negative: failed. */
static double s_round(const s_job_t *j, int nc)
{
    int ready[2], go[2], out[2];
    if (pipe(ready) != 0)
        return -1;
    if (pipe(go) != 0) {
        close(ready[0]);
        close(ready[1]);
        return -1;
    }
    if (pipe(out) != 0) {
        close(ready[0]);
        close(ready[1]);
        close(go[0]);
        close(go[1]);
        return -1;
    }
    pid_t pid[2] = {-1, -1};
    int started = 0; /* children forked (a failed fork fails the round, after the others) */
    for (int k = 0; k < nc; k++) {
        pid[k] = fork();
        if (pid[k] < 0)
            break;
        started++;
        if (pid[k] == 0) {
            close(ready[0]);
            close(go[1]);
            close(out[0]);
            s_child(j, ready[1], go[0], out[1]);
        }
    }
    close(ready[1]);
    close(go[0]);
    close(out[1]);
    char c;
    int up = 0; /* every copy has made its memory (or died: EOF) before the go */
    while (up < started && read(ready[0], &c, 1) == 1)
        up++;
    close(ready[0]);
    close(go[1]); /* go */
    double worst = up == nc ? 0 : -1;
    for (int k = 0; k < started; k++) {
        double secs = -1;
        if (read(out[0], &secs, sizeof secs) != (ssize_t)sizeof secs || secs < 0)
            worst = -1;
        else if (worst >= 0 && secs > worst)
            worst = secs;
    }
    close(out[0]);
    for (int k = 0; k < nc; k++)
        if (pid[k] > 0)
            waitpid(pid[k], NULL, 0);
    return worst;
}

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    struct {
        const char *name;
        s_kind_t kind;
        size_t bytes;
        int reps;
    } k[] = {
        {"integer chain (core only)", K_ALU, 0, 0},
        {"sum over 512 KiB (private cache)", K_SUM, 512u << 10, 24000},
        {"sum over 16 MiB (shared cache)", K_SUM, 16u << 20, 640},
        {"sum over 256 MiB (memory)", K_SUM, 256u << 20, 32},
        {"first touch of 256 MiB fresh memory", K_FRESH, 256u << 20, 0},
    };
    printf("bench_cores: the same work alone on one core and on two cores at once; medians of %d "
           "rounds\n",
           S_ROUNDS);
    printf("%-38s %10s %10s %8s %10s\n", "kernel", "alone s", "two s", "ratio", "2 cores");
    for (size_t i = 0; i < sizeof k / sizeof *k; i++) {
        s_job_t j = {.kind = k[i].kind, .bytes = k[i].bytes, .reps = k[i].reps};
        double one[S_ROUNDS], two[S_ROUNDS];
        for (int r = 0; r < S_ROUNDS; r++) { /* alternated: the host's state drifts */
            one[r] = s_round(&j, 1);
            two[r] = s_round(&j, 2);
            if (one[r] < 0 || two[r] < 0) {
                fprintf(stderr, "bench_cores: %s: a copy failed (fork, memory)\n", k[i].name);
                return 1;
            }
        }
        double m1 = bench_median(one, S_ROUNDS), m2 = bench_median(two, S_ROUNDS);
        printf("%-38s %10.3f %10.3f %8.2f %9.2fx\n", k[i].name, m1, m2, m2 / m1, 2 * m1 / m2);
    }
    printf("(2 cores: what two copies of that work gain over one; 2.00x = no contention)\n");
    return 0;
}
