/* Fuzz target for the journal's record reader (coordinator/journal/
 * bt_journal.c, bt_jgroup.c): single records (versions 1, 2) and compressed
 * groups (versions 3 and 4, the latter with and without its metric model)
 * after a valid header.
 *
 * LLVMFuzzerTestOneInput writes a journal file whose records area is the
 * input, replays it and checks every record handed over (lengths within
 * their arrays, strings terminated, block statistics in range); replay must
 * succeed whatever the bytes (bad regions are skipped or cut), then a record
 * appended after it must come back from a second replay. The same bytes
 * are also decoded as a group whose raw (inflated) bytes they are
 * (s_walk_raw: the CRC and deflate no longer shield the decoder of the
 * sections). Any violation aborts.
 *
 * Built with BT_FUZZ_REPLAY defined: a plain program replaying the files or
 * directories given (ctest: tests/fuzz/corpus/journal). ok-* files must give
 * at least one record and no damaged region; bad-* files must give none;
 * other names must only not crash. `fuzz_journal_replay --write-corpus DIR`
 * writes the seed corpus. With -DBT_FUZZ=ON and clang: `fuzz_journal`. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "bt_jgroup.h"
#include "bt_journal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* the metrics line names the columns version 4's model predicts from */
#define S_METRICS                                                                                  \
    "metrics final_equity,total_return,cagr,volatility,sharpe,sortino,max_drawdown,"               \
    "max_drawdown_duration,calmar,trades,win_rate,avg_win,avg_loss,profit_factor,expectancy,"      \
    "exposure,turnover,commission,rejected_orders,benchmark_return,skewness,kurtosis,psr\n"
#define S_HEADER "bt sweep journal fuzz\n" S_METRICS
#define S_HEADER_V3 "bt sweep journal 3\n" S_METRICS /* writes version-3 groups */

static char s_dir[64];
static uint64_t s_seen;

static void s_die(const char *what)
{
    fprintf(stderr, "fuzz_journal: %s\n", what);
    abort();
}

static void s_check(void *user, const bt_journal_rec_t *r)
{
    (void)user;
    if (r->nmetrics > BT_JOURNAL_MAX_METRICS || r->nblk > BT_JOURNAL_MAX_BLK || r->ok > 1)
        s_die("a record out of range");
    if (!memchr(r->error, 0, sizeof r->error) || !memchr(r->worker, 0, sizeof r->worker))
        s_die("a string without its terminator");
    if (r->blk_f32 && r->nblk % 3)
        s_die("f32 block statistics not in threes");
    s_seen++;
}

/* The header bytes of a journal holding S_HEADER (from the writer itself). */
static void s_path(char *p, size_t cap)
{
    snprintf(p, cap, "%s/%s", s_dir, BT_JOURNAL_FILE);
}

static void s_setup(void)
{
    if (s_dir[0])
        return;
    snprintf(s_dir, sizeof s_dir, "/tmp/bt_fuzz_journal_XXXXXX");
    if (!mkdtemp(s_dir))
        s_die("mkdtemp");
}

/* Writes a fresh journal whose records area is data; returns the skipped
 * regions of its replay (-1 if the replay failed). *n: records seen. */
static long s_run(const uint8_t *data, size_t size, uint64_t *n)
{
    char p[128];
    s_path(p, sizeof p);
    unlink(p);
    bt_errbuf_t eb;
    bt_journal_t *j = bt_journal_open(s_dir, S_HEADER, false, &eb);
    if (!j)
        s_die(eb.msg);
    bt_journal_close(&j);
    FILE *f = fopen(p, "ab");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
        s_die("cannot write the journal");
    j = bt_journal_open(s_dir, S_HEADER, true, &eb);
    if (!j)
        s_die(eb.msg);
    s_seen = 0;
    if (bt_journal_replay(j, s_check, NULL, &eb) != BT_OK)
        s_die(eb.msg);
    long skipped = (long)bt_journal_skipped_regions(j);
    *n = s_seen;
    /* appending continues cleanly after whatever was cut */
    bt_journal_rec_t r;
    memset(&r, 0, sizeof r);
    r.job_id = 42;
    r.ok = 1;
    r.nmetrics = 1;
    bt_journal_set_grouped(j, size % 2 == 0);
    if (bt_journal_append(j, &r, &eb) != BT_OK || bt_journal_sync(j, &eb) != BT_OK)
        s_die(eb.msg);
    bt_journal_close(&j);
    j = bt_journal_open(s_dir, S_HEADER, true, &eb);
    if (!j)
        s_die(eb.msg);
    s_seen = 0;
    if (bt_journal_replay(j, s_check, NULL, &eb) != BT_OK || s_seen != *n + 1)
        s_die("the appended record did not come back");
    bt_journal_close(&j);
    return skipped;
}

