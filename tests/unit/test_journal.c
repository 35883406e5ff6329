/* Unit tests for coordinator/bt_journal: round trip, torn tails at every byte,
 * corruption, header mismatch, duplicates kept once by the report. Each test
 * works in its own mkdtemp folder under /tmp, removed at the end. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bt_jhead.h"
#include "bt_journal.h"
#include "bt_metrics.h"
#include "bt_log.h"
#include "bt_report.h"

#define HEADER "bt-sweep v1\nconfig_sha256=abc\ndata_hash=def\njobs=100\n"

static char s_dir[64];
static char s_path[128];
static bool s_grouped; /* s_write_n writes compressed groups (journal version 3) */

static void s_setup(void)
{
    bt_log_set_level(BT_LOG_ERROR); /* the torn-tail warnings are expected here */
    snprintf(s_dir, sizeof s_dir, "/tmp/bt_test_journal_XXXXXX");
    cr_assert_not_null(mkdtemp(s_dir));
    snprintf(s_path, sizeof s_path, "%s/%s", s_dir, BT_JOURNAL_FILE);
}

static void s_teardown(void)
{
    DIR *d = opendir(s_dir);
    if (d) {
        struct dirent *e;
        char p[512];
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.' && (e->d_name[1] == '\0' || strcmp(e->d_name, "..") == 0))
                continue;
            snprintf(p, sizeof p, "%s/%s", s_dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(s_dir);
}

TestSuite(journal, .init = s_setup, .fini = s_teardown);

/* A record whose every field depends on k, so a mix-up shows. */
static void s_make(bt_journal_rec_t *r, uint64_t k)
{
    memset(r, 0, sizeof *r);
    r->job_id = k * 7 + 1;
    r->attempt = (uint32_t)(k % 3) + 1;
    r->ok = k % 5 != 4;
    if (!r->ok)
        snprintf(r->error, sizeof r->error, "strategy error in job %llu: \"bad\", really",
                 (unsigned long long)r->job_id);
    r->nmetrics = 20;
    for (size_t i = 0; i < r->nmetrics; i++)
        r->metrics[i] = (double)k + (double)i / 3.0;
    r->metrics[3] = k == 2 ? NAN : r->metrics[3];
    r->metrics[4] = k == 3 ? -INFINITY : r->metrics[4];
    snprintf(r->worker, sizeof r->worker, "host-%llu:%d", (unsigned long long)k, 4242);
    r->run_us = 1000 + k;
    r->bars = 252 * (k + 1);
}

static void s_assert_same(const bt_journal_rec_t *a, const bt_journal_rec_t *b)
{
    cr_assert_eq(a->job_id, b->job_id);
    cr_assert_eq(a->attempt, b->attempt);
    cr_assert_eq(a->ok, b->ok);
    cr_assert_str_eq(a->error, b->error);
    cr_assert_eq(a->nmetrics, b->nmetrics);
    /* bit-exact, NaN included */
    cr_assert_eq(memcmp(a->metrics, b->metrics, a->nmetrics * sizeof(double)), 0);
    cr_assert_str_eq(a->worker, b->worker);
    cr_assert_eq(a->run_us, b->run_us);
    cr_assert_eq(a->bars, b->bars);
}

typedef struct {
    bt_journal_rec_t recs[64]; /* records seen by the callback */
    size_t n;                  /* how many */
} s_seen_t;

static void s_collect(void *user, const bt_journal_rec_t *r)
{
    s_seen_t *s = user;
    if (s->n < 64)
        s->recs[s->n] = *r;
    s->n++;
}

/* Creates the journal with n records (sync after each group of 3); returns the
 * file size after n - 1 records in *before_last. */
static off_t s_write_n(size_t n, off_t *before_last)
{
    bt_errbuf_t eb;
    bt_journal_t *j = bt_journal_open(s_dir, HEADER, false, &eb);
    cr_assert_not_null(j, "%s", eb.msg);
    bt_journal_set_grouped(j, s_grouped);
    bt_journal_rec_t r;
    for (size_t k = 0; k < n; k++) {
        if (k + 1 == n) {
            cr_assert_eq(bt_journal_sync(j, &eb), BT_OK);
            struct stat st;
            cr_assert_eq(stat(s_path, &st), 0);
            *before_last = st.st_size;
        }
        s_make(&r, k);
        cr_assert_eq(bt_journal_append(j, &r, &eb), BT_OK, "%s", eb.msg);
        if (k % 3 == 2)
            cr_assert_eq(bt_journal_sync(j, &eb), BT_OK);
    }
    cr_assert_eq(bt_journal_sync(j, &eb), BT_OK, "%s", eb.msg);
    cr_assert_eq(bt_journal_appended(j), n);
    bt_journal_close(&j);
    cr_assert_null(j);
    bt_journal_close(&j); /* safe twice */
    struct stat st;
    cr_assert_eq(stat(s_path, &st), 0);
    return st.st_size;
}

static void s_replay(s_seen_t *seen, uint64_t *truncated)
{
    bt_errbuf_t eb;
    bt_journal_t *j = bt_journal_open(s_dir, HEADER, true, &eb);
    cr_assert_not_null(j, "%s", eb.msg);
    seen->n = 0;
    cr_assert_eq(bt_journal_replay(j, s_collect, seen, &eb), BT_OK, "%s", eb.msg);
    cr_assert_eq(bt_journal_replayed(j), seen->n);
    if (truncated)
        *truncated = bt_journal_truncated_bytes(j);
    bt_journal_close(&j);
}

Test(journal, round_trip)
{
    off_t before_last;
    s_write_n(10, &before_last);
    s_seen_t seen;
    uint64_t cut;
    s_replay(&seen, &cut);
    cr_assert_eq(seen.n, 10);
    cr_assert_eq(cut, 0);
    for (size_t k = 0; k < 10; k++) {
        bt_journal_rec_t want;
        s_make(&want, k);
        s_assert_same(&seen.recs[k], &want);
    }
    cr_assert(isnan(seen.recs[2].metrics[3]));
    cr_assert(isinf(seen.recs[3].metrics[4]) && seen.recs[3].metrics[4] < 0);
}

Test(journal, append_after_resume_continues)
{
    off_t before_last;
    s_write_n(4, &before_last);
    bt_errbuf_t eb;
    bt_journal_t *j = bt_journal_open(s_dir, HEADER, true, &eb);
    cr_assert_not_null(j, "%s", eb.msg);
    bt_journal_rec_t r;
    s_make(&r, 4);
    /* resuming: appending before replay is refused (the tail may be torn) */
    cr_assert_neq(bt_journal_append(j, &r, &eb), BT_OK);
    cr_assert_eq(bt_journal_replay(j, NULL, NULL, &eb), BT_OK);
    cr_assert_eq(bt_journal_replayed(j), 4);
    cr_assert_eq(bt_journal_append(j, &r, &eb), BT_OK);
    bt_journal_close(&j); /* close syncs what is buffered */
    s_seen_t seen;
    s_replay(&seen, NULL);
    cr_assert_eq(seen.n, 5);
    s_assert_same(&seen.recs[4], &r);
}

/* Cuts the file at every byte offset inside the last record or group (as a
 * kill in the middle of write() can): replay must give the complete records
 * only, cut the tail, and let appending continue cleanly. grouped: records
 * in compressed groups (the last sync's group holds one record). */
static void s_torn_tail_every_offset(bool grouped)
{
    s_grouped = grouped;
    off_t before_last;
    off_t full = s_write_n(6, &before_last);
    cr_assert_gt(full, before_last);
    FILE *f = fopen(s_path, "rb");
    cr_assert_not_null(f);
    unsigned char *orig = malloc((size_t)full);
    cr_assert_eq(fread(orig, 1, (size_t)full, f), (size_t)full);
    fclose(f);
    for (off_t cut = before_last; cut < full; cut++) {
        f = fopen(s_path, "wb");
        cr_assert_not_null(f);
        cr_assert_eq(fwrite(orig, 1, (size_t)cut, f), (size_t)cut);
        fclose(f);
        bt_errbuf_t eb;
        bt_journal_t *j = bt_journal_open(s_dir, HEADER, true, &eb);
        cr_assert_not_null(j, "%s", eb.msg);
        s_seen_t seen = {.n = 0};
        cr_assert_eq(bt_journal_replay(j, s_collect, &seen, &eb), BT_OK);
        cr_assert_eq(seen.n, 5, "cut at %ld", (long)cut);
        cr_assert_eq(bt_journal_truncated_bytes(j), (uint64_t)(cut - before_last));
        bt_journal_set_grouped(j, grouped);
        bt_journal_rec_t r;
        s_make(&r, 40);
        cr_assert_eq(bt_journal_append(j, &r, &eb), BT_OK);
        cr_assert_eq(bt_journal_sync(j, &eb), BT_OK);
        bt_journal_close(&j);
        s_replay(&seen, NULL);
        cr_assert_eq(seen.n, 6, "cut at %ld", (long)cut);
        s_assert_same(&seen.recs[5], &r);
        for (size_t k = 0; k < 5; k++) {
            bt_journal_rec_t want;
            s_make(&want, k);
            s_assert_same(&seen.recs[k], &want);
        }
    }
    free(orig);
}

Test(journal, torn_tail_every_offset)
{
    s_torn_tail_every_offset(false);
}

static void s_flip_byte(off_t at)
{
    int fd = open(s_path, O_RDWR);
    cr_assert_geq(fd, 0);
    unsigned char b;
    cr_assert_eq(pread(fd, &b, 1, at), 1);
    b ^= 0x10;
    cr_assert_eq(pwrite(fd, &b, 1, at), 1);
    close(fd);
}

Test(journal, corrupt_record_stops_replay_there)
{
    off_t before_last;
    off_t full = s_write_n(6, &before_last);
    /* a bit flipped in the middle of the last record's payload */
    s_flip_byte(before_last + (full - before_last) / 2);
    s_seen_t seen;
    uint64_t cut;
    s_replay(&seen, &cut);
    cr_assert_eq(seen.n, 5);
    cr_assert_eq(cut, (uint64_t)(full - before_last));
    struct stat st;
    cr_assert_eq(stat(s_path, &st), 0);
    cr_assert_eq(st.st_size, before_last); /* tail cut */
}

/* Issue 10: one flipped bit 10 % into a journal used to cut every record
 * after it as "a torn tail". Now the damaged record alone is skipped
 * (counted), every other record is kept and nothing is truncated. Tried at
 * every byte of the damaged record, so a flip in the length, the payload or
 * the CRC all resync. */
Test(journal, flipped_bit_skips_one_record_only)
{
    const size_t n = 60, victim = n / 10;
    off_t before_last;
    off_t full = s_write_n(n, &before_last);
    FILE *f = fopen(s_path, "rb");
    cr_assert_not_null(f);
    unsigned char *orig = malloc((size_t)full);
    cr_assert_eq(fread(orig, 1, (size_t)full, f), (size_t)full);
    fclose(f);
    /* walk the frames: header = magic(8) + u32 n + text + crc; record = u32 len + len + crc */
    size_t at = 8 + 4 + (size_t)orig[8] + 4;
    for (size_t k = 0; k < victim; k++)
        at += 4 + (size_t)(orig[at] | (orig[at + 1] << 8)) + 4;
    size_t rec_len = 4 + (size_t)(orig[at] | (orig[at + 1] << 8)) + 4;
    for (size_t b = 0; b < rec_len; b++) {
        f = fopen(s_path, "wb");
        cr_assert_not_null(f);
        cr_assert_eq(fwrite(orig, 1, (size_t)full, f), (size_t)full);
        fclose(f);
        s_flip_byte((off_t)(at + b));
        bt_errbuf_t eb;
        bt_journal_t *j = bt_journal_open(s_dir, HEADER, true, &eb);
        cr_assert_not_null(j, "%s", eb.msg);
        s_seen_t seen = {.n = 0};
        cr_assert_eq(bt_journal_replay(j, s_collect, &seen, &eb), BT_OK, "%s", eb.msg);
        cr_assert_eq(seen.n, n - 1, "flip at byte %zu of record %zu", b, victim);
        cr_assert_eq(bt_journal_skipped_regions(j), 1);
        cr_assert_eq(bt_journal_skipped_bytes(j), rec_len);
        cr_assert_eq(bt_journal_truncated_bytes(j), 0);
        for (size_t k = 0, i = 0; k < n; k++) {
            if (k == victim)
                continue;
            bt_journal_rec_t want;
            s_make(&want, k);
            s_assert_same(&seen.recs[i++], &want);
        }
        /* appends continue at the end; the next replay skips the region again */
        bt_journal_rec_t r;
        s_make(&r, victim);
        cr_assert_eq(bt_journal_append(j, &r, &eb), BT_OK);
        bt_journal_close(&j);
        s_replay(&seen, NULL);
        cr_assert_eq(seen.n, n);
        s_assert_same(&seen.recs[n - 1], &r);
    }
    free(orig);
}

Test(journal, corrupt_checksum_byte)
{
    off_t before_last;
    off_t full = s_write_n(3, &before_last);
    s_flip_byte(full - 1); /* last byte of the last record's CRC */
    s_seen_t seen;
    s_replay(&seen, NULL);
    cr_assert_eq(seen.n, 2);
}

Test(journal, header_mismatch_on_resume)
{
    off_t before_last;
    s_write_n(2, &before_last);
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    bt_journal_t *j = bt_journal_open(s_dir, "bt-sweep v1\nconfig_sha256=XYZ\n", true, &eb);
    cr_assert_null(j);
    cr_assert_eq(eb.code, BT_ECONFIG);
    cr_assert(strstr(eb.msg, "config or the data changed") != NULL, "%s", eb.msg);
    cr_assert(strstr(eb.msg, "config_sha256=abc") != NULL, "%s", eb.msg);
}

Test(journal, new_sweep_into_used_folder_refused)
{
    off_t before_last;
    s_write_n(1, &before_last);
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    cr_assert_null(bt_journal_open(s_dir, HEADER, false, &eb));
    cr_assert_eq(eb.code, BT_EEXIST);
    cr_assert(strstr(eb.msg, "--resume") != NULL, "%s", eb.msg);
}

Test(journal, resume_without_journal)
{
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    cr_assert_null(bt_journal_open(s_dir, HEADER, true, &eb));
    cr_assert_eq(eb.code, BT_ENOTFOUND);
}

Test(journal, read_header)
{
    off_t before_last;
    s_write_n(1, &before_last);
    char buf[256];
    bt_errbuf_t eb;
    cr_assert_eq(bt_journal_read_header(s_dir, buf, sizeof buf, &eb), BT_OK, "%s", eb.msg);
    cr_assert_str_eq(buf, HEADER);
    cr_assert_eq(bt_journal_read_header(s_dir, buf, 8, &eb), BT_ELIMIT);
    cr_assert_eq(bt_journal_read_header("/nonexistent", buf, sizeof buf, &eb), BT_ENOTFOUND);
    s_flip_byte(12); /* first byte of the header text: CRC no longer matches */
    cr_assert_eq(bt_journal_read_header(s_dir, buf, sizeof buf, &eb), BT_EFORMAT);
}

Test(journal, torn_header_is_an_error)
{
    off_t before_last;
    s_write_n(1, &before_last);
    cr_assert_eq(truncate(s_path, 20), 0); /* inside the header */
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    cr_assert_null(bt_journal_open(s_dir, HEADER, true, &eb));
    cr_assert_eq(eb.code, BT_EFORMAT);
}

/* More than the 1 MiB buffer between syncs: written out early, still intact. */
Test(journal, large_group)
{
    bt_errbuf_t eb;
    bt_journal_t *j = bt_journal_open(s_dir, HEADER, false, &eb);
    cr_assert_not_null(j);
    bt_journal_rec_t r;
    const size_t n = 8000; /* ~200 bytes each -> ~1.6 MB */
    for (size_t k = 0; k < n; k++) {
        s_make(&r, k);
        cr_assert_eq(bt_journal_append(j, &r, &eb), BT_OK);
    }
    cr_assert_eq(bt_journal_sync(j, &eb), BT_OK);
    bt_journal_close(&j);
    s_seen_t seen;
    s_replay(&seen, NULL);
    cr_assert_eq(seen.n, n);
}

/* The journal may hold a job twice (e.g. two workers finished it before the
 * first record was acked); the report keeps one, the lower attempt. */
typedef struct {
    bt_report_t *rep;
} s_rep_user_t;

static void s_to_report(void *user, const bt_journal_rec_t *r)
{
    bt_report_set_result(((s_rep_user_t *)user)->rep, r);
}

Test(journal, duplicates_kept_once_by_report)
{
    bt_errbuf_t eb;
    bt_journal_t *j = bt_journal_open(s_dir, HEADER, false, &eb);
    cr_assert_not_null(j);
    bt_journal_rec_t r;
    memset(&r, 0, sizeof r);
    r.job_id = 1;
    r.ok = 1;
    r.nmetrics = 20;
    r.attempt = 2;
    r.metrics[4] = 2.0; /* sharpe of the attempt-2 record */
    cr_assert_eq(bt_journal_append(j, &r, &eb), BT_OK);
    r.attempt = 1;
    r.metrics[4] = 1.0; /* attempt 1: the one kept */
    cr_assert_eq(bt_journal_append(j, &r, &eb), BT_OK);
    r.job_id = 0;
    r.metrics[4] = 0.5;
    cr_assert_eq(bt_journal_append(j, &r, &eb), BT_OK);
    cr_assert_eq(bt_journal_sync(j, &eb), BT_OK);
    bt_journal_close(&j);

    const char *axes[] = {"strategy.fast"};
    s_rep_user_t u = {bt_report_new(2, 1, axes)};
    cr_assert_not_null(u.rep);
    j = bt_journal_open(s_dir, HEADER, true, &eb);
    cr_assert_not_null(j);
    cr_assert_eq(bt_journal_replay(j, s_to_report, &u, &eb), BT_OK);
    cr_assert_eq(bt_journal_replayed(j), 3);
    bt_journal_close(&j);
    uint64_t ok, failed, pending;
    bt_report_counts(u.rep, &ok, &failed, &pending);
    cr_assert_eq(ok, 2);
    cr_assert_eq(pending, 0);
    uint64_t best;
    double v;
    cr_assert(bt_report_best(u.rep, 4, true, &best, &v)); /* metric 4 = sharpe */
    cr_assert_eq(best, 1);
    cr_assert_eq(v, 1.0);
    bt_report_destroy(&u.rep);
}

/* ---- bt_jhead: the header's metric columns, by name ---- */

#define ID "config_sha256 abc\ndata_hash def\njobs 4\naxis params.fast 4\n"

/* Writes a journal whose header text is exactly text. */
static void s_journal_with(const char *text)
{
    bt_errbuf_t eb;
    bt_journal_t *j = bt_journal_open(s_dir, text, false, &eb);
    cr_assert_not_null(j, "%s", eb.msg);
    bt_journal_close(&j);
}

Test(journal, header_names_this_builds_metric_columns)
{
    bt_jhead_t h;
    bt_errbuf_t eb;
    cr_assert_eq(bt_jhead_make(&h, ID, &eb), BT_OK, "%s", eb.msg);
    /* version 4: version 2's header, records in compressed groups */
    cr_assert(strncmp(h.text, "bt sweep journal 4\n" ID "metrics final_equity,total_return,",
                      19 + strlen(ID) + 34) == 0,
              "%s", h.text);
    cr_assert_eq(h.version, 4);
    cr_assert_eq(h.ncols, bt_metrics_count());
    s_journal_with(h.text);
    bt_jhead_t back;
    cr_assert_eq(bt_jhead_load(&back, s_dir, ID, &eb), BT_OK, "%s", eb.msg);
    cr_assert_str_eq(back.text, h.text);
    cr_assert_eq(back.version, 4);
    for (size_t i = 0; i < bt_metrics_count(); i++)
        cr_assert_eq(back.col_of_metric[i], (int)i);
    /* Another sweep's identity is refused, naming what the journal holds. */
    cr_assert_eq(bt_jhead_load(&back, s_dir, "config_sha256 XYZ\n", &eb), BT_ECONFIG);
    cr_assert(strstr(eb.msg, "different sweep") && strstr(eb.msg, "config_sha256 abc"), "%s",
              eb.msg);
    /* a version-3 journal (the previous bt's) still loads, as version 3 */
    s_teardown();
    s_setup();
    char v3[BT_JOURNAL_MAX_HEADER + 1];
    memcpy(v3, h.text, sizeof v3);
    v3[17] = '3';
    s_journal_with(v3);
    cr_assert_eq(bt_jhead_load(&back, s_dir, ID, &eb), BT_OK, "%s", eb.msg);
    cr_assert_eq(back.version, 3);
    cr_assert_eq(back.ncols, bt_metrics_count());
}

/* Columns in another order, with one this build does not know: mapped by
 * name both ways; the unknown column is written as NaN. */
Test(journal, columns_are_mapped_by_name)
{
    char text[2048];
    int n = snprintf(text, sizeof text, "bt sweep journal 2\n" ID "metrics retired_metric");
    for (size_t i = bt_metrics_count(); i-- > 0;)
        n += snprintf(text + n, sizeof text - (size_t)n, ",%s", bt_metrics_name(i));
    snprintf(text + n, sizeof text - (size_t)n, "\n");
    s_journal_with(text);
    bt_jhead_t h;
    bt_errbuf_t eb;
    cr_assert_eq(bt_jhead_load(&h, s_dir, ID, &eb), BT_OK, "%s", eb.msg);
    cr_assert_eq(h.version, 2); /* a version-2 journal stays one (single records) */
    size_t nm = bt_metrics_count();
    cr_assert_eq(h.ncols, nm + 1);
    cr_assert_eq(h.metric_of_col[0], -1);
    /* column k (k >= 1) holds metric nm - k */
    bt_metrics_t m, back;
    for (size_t i = 0; i < nm; i++)
        bt_metrics_set(&m, i, (double)i + 0.5);
    double cols[BT_JOURNAL_MAX_METRICS];
    cr_assert_eq(bt_jhead_to_cols(&h, &m, cols), nm + 1);
    cr_assert(isnan(cols[0]));
    for (size_t k = 1; k <= nm; k++)
        cr_assert_eq(cols[k], (double)(nm - k) + 0.5);
    bt_jhead_from_cols(&h, cols, nm + 1, &back);
    cr_assert_eq(memcmp(&m, &back, sizeof m), 0);
}

/* A journal that lacks a metric this build computes cannot be resumed. */
Test(journal, journal_without_a_metric_is_refused_naming_it)
{
    char text[2048];
    int n = snprintf(text, sizeof text, "bt sweep journal 2\n" ID "metrics ");
    for (size_t i = 0; i + 1 < bt_metrics_count(); i++)
        n += snprintf(text + n, sizeof text - (size_t)n, "%s%s", i ? "," : "", bt_metrics_name(i));
    snprintf(text + n, sizeof text - (size_t)n, "\n");
    s_journal_with(text);
    bt_jhead_t h;
    bt_errbuf_t eb;
    cr_assert_eq(bt_jhead_load(&h, s_dir, ID, &eb), BT_ECONFIG);
    cr_assert(strstr(eb.msg, bt_metrics_name(bt_metrics_count() - 1)) != NULL, "%s", eb.msg);
}

/* Version 1 (no metric line): the 23 columns version 1 wrote, in its order;
 * an unknown version is refused. */
Test(journal, version_1_header_and_unknown_version)
{
    s_journal_with("bt sweep journal 1\n" ID);
    bt_jhead_t h;
    bt_errbuf_t eb;
    cr_assert_eq(bt_jhead_load(&h, s_dir, ID, &eb), BT_OK, "%s", eb.msg);
    cr_assert_eq(h.version, 1);
    cr_assert_eq(h.ncols, 23);
    cr_assert_eq(h.col_of_metric[bt_metrics_find("sharpe")], 4);
    cr_assert_eq(h.col_of_metric[bt_metrics_find("psr")], 22);
    s_teardown();
    s_setup();
    s_journal_with("bt sweep journal 9\n" ID);
    cr_assert_eq(bt_jhead_load(&h, s_dir, ID, &eb), BT_EVERSION);
    cr_assert(strstr(eb.msg, "journal 9") != NULL, "%s", eb.msg);
}

/* ---- grouped records (journal version 3) ---- */

/* s_make plus PBO block statistics: f32 form (count, mean, M2) on even k,
 * f64 (count, sum, sum of squares) on odd k, none on failed records. */
static void s_make_blk(bt_journal_rec_t *r, uint64_t k, bool f32)
{
    s_make(r, k);
    if (!r->ok)
        return;
    r->nblk = 3 * 16;
    r->blk_f32 = f32;
    for (uint32_t b = 0; b < 16; b++) {
        r->blk[3 * b] = 3125 + (b % 2);
        r->blk[3 * b + 1] = f32 ? (double)(float)(1e-4 * (double)(k + b)) : 0.1 * (double)k + b;
        r->blk[3 * b + 2] =
            f32 ? (double)(float)(0.3 + (double)b / 7.0) : 1.0 / (double)(k + b + 1);
    }
}

static void s_assert_same_blk(const bt_journal_rec_t *a, const bt_journal_rec_t *b)
{
    s_assert_same(a, b);
    cr_assert_eq(a->nblk, b->nblk);
    cr_assert_eq(a->blk_f32, b->blk_f32);
    cr_assert_eq(memcmp(a->blk, b->blk, a->nblk * sizeof(double)), 0, "job %llu",
                 (unsigned long long)a->job_id);
}

/* Every field comes back bit-exact from a group (NaN, -inf, errors, both
 * forms of block statistics, job ids that go down as well as up). */
Test(journal, grouped_round_trip)
{
    s_grouped = true;
    off_t before_last;
    s_write_n(10, &before_last);
    s_seen_t seen;
    uint64_t cut;
    s_replay(&seen, &cut);
    cr_assert_eq(seen.n, 10);
    cr_assert_eq(cut, 0);
    for (size_t k = 0; k < 10; k++) {
        bt_journal_rec_t want;
        s_make(&want, k);
        s_assert_same(&seen.recs[k], &want);
    }
    cr_assert(isnan(seen.recs[2].metrics[3]));

    bt_errbuf_t eb;
    bt_journal_t *j = bt_journal_open(s_dir, HEADER, true, &eb);
    cr_assert_not_null(j, "%s", eb.msg);
    cr_assert_eq(bt_journal_replay(j, NULL, NULL, &eb), BT_OK);
    bt_journal_set_grouped(j, true);
    static const uint64_t ids[] = {500, 3, 4, 1000000007ull, 2};
    bt_journal_rec_t r[5];
    for (size_t k = 0; k < 5; k++) {
        s_make_blk(&r[k], k + 20, k % 2 == 0);
        r[k].job_id = ids[k];
        cr_assert_eq(bt_journal_append(j, &r[k], &eb), BT_OK, "%s", eb.msg);
    }
    bt_journal_close(&j);
    s_replay(&seen, NULL);
    cr_assert_eq(seen.n, 15);
    for (size_t k = 0; k < 5; k++)
        s_assert_same_blk(&seen.recs[10 + k], &r[k]);
}

/* A version-2 journal (one record each) resumed and appended to in groups
 * reads back in order: replay takes both kinds in one file. */
Test(journal, grouped_after_single_records)
{
    s_grouped = false;
    off_t before_last;
    s_write_n(4, &before_last);
    bt_errbuf_t eb;
    bt_journal_t *j = bt_journal_open(s_dir, HEADER, true, &eb);
    cr_assert_not_null(j, "%s", eb.msg);
    cr_assert_eq(bt_journal_replay(j, NULL, NULL, &eb), BT_OK);
    bt_journal_set_grouped(j, true);
    bt_journal_rec_t r;
    for (size_t k = 4; k < 9; k++) {
        s_make(&r, k);
        cr_assert_eq(bt_journal_append(j, &r, &eb), BT_OK);
    }
    cr_assert_eq(bt_journal_sync(j, &eb), BT_OK);
    bt_journal_close(&j);
    s_seen_t seen;
    s_replay(&seen, NULL);
    cr_assert_eq(seen.n, 9);
    for (size_t k = 0; k < 9; k++) {
        bt_journal_rec_t want;
        s_make(&want, k);
        s_assert_same(&seen.recs[k], &want);
    }
}

/* f32 block statistics written to a version-2 journal (one record each)
 * come back as (count, sum, sum of squares) that the report turns into the
 * same floats. */
Test(journal, f32_blocks_in_a_single_record)
{
    bt_errbuf_t eb;
    bt_journal_t *j = bt_journal_open(s_dir, HEADER, false, &eb);
    cr_assert_not_null(j);
    bt_journal_rec_t r;
    s_make_blk(&r, 0, true);
    cr_assert_eq(bt_journal_append(j, &r, &eb), BT_OK);
    bt_journal_close(&j);
    s_seen_t seen;
    s_replay(&seen, NULL);
    cr_assert_eq(seen.n, 1);
    cr_assert_eq(seen.recs[0].blk_f32, 0);
    bt_journal_rec_t back = seen.recs[0];
    bt_report_blocks_f32(&back);
    cr_assert_eq(back.blk_f32, 1);
    for (uint32_t b = 0; b < 16; b++) {
        cr_assert_eq((float)back.blk[3 * b + 1], (float)r.blk[3 * b + 1], "mean %u", b);
        cr_assert_eq((float)back.blk[3 * b + 2], (float)r.blk[3 * b + 2], "M2 %u", b);
    }
}

/* A group torn at any byte (the last sync's group of one record) is cut;
 * the earlier groups stay and appending continues. */
Test(journal, grouped_torn_tail_every_offset)
{
    s_torn_tail_every_offset(true);
}

/* A flipped bit inside a group loses that group only (its records run
 * again); the groups after it are kept and nothing is truncated. Groups of
 * 3 (a sync after every third record). */
Test(journal, grouped_flipped_bit_skips_one_group)
{
    s_grouped = true;
    const size_t n = 30;
    off_t before_last;
    off_t full = s_write_n(n, &before_last);
    /* the file's middle lies in some group; every other group survives */
    s_flip_byte(full / 2);
    s_seen_t seen;
    uint64_t cut;
    s_replay(&seen, &cut);
    cr_assert_eq(cut, 0);
    cr_assert(seen.n >= n - 3 && seen.n < n, "%zu of %zu records", seen.n, n);
    cr_assert_eq(seen.recs[seen.n - 1].job_id, (n - 1) * 7 + 1);
}

/* More than one group's worth of raw bytes (1 MiB) before a sync: several
 * groups, all read back; the file is far smaller than one record each. */
Test(journal, grouped_large_group)
{
    bt_errbuf_t eb;
    bt_journal_t *j = bt_journal_open(s_dir, HEADER, false, &eb);
    cr_assert_not_null(j);
    bt_journal_set_grouped(j, true);
    bt_journal_rec_t r;
    const size_t n = 8000; /* ~600 raw bytes each -> ~4.8 MB raw */
    for (size_t k = 0; k < n; k++) {
        s_make_blk(&r, k, k % 2 == 0);
        cr_assert_eq(bt_journal_append(j, &r, &eb), BT_OK);
    }
    cr_assert_eq(bt_journal_sync(j, &eb), BT_OK);
    uint64_t bytes = bt_journal_file_bytes(j);
    bt_journal_close(&j);
    cr_assert_lt(bytes, n * 200, "%llu bytes for %zu records", (unsigned long long)bytes, n);
    s_seen_t seen;
    s_replay(&seen, NULL);
    cr_assert_eq(seen.n, n);
    bt_journal_rec_t want;
    s_make_blk(&want, 0, true);
    s_assert_same_blk(&seen.recs[0], &want);
    s_make_blk(&want, 63, false);
    s_assert_same_blk(&seen.recs[63], &want);
}

/* ---- version-4 groups: metrics predicted from the stored ones ---- */

/* A record holding what bt_macc_finish makes of a random run k (an equity
 * walk of 400 steps in and out of the market, trades, fills, 16 PBO blocks
 * in the report's float form), in the columns of header h. Every 37th run
 * has no trades; every 53rd a NaN where the model predicts (total_return),
 * every 59th a calmar one ulp off the model's: they must come back as
 * they are. */
static void s_make_real(bt_journal_rec_t *r, const bt_jhead_t *h, uint64_t k)
{
    memset(r, 0, sizeof *r);
    r->job_id = k;
    r->attempt = 1;
    r->ok = k % 41 != 40;
    snprintf(r->worker, sizeof r->worker, "w%llu", (unsigned long long)(k % 2));
    r->run_us = 50 + k % 7;
    r->bars = 400;
    if (!r->ok) {
        snprintf(r->error, sizeof r->error, "job %llu failed", (unsigned long long)k);
        return;
    }
    uint64_t x = 0x9E3779B97F4A7C15ull * (k + 1);
    bt_macc_t a;
    bt_macc_init(&a, 100000.0);
    bt_macc_set_blocks(&a, 400, 16);
    double eq = 100000.0;
    bool in = false;
    for (int i = 0; i < 400; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        double u = (double)(x >> 11) / 9007199254740992.0;
        if (in)
            eq *= 1.0 + (u - 0.49) * 0.04;
        if (k % 37 != 0 && (x >> 7) % 13 == 0) { /* a fill, and a trade when leaving */
            bt_macc_fill(&a, eq * 0.5, eq * 0.0005);
            if (in)
                bt_macc_trade(&a, (u - 0.45) * 3000.0);
            in = !in;
        }
        bt_macc_step(&a, (int64_t)i * 86400000000000ll, eq, in);
    }
    bt_metrics_t m;
    bt_macc_finish(&a, 0.0, 0.25, &m);
    r->nmetrics = bt_jhead_to_cols(h, &m, r->metrics);
    if (k % 53 == 5)
        r->metrics[h->col_of_metric[bt_metrics_find("total_return")]] = NAN;
    if (k % 59 == 7) {
        double *c = &r->metrics[h->col_of_metric[bt_metrics_find("calmar")]];
        *c = nextafter(*c, INFINITY);
    }
    r->nblk = 3 * bt_macc_blocks(&a, r->blk, BT_JOURNAL_MAX_BLK);
    bt_report_blocks_f32(r);
    if (k % 29 == 3 && r->nblk) /* a block count unlike the others' */
        r->blk[0] += 1.0;
}

/* Writes n real records into a new journal with header text, syncing every
 * 100; returns the file's bytes. */
static uint64_t s_write_real(const char *text, const bt_jhead_t *h, size_t n)
{
    bt_errbuf_t eb;
    bt_journal_t *j = bt_journal_open(s_dir, text, false, &eb);
    cr_assert_not_null(j, "%s", eb.msg);
    bt_journal_set_grouped(j, true);
    bt_journal_rec_t r;
    for (size_t k = 0; k < n; k++) {
        s_make_real(&r, h, k);
        cr_assert_eq(bt_journal_append(j, &r, &eb), BT_OK, "%s", eb.msg);
        if (k % 100 == 99)
            cr_assert_eq(bt_journal_sync(j, &eb), BT_OK, "%s", eb.msg);
    }
    cr_assert_eq(bt_journal_sync(j, &eb), BT_OK, "%s", eb.msg);
    uint64_t bytes = bt_journal_file_bytes(j);
    bt_journal_close(&j);
    return bytes;
}

typedef struct {
    const bt_jhead_t *h; /* the columns */
    size_t n;            /* records seen */
    size_t bad;          /* records not equal to the ones written */
} s_real_t;

static void s_check_real(void *user, const bt_journal_rec_t *r)
{
    s_real_t *u = user;
    bt_journal_rec_t want;
    s_make_real(&want, u->h, u->n++);
    if (r->job_id != want.job_id || r->ok != want.ok || r->nmetrics != want.nmetrics ||
        memcmp(r->metrics, want.metrics, want.nmetrics * sizeof(double)) != 0 ||
        r->nblk != want.nblk || r->blk_f32 != want.blk_f32 ||
        memcmp(r->blk, want.blk, want.nblk * sizeof(double)) != 0 ||
        strcmp(r->error, want.error) != 0 || r->bars != want.bars)
        u->bad++;
}

/* Real metrics come back bit-exact from version-4 groups, the ones the
 * model predicts included (and those it misses: NaN, one ulp off), and the
 * model pays: each metric it predicts exactly costs next to nothing instead
 * of ~7 bytes of noisy mantissa, so with the 6 predicted columns the file
 * is at least 20 bytes a record smaller than without them (a header with no
 * metrics line: every metric stored as it is). */
Test(journal, v4_groups_predict_metrics_bit_exact)
{
    bt_jhead_t h;
    bt_errbuf_t eb;
    cr_assert_eq(bt_jhead_make(&h, ID, &eb), BT_OK, "%s", eb.msg);
    const size_t n = 600;
    uint64_t with = s_write_real(h.text, &h, n);
    bt_journal_t *j = bt_journal_open(s_dir, h.text, true, &eb);
    cr_assert_not_null(j, "%s", eb.msg);
    s_real_t u = {.h = &h};
    cr_assert_eq(bt_journal_replay(j, s_check_real, &u, &eb), BT_OK, "%s", eb.msg);
    cr_assert_eq(bt_journal_skipped_regions(j), 0);
    bt_journal_close(&j);
    cr_assert_eq(u.n, n);
    cr_assert_eq(u.bad, 0, "%zu of %zu records differ", u.bad, n);

    s_teardown();
    s_setup();
    uint64_t without = s_write_real("bt sweep journal 4\n" ID, &h, n);
    cr_assert_lt(with + 20 * n, without, "%llu bytes with the model, %llu without",
                 (unsigned long long)with, (unsigned long long)without);
    j = bt_journal_open(s_dir, "bt sweep journal 4\n" ID, true, &eb);
    cr_assert_not_null(j, "%s", eb.msg);
    u.n = u.bad = 0;
    cr_assert_eq(bt_journal_replay(j, s_check_real, &u, &eb), BT_OK, "%s", eb.msg);
    bt_journal_close(&j);
    cr_assert_eq(u.n, n);
    cr_assert_eq(u.bad, 0);
}

/* A version-3 journal keeps writing version-3 groups (payload type 2), so
 * the bt that wrote it can still read what this one appends. */
Test(journal, v3_journal_keeps_v3_groups)
{
    bt_jhead_t h;
    bt_errbuf_t eb;
    cr_assert_eq(bt_jhead_make(&h, ID, &eb), BT_OK, "%s", eb.msg);
    char v3[BT_JOURNAL_MAX_HEADER + 1];
    memcpy(v3, h.text, sizeof v3);
    v3[17] = '3';
    const size_t n = 150;
    s_write_real(v3, &h, n);
    FILE *f = fopen(s_path, "rb");
    cr_assert_not_null(f);
    unsigned char b[8192];
    size_t got = fread(b, 1, sizeof b, f);
    fclose(f);
    size_t hl = b[8] | (size_t)b[9] << 8;
    cr_assert_gt(got, 12 + hl + 4 + 5);
    cr_assert_eq(b[12 + hl + 4 + 4], 2, "payload type %d", b[12 + hl + 4 + 4]);
    bt_journal_t *j = bt_journal_open(s_dir, v3, true, &eb);
    cr_assert_not_null(j, "%s", eb.msg);
    s_real_t u = {.h = &h};
    cr_assert_eq(bt_journal_replay(j, s_check_real, &u, &eb), BT_OK, "%s", eb.msg);
    bt_journal_close(&j);
    cr_assert_eq(u.n, n);
    cr_assert_eq(u.bad, 0);
}

/* Records of the journal file after its header: how many framed records
 * (a group is one), from the framing u32 len | payload | u32 crc. */
static size_t s_count_records(void)
{
    FILE *fp = fopen(s_path, "rb");
    cr_assert_not_null(fp);
    unsigned char h[12];
    cr_assert_eq(fread(h, 1, 12, fp), 12u); /* magic(8) + u32 header length */
    long pos = 12 + (long)(h[8] | h[9] << 8 | h[10] << 16 | (long)h[11] << 24) + 4;
    size_t n = 0;
    for (;;) {
        unsigned char l[4];
        if (fseek(fp, pos, SEEK_SET) != 0 || fread(l, 1, 4, fp) != 4)
            break;
        pos += 4 + (long)(l[0] | l[1] << 8 | l[2] << 16 | (long)l[3] << 24) + 4;
        n++;
    }
    fclose(fp);
    return n;
}

/* bt_journal_flush (session 6: the loop writes every turn's group, and syncs
 * at most every 100 ms): each flush closes the pending group and writes it
 * without a sync, the file grows by it, and every group comes back
 * bit-exact; the writer's one deflate state is reset between groups. */
Test(journal, grouped_flush_writes_each_group)
{
    bt_errbuf_t eb;
    bt_journal_t *j = bt_journal_open(s_dir, HEADER, false, &eb);
    cr_assert_not_null(j, "%s", eb.msg);
    cr_assert_eq(bt_journal_replay(j, NULL, NULL, &eb), BT_OK);
    bt_journal_set_grouped(j, true);
    bt_journal_rec_t r[20];
    uint64_t size = bt_journal_file_bytes(j);
    for (size_t g = 0; g < 4; g++) {
        for (size_t k = 0; k < 5; k++) {
            s_make_blk(&r[5 * g + k], 5 * g + k, (g + k) % 2 == 0);
            cr_assert_eq(bt_journal_append(j, &r[5 * g + k], &eb), BT_OK, "%s", eb.msg);
        }
        cr_assert_eq(bt_journal_file_bytes(j), size, "append alone writes nothing");
        cr_assert_eq(bt_journal_flush(j, &eb), BT_OK, "%s", eb.msg);
        struct stat st;
        cr_assert_eq(stat(s_path, &st), 0);
        cr_assert_gt(bt_journal_file_bytes(j), size, "group %zu written", g);
        cr_assert_eq((uint64_t)st.st_size, bt_journal_file_bytes(j));
        size = bt_journal_file_bytes(j);
        cr_assert_eq(bt_journal_flush(j, &eb), BT_OK, "nothing pending: a no-op");
        cr_assert_eq(bt_journal_file_bytes(j), size);
    }
    cr_assert_eq(bt_journal_sync(j, &eb), BT_OK, "%s", eb.msg);
    cr_assert_eq(bt_journal_file_bytes(j), size, "the sync had nothing left to write");
    bt_journal_close(&j);
    cr_assert_eq(s_count_records(), 4u, "one group per flush");
    s_seen_t seen;
    s_replay(&seen, NULL);
    cr_assert_eq(seen.n, 20);
    for (size_t k = 0; k < 20; k++)
        s_assert_same_blk(&seen.recs[k], &r[k]);
}
