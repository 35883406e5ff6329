/* bench_data — CSV import and bar-store load speed (run by scripts/bench, never by ctest).
 *
 * Generates an N-row (default 10,000,000) 1-minute OHLCV CSV in a temp dir, times the import
 * (parse only, and file hash + parse), writes the store uncompressed and deflated, and times the
 * load of each from a warm page cache. Several repetitions; prints medians.
 * The uncompressed load is timed twice: as every process loads an unchanged store (its bars were
 * hashed once and a verification stamp says the file has not changed since), and hashing every
 * bar (BT_VERIFY_CACHE=off: what the first load after an import or an edit does).
 * Targets: import >= 1 M rows/s, load >= 50 M bars/s uncompressed.
 *
 * usage: bench_data [ROWS] [REPS] */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "bt_bars.h"
#include "bt_csv.h"
#include "bt_store.h"
#include "bt_time.h"




static long long s_file_size(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (long long)st.st_size : -1;
}

/* Writes rows 1-minute bars: Date,Time,Open,High,Low,Close,Volume (a seeded random walk). */
static int s_generate(const char *path, long rows)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    static char buf[1 << 20];
    setvbuf(f, buf, _IOFBF, sizeof buf);
    fputs("Date,Time,Open,High,Low,Close,Volume\n", f);
    uint64_t x = 42;
    long cents = 100000; /* price in cents */
    int64_t t = bt_days_from_civil(2000, 1, 3) * BT_NS_PER_DAY;
    for (long i = 0; i < rows; i++, t += BT_NS_PER_MIN) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        long open = cents, close = cents + (long)(x % 41) - 20;
        if (close < 100)
            close = 100;
        long hi = (open > close ? open : close) + (long)(x >> 20) % 15;
        long lo = (open < close ? open : close) - (long)(x >> 30) % 15;
        cents = close;
        bt_civil_t c;
        bt_time_to_civil(t, &c);
        fprintf(f, "%04d-%02d-%02d,%02d:%02d:00,%ld.%02ld,%ld.%02ld,%ld.%02ld,%ld.%02ld,%lu\n",
                c.year, c.month, c.day, c.hour, c.minute, open / 100, open % 100, hi / 100,
                hi % 100, lo / 100, lo % 100, close / 100, close % 100,
                (unsigned long)(1 + (x >> 40) % 50000));
    }
    return fclose(f);
}