/* data as a group payload's header (19 bytes for type 2, else 52) and its
 * raw bytes: deflated, the raw length set, and decoded. */
static void s_walk_raw(const uint8_t *data, size_t size)
{
    static bt_jgroup_t *g;
    size_t head = size && data[0] == BT_JGROUP_V3 ? 19 : 52;
    if (size < head || size - head > 65536)
        return;
    if (!g)
        g = bt_jgroup_new(BT_JGROUP_V4, NULL);
    uLongf zl = compressBound((uLong)(size - head));
    uint8_t *pl = malloc(head + zl);
    if (!g || !pl || compress2(pl + head, &zl, data + head, (uLong)(size - head), 1) != Z_OK)
        s_die("out of memory");
    memcpy(pl, data, head);
    uint32_t raw = (uint32_t)(size - head);
    for (int i = 0; i < 4; i++)
        pl[5 + i] = (uint8_t)(raw >> (8 * i));
    uint64_t n = 0, before = s_seen;
    if (bt_jgroup_walk(g, pl, head + zl, s_check, NULL, &n) && s_seen - before != n)
        s_die("a group handed over another number of records than it holds");
    free(pl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s_setup();
    uint64_t n;
    s_run(data, size, &n);
    s_walk_raw(data, size);
    return 0;
}

#ifdef BT_FUZZ_REPLAY
/* The records area of a journal with header text written with these
 * records (grouped or not; nmet metrics: 23 turn version 4's model on,
 * their derived columns computed as the metric code does), into out
 * (malloc'd). */
static uint8_t *s_records(const char *header, bool grouped, size_t nrec, size_t nmet, size_t *len)
{
    s_setup();
    char p[128];
    s_path(p, sizeof p);
    unlink(p);
    bt_errbuf_t eb;
    bt_journal_t *j = bt_journal_open(s_dir, header, false, &eb);
    if (!j)
        s_die(eb.msg);
    uint64_t head = bt_journal_file_bytes(j);
    bt_journal_set_grouped(j, grouped);
    for (size_t k = 0; k < nrec; k++) {
        bt_journal_rec_t r;
        memset(&r, 0, sizeof r);
        r.job_id = 3 * k + 1;
        r.attempt = 1 + (uint32_t)(k % 2);
        r.ok = k % 4 != 3;
        if (!r.ok)
            snprintf(r.error, sizeof r.error, "job %zu failed", k);
        snprintf(r.worker, sizeof r.worker, "w%zu", k % 2);
        r.nmetrics = r.ok ? nmet : 0;
        for (size_t i = 0; i < r.nmetrics; i++)
            r.metrics[i] = (double)k / 7.0 + (double)i;
        if (r.nmetrics >= 23) { /* final_equity, total_return, trades, win_rate as made */
            r.metrics[0] = 100000.0 * (1.0 + (double)k / 7.0);
            r.metrics[1] = r.metrics[0] / 100000.0 - 1.0;
            r.metrics[9] = (double)(k % 9);
            r.metrics[10] = k % 9 ? (double)(k % 4) / (double)(k % 9) : 0.0;
        }
        r.nblk = r.ok ? 12 : 0;
        r.blk_f32 = k % 2;
        for (uint32_t b = 0; b < r.nblk; b++)
            r.blk[b] = b % 3 == 0 ? 10.0 : (double)(float)(0.01 * (double)(k + b));
        r.run_us = 100 + k;
        r.bars = 500;
        if (bt_journal_append(j, &r, &eb) != BT_OK)
            s_die(eb.msg);
        if (k % 3 == 2 && bt_journal_sync(j, &eb) != BT_OK)
            s_die(eb.msg);
    }
    bt_journal_close(&j);
    FILE *f = fopen(p, "rb");
    struct stat st;
    if (!f || stat(p, &st) != 0)
        s_die("cannot read the journal back");
    *len = (size_t)st.st_size - (size_t)head;
    uint8_t *out = malloc(*len ? *len : 1);
    if (!out || fseek(f, (long)head, SEEK_SET) != 0 || fread(out, 1, *len, f) != *len)
        s_die("cannot read the records");
    fclose(f);
    return out;
}

static int s_write(const char *dir, const char *name, const uint8_t *d, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(d, 1, n, f) != n) || fclose(f) != 0) {
        fprintf(stderr, "fuzz_journal: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int s_write_corpus(const char *dir)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return -1;
    int rc = 0;
    size_t n;
    static const struct {
        const char *header, *ok, *torn, *flipped;
        size_t nmet;
    } groups[] = {
        {S_HEADER_V3, "ok-groups", "bad-group-torn", "flipped-group", 5},
        {S_HEADER, "ok-groups4", "bad-group4-torn", "flipped-group4", 5},
        {S_HEADER, "ok-groups4-model", "bad-group4-model-torn", "flipped-group4-model", 23},
    };
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++) {
        uint8_t *g = s_records(groups[i].header, true, 7, groups[i].nmet, &n);
        rc |= s_write(dir, groups[i].ok, g, n);
        rc |= s_write(dir, groups[i].torn, g, n > 20 ? 20 : n / 2);
        uint8_t *flip = malloc(n);
        memcpy(flip, g, n);
        flip[n / 2] ^= 0x40;
        rc |= s_write(dir, groups[i].flipped, flip, n); /* some groups survive */
        free(flip);
        free(g);
    }
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++) { /* raw: s_walk_raw */
        uint8_t *gr = s_records(groups[i].header, true, 3, groups[i].nmet, &n);
        size_t head = gr[4] == BT_JGROUP_V3 ? 19 : 52; /* after the u32 length */
        uint32_t raw = (uint32_t)gr[9] | (uint32_t)gr[10] << 8 | (uint32_t)gr[11] << 16;
        uint32_t plen = (uint32_t)gr[0] | (uint32_t)gr[1] << 8 | (uint32_t)gr[2] << 16;
        uint8_t *out = malloc(head + raw);
        uLongf got = raw;
        if (!out || uncompress(out + head, &got, gr + 4 + head, plen - head) != Z_OK)
            s_die("cannot inflate a group");
        memcpy(out, gr + 4, head);
        char name[64];
        snprintf(name, sizeof name, "raw-%s", groups[i].ok + 3);
        rc |= s_write(dir, name, out, head + raw);
        free(out);
        free(gr);
    }
    uint8_t *g = s_records(S_HEADER, false, 5, 5, &n);
    rc |= s_write(dir, "ok-single", g, n);
    rc |= s_write(dir, "bad-single-torn", g, 30);
    free(g);
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0x7f, 2, 0, 0, 0, 0};
    rc |= s_write(dir, "bad-junk", junk, sizeof junk);
    return rc;
}

