/* Issue 10, "nothing silently wrong": each test fails on the bt before the
 * fix and passes after. Real bt and bt-worker processes on 127.0.0.1.
 * - a store whose bars were edited in place (stored content_sha256 left as
 *   it was) refuses the --resume, a new sweep and a worker's load, saying so;
 * - a strategy library swapped before --resume is refused, naming it;
 * - a second coordinator on a folder in use is refused naming the holder; a
 *   killed coordinator's lock is taken over;
 * - one flipped bit 10 % into the journal costs that one record only;
 * - grid points the strategy refuses are refused before any work, with the
 *   constraint that prunes them;
 * - a sweep whose date range holds no bar is refused naming both ranges;
 * - a sweep that finishes with failed jobs exits 3 and lists them. */
#include <fcntl.h>
#include <hdf5.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bt_store.h"
#include "sweep_fixture.h"

#define S_SO BT_BIN_DIR "/strategies/my_strategy.so"

static sfx_t f;

static void s_setup(void)
{
    sfx_setup(&f, "integrity");
}
static void s_teardown(void)
{
    bt_proc_kill_all();
}

TestSuite(integrity, .init = s_setup, .fini = s_teardown, .timeout = 240);

static int s_run(char *const argv[], const char *name)
{
    char log[400];
    sfx_path(log, sizeof log, &f, name);
    return bt_proc_run(argv, log, 120000);
}

static char *s_read(const char *name)
{
    char p[400];
    sfx_path(p, sizeof p, &f, name);
    return bt_proc_slurp(p, NULL);
}

/* Multiplies one close price of the store's first symbol by 1.01 in place,
 * with the HDF5 C API, leaving every attribute (content_sha256) as it was. */
static void s_edit_store_in_place(void)
{
    char **names = NULL;
    size_t n = 0;
    bt_errbuf_t eb;
    cr_assert_eq(bt_store_names(f.store, &names, &n, &eb), BT_OK, "%s", eb.msg);
    cr_assert_gt(n, 0);
    char dset[128];
    snprintf(dset, sizeof dset, "/%s/close", names[0]);
    bt_store_names_free(names, n);
    hid_t file = H5Fopen(f.store, H5F_ACC_RDWR, H5P_DEFAULT);
    cr_assert_geq(file, 0);
    hid_t d = H5Dopen2(file, dset, H5P_DEFAULT);
    cr_assert_geq(d, 0);
    hid_t fs = H5Dget_space(d);
    hsize_t at = 250, one = 1;
    cr_assert_geq(H5Sselect_hyperslab(fs, H5S_SELECT_SET, &at, NULL, &one, NULL), 0);
    hid_t ms = H5Screate_simple(1, &one, NULL);
    double v = 0;
    cr_assert_geq(H5Dread(d, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, &v), 0);
    v *= 1.01;
    cr_assert_geq(H5Dwrite(d, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, &v), 0);
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d);
    H5Fclose(file);
}

/* Before: --resume exited 0 and mixed rows of the old and the edited data. */
Test(integrity, store_edited_in_place_is_refused)
{
    char out[320];
    sfx_path(out, sizeof out, &f, "a");
    char *sweep[] = {f.bt, "sweep", f.cfg, "--out", out, "--workers", "1", NULL};
    cr_assert_eq(s_run(sweep, "a.log"), 0);
    s_edit_store_in_place();
    char *resume[] = {f.bt, "sweep", f.cfg, "--resume", out, "--workers", "1", NULL};
    cr_assert_eq(s_run(resume, "resume.log"), 2);
    cr_assert(sfx_log_has(&f, "resume", "changed after import"));
    /* a new sweep and a single run read the bars the same way */
    char out2[320];
    sfx_path(out2, sizeof out2, &f, "b");
    char *fresh[] = {f.bt, "sweep", f.cfg, "--out", out2, "--workers", "1", NULL};
    cr_assert_eq(s_run(fresh, "b.log"), 2);
    cr_assert(sfx_log_has(&f, "b", "changed after import"));
    /* a worker loads the data through the same check */
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    bt_dataset_t *ds = bt_dataset_load(f.store, NULL, 0, &eb);
    cr_assert_null(ds);
    cr_assert_eq(eb.code, BT_EDATA);
    cr_assert(strstr(eb.msg, "content_sha256"), "%s", eb.msg);
}