int main(int argc, char **argv)
{
    long rows = argc > 1 ? strtol(argv[1], NULL, 10) : 10000000;
    int reps = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 3;
    if (rows < 2 || reps < 1 || reps > 50) {
        fprintf(stderr, "usage: bench_data [ROWS>=2] [REPS 1..50]\n");
        return 2;
    }
    char dir[] = "/tmp/bt_bench_data_XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char csv[128], plain[128], defl[128];
    snprintf(csv, sizeof csv, "%s/bars.csv", dir);
    snprintf(plain, sizeof plain, "%s/plain.h5", dir);
    snprintf(defl, sizeof defl, "%s/deflate.h5", dir);
    double t0 = bt_monotonic_s();
    if (s_generate(csv, rows) != 0) {
        fprintf(stderr, "cannot write %s\n", csv);
        return 1;
    }
    printf("bench_data: %ld rows, %d repetitions, CSV %.1f MB generated in %.1f s\n", rows, reps,
           (double)s_file_size(csv) / 1e6, bt_monotonic_s() - t0);

    double *tp = calloc((size_t)reps, sizeof *tp), *tr = calloc((size_t)reps, sizeof *tr);
    double *tw = calloc((size_t)reps, sizeof *tw), *twd = calloc((size_t)reps, sizeof *twd);
    double *tl = calloc((size_t)reps, sizeof *tl), *tld = calloc((size_t)reps, sizeof *tld);
    bt_bars_t *bars = bt_bars_new("BENCH", (size_t)rows);
    bt_errbuf_t eb;
    bt_csv_opts_t opts = {.format = BT_CSV_AUTO};
    bt_csv_report_t rep;
    /* parse only, over a mapped file (warm cache) */
    int fd = open(csv, O_RDONLY);
    size_t len = (size_t)s_file_size(csv);
    const char *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    for (int r = 0; r < reps; r++) {
        bt_bars_clear(bars);
        double a = bt_monotonic_s();
        if (bt_csv_parse(csv, map, len, &opts, bars, &rep, &eb) != BT_OK) {
            fprintf(stderr, "%s\n", eb.msg);
            return 1;
        }
        tp[r] = bt_monotonic_s() - a;
    }
    munmap((void *)map, len);
    /* bt_csv_read_file: map + sha256 of the file + parse (what `bt data import` does) */
    for (int r = 0; r < reps; r++) {
        bt_bars_clear(bars);
        double a = bt_monotonic_s();
        if (bt_csv_read_file(csv, &opts, bars, &rep, &eb) != BT_OK) {
            fprintf(stderr, "%s\n", eb.msg);
            return 1;
        }
        tr[r] = bt_monotonic_s() - a;
    }
    bt_series_t s = bt_bars_view(bars);
    bt_store_meta_t meta = {0};
    snprintf(meta.source, sizeof meta.source, "bars.csv");
    memcpy(meta.sha256, rep.sha256, sizeof meta.sha256);
    for (int r = 0; r < reps; r++) {
        double a = bt_monotonic_s();
        if (bt_store_write(plain, &s, &meta, true, false, &eb) != BT_OK) {
            fprintf(stderr, "%s\n", eb.msg);
            return 1;
        }
        tw[r] = bt_monotonic_s() - a;
        a = bt_monotonic_s();
        if (bt_store_write(defl, &s, &meta, true, true, &eb) != BT_OK) {
            fprintf(stderr, "%s\n", eb.msg);
            return 1;
        }
        twd[r] = bt_monotonic_s() - a;
    }
    /* a replace leaves the old space unused: rewrite both once more into fresh files */
    unlink(plain);
    unlink(defl);
    bt_store_write(plain, &s, &meta, true, false, &eb);
    bt_store_write(defl, &s, &meta, true, true, &eb);
    /* Stamps in the bench's own folder; a stamp is written only for a file
     * whose last change is older than a clock tick, so let the new one age. */
    char stamps[160];
    snprintf(stamps, sizeof stamps, "%s/verified", dir);
    setenv("BT_VERIFY_CACHE", stamps, 1);
    struct timespec settle = {0, 300 * 1000 * 1000};
    nanosleep(&settle, NULL);
    bt_dataset_t *warm = bt_dataset_load(plain, NULL, 0, &eb); /* warm the page cache */
    bt_dataset_destroy(&warm);
    warm = bt_dataset_load(defl, NULL, 0, &eb);
    bt_dataset_destroy(&warm);
    double *th = calloc((size_t)reps, sizeof *th);
    for (int r = 0; r < reps; r++) {
        setenv("BT_VERIFY_CACHE", "off", 1);
        double a = bt_monotonic_s();
        bt_dataset_t *ds = bt_dataset_load(plain, NULL, 0, &eb);
        th[r] = bt_monotonic_s() - a;
        if (!ds || ds->hashed != 1) {
            fprintf(stderr, "load failed: %s\n", eb.msg);
            return 1;
        }
        bt_dataset_destroy(&ds);
        setenv("BT_VERIFY_CACHE", stamps, 1);
        a = bt_monotonic_s();
        ds = bt_dataset_load(plain, NULL, 0, &eb);
        tl[r] = bt_monotonic_s() - a;
        if (ds && ds->hashed != 0)
            fprintf(stderr, "warning: the stamp was not used (file too new?)\n");
        if (!ds || ds->series[0].n != (size_t)rows) {
            fprintf(stderr, "load failed: %s\n", eb.msg);
            return 1;
        }
        bt_dataset_destroy(&ds);
        a = bt_monotonic_s();
        ds = bt_dataset_load(defl, NULL, 0, &eb);
        tld[r] = bt_monotonic_s() - a;
        if (!ds) {
            fprintf(stderr, "load failed: %s\n", eb.msg);
            return 1;
        }
        bt_dataset_destroy(&ds);
    }
    double mp = bench_median(tp, reps), mr = bench_median(tr, reps), mw = bench_median(tw, reps);
    double mwd = bench_median(twd, reps), ml = bench_median(tl, reps), mld = bench_median(tld, reps);
    double n = (double)rows;
    printf("%-40s %8.3f s  %8.2f M rows/s\n", "CSV parse (mapped, warm)", mp, n / mp / 1e6);
    printf("%-40s %8.3f s  %8.2f M rows/s\n", "CSV import (map + sha256 + parse)", mr,
           n / mr / 1e6);
    printf("%-40s %8.3f s  %8.2f M rows/s  %.1f MB\n", "store write, uncompressed", mw,
           n / mw / 1e6, (double)s_file_size(plain) / 1e6);
    printf("%-40s %8.3f s  %8.2f M rows/s  %.1f MB\n", "store write, shuffle+deflate", mwd,
           n / mwd / 1e6, (double)s_file_size(defl) / 1e6);
    double mh = bench_median(th, reps);
    printf("%-40s %8.3f s  %8.2f M bars/s\n", "store load, uncompressed (warm)", ml, n / ml / 1e6);
    printf("%-40s %8.3f s  %8.2f M bars/s\n", "store load, hashing every bar", mh, n / mh / 1e6);
    printf("%-40s %8.3f s  %8.2f M bars/s\n", "store load, shuffle+deflate (warm)", mld,
           n / mld / 1e6);
    printf("targets: import >= 1 M rows/s: %s; load >= 50 M bars/s: %s\n",
           n / mr >= 1e6 ? "met" : "MISSED", n / ml >= 50e6 ? "met" : "MISSED");
    bt_bars_destroy(&bars);
    unlink(csv);
    unlink(plain);
    unlink(defl);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", stamps);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", stamps);
    rmdir(dir);
    free(th);
    free(tp);
    free(tr);
    free(tw);
    free(twd);
    free(tl);
    free(tld);
    return 0;
}