static int s_replay_file(const char *path, const char *name)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *d = malloc(len > 0 ? (size_t)len : 1);
    if (!d || (len > 0 && fread(d, 1, (size_t)len, f) != (size_t)len)) {
        fclose(f);
        free(d);
        return -1;
    }
    fclose(f);
    s_setup();
    uint64_t n = 0;
    long skipped = s_run(d, (size_t)len, &n);
    free(d);
    if (strncmp(name, "ok-", 3) == 0 && (n == 0 || skipped != 0)) {
        fprintf(stderr, "fuzz_journal: %s: %llu records, %ld damaged regions\n", path,
                (unsigned long long)n, skipped);
        return -1;
    }
    if (strncmp(name, "bad-", 4) == 0 && n != 0) {
        fprintf(stderr, "fuzz_journal: %s: %llu records from a bad file\n", path,
                (unsigned long long)n);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-corpus") == 0)
        return s_write_corpus(argv[2]) == 0 ? 0 : 1;
    int bad = 0, files = 0;
    for (int i = 1; i < argc; i++) {
        DIR *d = opendir(argv[i]);
        if (!d) {
            const char *base = strrchr(argv[i], '/');
            bad |= s_replay_file(argv[i], base ? base + 1 : argv[i]);
            files++;
            continue;
        }
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char p[4096];
            snprintf(p, sizeof p, "%s/%s", argv[i], e->d_name);
            bad |= s_replay_file(p, e->d_name);
            files++;
        }
        closedir(d);
    }
    char p[128];
    s_path(p, sizeof p);
    unlink(p);
    if (s_dir[0])
        rmdir(s_dir);
    printf("fuzz_journal_replay: %d file(s), %s\n", files, bad ? "FAILED" : "ok");
    return bad || files == 0 ? 1 : 0;
}
#endif