/* Before: rows of the new library were mixed into the old sweep. */
Test(integrity, strategy_library_swapped_before_resume_is_refused)
{
    char so[320], cfg[320], out[320];
    sfx_path(so, sizeof so, &f, "strat.so");
    sfx_path(cfg, sizeof cfg, &f, "lib.yaml");
    sfx_path(out, sizeof out, &f, "lib");
    char *cp[] = {"/bin/cp", S_SO, so, NULL};
    cr_assert_eq(bt_proc_run(cp, NULL, 10000), 0);
    FILE *c = fopen(cfg, "w");
    cr_assert(c);
    fprintf(c,
            "strategy: streak_reversal\nstrategy_library: %s\ndata:\n  store: %s\n"
            "params: {down: 3, hold: 4}\nsweep:\n  params.down: [2, 3, 4]\n",
            so, f.store);
    fclose(c);
    char *sweep[] = {f.bt, "sweep", cfg, "--out", out, "--workers", "1", NULL};
    cr_assert_eq(s_run(sweep, "lib.log"), 0);
    /* the same resume is fine (nothing left to do) */
    char *resume[] = {f.bt, "sweep", cfg, "--resume", out, "--workers", "1", NULL};
    cr_assert_eq(s_run(resume, "lib-same.log"), 0);
    /* other bytes in the library file (one byte appended: it still loads) */
    FILE *s = fopen(so, "ab");
    cr_assert(s);
    fputc(0, s);
    fclose(s);
    cr_assert_eq(s_run(resume, "lib-swapped.log"), 2);
    cr_assert(sfx_log_has(&f, "lib-swapped", "the strategy code changed"));
}

/* Before: no lock; the journal ended with more records than jobs. */
Test(integrity, second_coordinator_on_a_folder_is_refused)
{
    char ep[256], out[320];
    pid_t coord = sfx_start_coord(&f, "busy", "tcp://127.0.0.1:*", false, ep, sizeof ep);
    sfx_path(out, sizeof out, &f, "busy");
    char *resume[] = {f.bt, "sweep", f.cfg, "--resume", out, "--workers", "1", NULL};
    cr_assert_eq(s_run(resume, "second.log"), 2);
    char who[64];
    snprintf(who, sizeof who, "pid %ld host ", (long)coord);
    cr_assert(sfx_log_has(&f, "second", "in use by another coordinator"));
    cr_assert(sfx_log_has(&f, "second", who), "the message names the holder (%s)", who);
    /* killed: the lock file stays, its flock is gone; the next one takes over */
    cr_assert_eq(kill(coord, SIGKILL), 0);
    cr_assert_eq(bt_proc_wait(coord, 30000), 128 + SIGKILL);
    cr_assert_eq(s_run(resume, "third.log"), 0);
    cr_assert(sfx_log_has(&f, "third", "stale lock"));
    char lock[400];
    snprintf(lock, sizeof lock, "%s/bt.lock", out);
    struct stat st;
    cr_assert_eq(stat(lock, &st), 0);
    cr_assert_eq(st.st_size, 0, "released on exit");
}

/* The jobs of the journal record that holds file offset at: 1 for a single
 * record (journal versions 1 and 2), the group's record count for a
 * compressed group (versions 3 and 4: the results of one sync, at most 256).
 * The framing: u32 len | payload | u32 crc; a group's payload: u8 type (2 or
 * 3) | u32 count | ... (coordinator/journal/bt_jgroup.c). */
static int s_jobs_of_record_at(const char *jpath, off_t first, off_t at)
{
    int fd = open(jpath, O_RDONLY);
    cr_assert_geq(fd, 0);
    off_t pos = first;
    for (;;) {
        unsigned char h[9];
        cr_assert_eq(pread(fd, h, sizeof h, pos), (ssize_t)sizeof h, "no record at %ld", (long)at);
        off_t len = (off_t)(h[0] | h[1] << 8 | h[2] << 16 | (off_t)h[3] << 24);
        if (at < pos + 4 + len + 4) {
            close(fd);
            return h[4] == 2 || h[4] == 3 ? (int)(h[5] | h[6] << 8 | h[7] << 16 | h[8] << 24) : 1;
        }
        pos += 4 + len + 4;
    }
}

/* Before: every record after the flipped bit was cut as "a torn tail". Now
 * only the damaged record's jobs run again: one job for a single record,
 * the jobs of one group (the results of one sync) in a version-3 or 4 journal. */
Test(integrity, flipped_bit_in_the_journal_reruns_one_job)
{
    char out[320], jpath[400];
    sfx_path(out, sizeof out, &f, "flip");
    snprintf(jpath, sizeof jpath, "%s/journal.btj", out);
    char *sweep[] = {f.bt, "sweep", f.cfg, "--out", out, "--workers", "1", NULL};
    cr_assert_eq(s_run(sweep, "flip.log"), 0);
    char *before = s_read("flip/results.csv");
    cr_assert(before);
    struct stat st;
    cr_assert_eq(stat(jpath, &st), 0);
    /* header: magic(8) + u32 length + text + crc; then the records */
    unsigned char hl[4];
    int fd = open(jpath, O_RDWR);
    cr_assert_geq(fd, 0);
    cr_assert_eq(pread(fd, hl, 4, 8), 4);
    off_t first = 8 + 4 + (off_t)(hl[0] | hl[1] << 8 | hl[2] << 16) + 4;
    off_t at = first + (st.st_size - first) / 10;
    unsigned char b;
    cr_assert_eq(pread(fd, &b, 1, at), 1);
    b ^= 0x08;
    cr_assert_eq(pwrite(fd, &b, 1, at), 1);
    close(fd);
    int lost = s_jobs_of_record_at(jpath, first, at);
    cr_assert(lost >= 1 && lost <= 256 && lost < SFX_NJOBS, "%d jobs in the damaged record", lost);
    char *resume[] = {f.bt, "sweep", f.cfg, "--resume", out, "--workers", "1", NULL};
    cr_assert_eq(s_run(resume, "flip-resume.log"), 0);
    cr_assert(sfx_log_has(&f, "flip-resume", "1 damaged record(s)"));
    char want[128];
    snprintf(want, sizeof want, "%d jobs (%d ok, 0 failed, %d from the journal)", SFX_NJOBS,
             SFX_NJOBS, SFX_NJOBS - lost);
    cr_assert(sfx_log_has(&f, "flip-resume", want), "only the damaged record's %d job(s) run again",
              lost);
    char *after = s_read("flip/results.csv");
    cr_assert(after);
    cr_assert_str_eq(after, before);
    free(before);
    free(after);
}

/* Before: failed jobs were retried, recorded and the sweep exited 0. */
Test(integrity, failed_jobs_exit_3_and_are_listed)
{
    char cfg[320], out[320];
    sfx_path(cfg, sizeof cfg, &f, "fail.yaml");
    sfx_path(out, sizeof out, &f, "fail");
    FILE *c = fopen(cfg, "w");
    cr_assert(c);
    /* sma_cross refuses fast >= slow: job 2 (fast 40, slow 30) fails */
    fprintf(c,
            "strategy: sma_cross\ndata:\n  store: %s\nsweep:\n  params.fast: [5, 10, 40]\n"
            "  params.slow: [30]\n",
            f.store);
    fclose(c);
    char *sweep[] = {f.bt, "sweep", cfg, "--out", out, "--workers", "1", "--keep-invalid", NULL};
    cr_assert_eq(s_run(sweep, "fail.log"), 3);
    cr_assert(sfx_log_has(&f, "fail", "finished with 1 failed job(s) of 3"));
    cr_assert(sfx_log_has(&f, "fail", "fast (40) must be less than slow (30)"));
    char *csv = s_read("fail/failures.csv");
    cr_assert(csv);
    cr_assert_eq(strncmp(csv, "job_id,params.fast,params.slow,", 31), 0, "%s", csv);
    const char *row = strchr(csv, '\n') + 1;
    cr_assert_eq(strncmp(row, "2,40,30,", 8), 0, "%s", csv);
    cr_assert(strstr(row, ",failed,") && strstr(row, "fast (40)"), "%s", row);
    cr_assert_eq(strchr(row, '\n')[1], '\0', "one failed row only");
    free(csv);
    char *sum = s_read("fail/summary.txt");
    cr_assert(sum && strstr(sum, "1 failed") && strstr(sum, "job 2: "), "%s", sum);
    free(sum);
}

/* Before: fast >= slow points were retried three times each, exit 0. */
Test(integrity, points_the_strategy_refuses_are_refused_up_front)
{
    char cfg[320], out[320];
    sfx_path(cfg, sizeof cfg, &f, "bad.yaml");
    sfx_path(out, sizeof out, &f, "bad");
    FILE *c = fopen(cfg, "w");
    cr_assert(c);
    fprintf(c,
            "strategy: sma_cross\ndata:\n  store: %s\nsweep:\n  params.fast: [5, 30, 40]\n"
            "  params.slow: [20, 30]\n",
            f.store);
    fclose(c);
    char *sweep[] = {f.bt, "sweep", cfg, "--out", out, "--workers", "1", NULL};
    cr_assert_eq(s_run(sweep, "bad.log"), 2);
    /* (30,20) (30,30) (40,20) (40,30) fail; the first is point 2 */
    cr_assert(sfx_log_has(&f, "bad", "4 of 6 grid points would fail before any work"));
    cr_assert(sfx_log_has(&f, "bad", "point 2 (params.fast=30 params.slow=20)"));
    cr_assert(sfx_log_has(&f, "bad", "constraints: [\"params.fast < params.slow\"]"));
    struct stat st;
    cr_assert_neq(stat(out, &st), 0, "nothing was started: no output folder");
    /* with the suggested constraint the sweep runs the two valid points */
    c = fopen(cfg, "a");
    cr_assert(c);
    fprintf(c, "  constraints: [\"params.fast < params.slow\"]\n");
    fclose(c);
    cr_assert_eq(s_run(sweep, "bad2.log"), 0);
    cr_assert(sfx_log_has(&f, "bad2", "2 ok, 0 failed"));
}

/* Before: data.start after the last bar gave "ok" rows of all-zero metrics. */
Test(integrity, sweep_over_no_bar_is_refused)
{
    char cfg[320], out[320];
    sfx_path(cfg, sizeof cfg, &f, "empty.yaml");
    sfx_path(out, sizeof out, &f, "empty");
    FILE *c = fopen(cfg, "w");
    cr_assert(c);
    fprintf(c,
            "strategy: sma_cross\ndata:\n  store: %s\n  start: 2090-01-01\nsweep:\n"
            "  params.fast: [5, 10]\n  params.slow: [30]\n",
            f.store);
    fclose(c);
    char *sweep[] = {f.bt, "sweep", cfg, "--out", out, "--workers", "1", NULL};
    cr_assert_eq(s_run(sweep, "empty.log"), 2);
    cr_assert(sfx_log_has(&f, "empty", "no bar between 2090-01-01"));
    cr_assert(sfx_log_has(&f, "empty", "the data (2 symbols) runs from "));
    struct stat st;
    cr_assert_neq(stat(out, &st), 0, "nothing was started: no output folder");
}
