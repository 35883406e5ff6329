/* bt_journal — see bt_journal.h and docs/sweep.md "Journal".
 *
 * File layout (all integers little-endian):
 *   file header: "BTJRNL1\n" | u32 n | n bytes of header text | u32 crc32c(all before)
 *   record:      u32 len | len bytes of payload | u32 crc32c(len field + payload)
 *   payload:     u8 type (1 = result) | u64 job_id | u32 attempt | u8 ok | u16 nmetrics |
 *                nmetrics x f64 (IEEE bits) | u64 run_us | u64 bars |
 *                u8 worker_len | worker bytes | u16 error_len | error bytes
 *                [u16 nblk | nblk x f64]   optional trailing block statistics (PBO);
 *                                          absent in older journals = none
 *   or a group of records (journal versions 3 and 4): see bt_jgroup.c.
 */
#include "bt_journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bt_buf.h"
#include "bt_jgroup.h"
#include "bt_jle.h"
#include "bt_log.h"

#define S_MAGIC "BTJRNL1\n"
#define S_MAGIC_LEN 8
#define S_REC_RESULT 1
#define S_V3_HEAD "bt sweep journal 3\n" /* a version-3 journal: its groups stay version 3 */
#define S_PAYLOAD_MIN (1 + 8 + 4 + 1 + 2 + 8 + 8 + 1 + 2)
#define S_PAYLOAD_MAX (S_PAYLOAD_MIN + 8 * BT_JOURNAL_MAX_METRICS + 255 + 65535)
#define S_FLUSH_AT (1u << 20) /* write the buffer out when it holds this much */
#define S_ANY_PAYLOAD_MAX                                                                          \
    (BT_JGROUP_PAYLOAD_MAX > S_PAYLOAD_MAX ? BT_JGROUP_PAYLOAD_MAX : S_PAYLOAD_MAX)

struct bt_journal {
    int fd;                   /* open journal file */
    char path[4096];          /* DIR/journal.btj */
    bool resume;              /* opened for resume */
    bool replayed;            /* replay done (required before append when resuming) */
    bt_err_t failed;          /* sticky: a write or fdatasync failed; nothing more is accepted */
    bt_buf_t buf;             /* encoded records not yet written (capped: one flush + one record) */
    uint64_t file_size;       /* bytes written to the file so far (good end) */
    uint64_t appended;        /* records appended this session */
    uint64_t replayed_n;      /* records replayed */
    uint64_t truncated;       /* bytes cut by replay */
    uint64_t skipped_regions; /* damaged regions skipped by replay (good records after them) */
    uint64_t skipped_bytes;   /* their bytes */
    bool grouped;             /* append into groups */
    int gtype;                /* their payload type: BT_JGROUP_V4, or _V3 for a version-3 journal */
    bt_jgroup_t *jg;          /* the pending group, and the decoder of groups */
    char *header;             /* the header text (bt_jgroup finds its metric columns there) */
};

/* ---- CRC-32C (Castagnoli), reflected, table-driven ---- */

static uint32_t s_crc_table[256];
static bool s_crc_ready;

static void s_crc_init(void)
{
    if (s_crc_ready)
        return;
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        s_crc_table[i] = c;
    }
    s_crc_ready = true;
}

static uint32_t s_crc32c(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    for (size_t i = 0; i < n; i++)
        crc = s_crc_table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

/* n doubles as their IEEE bits (NaN and infinities come back bit-exact). */
static uint8_t *s_put_f64s(uint8_t *p, const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++, p += 8)
        bt_jle_put_u64(p, bt_jle_bits(v[i]));
    return p;
}

static const uint8_t *s_get_f64s(const uint8_t *p, double *v, size_t n)
{
    for (size_t i = 0; i < n; i++, p += 8)
        v[i] = bt_jle_double(bt_jle_get_u64(p));
    return p;
}

/* ---- I/O helpers ---- */

static bt_err_t s_write_all(int fd, const uint8_t *p, size_t n, const char *path, bt_errbuf_t *eb)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return bt_errf(eb, BT_EIO, "%s: write failed: %s (is the disk full?)", path,
                           strerror(errno));
        }
        p += w;
        n -= (size_t)w;
    }
    return BT_OK;
}

/* Reads up to n bytes at the current offset; returns bytes read (short only at EOF) or -1. */
static ssize_t s_read_full(int fd, uint8_t *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

static void s_fsync_dir(const char *dir)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        if (fsync(dfd) != 0)
            bt_log(BT_LOG_WARN, "fsync of folder %s failed: %s", dir, strerror(errno));
        close(dfd);
    }
}

static void s_free(bt_journal_t *j)
{
    if (j->fd >= 0)
        close(j->fd);
    bt_buf_fini(&j->buf);
    bt_jgroup_destroy(&j->jg);
    free(j->header);
    free(j);
}

/* ---- header ---- */

static bt_err_t s_write_header(bt_journal_t *j, const char *header, bt_errbuf_t *eb)
{
    size_t hl = strlen(header);
    size_t n = S_MAGIC_LEN + 4 + hl + 4;
    uint8_t *p = malloc(n);
    if (!p)
        return bt_errf(eb, BT_ENOMEM, "out of memory writing the journal header");
    memcpy(p, S_MAGIC, S_MAGIC_LEN);
    bt_jle_put_u32(p + S_MAGIC_LEN, (uint32_t)hl);
    memcpy(p + S_MAGIC_LEN + 4, header, hl);
    bt_jle_put_u32(p + n - 4, s_crc32c(0, p, n - 4));
    bt_err_t e = s_write_all(j->fd, p, n, j->path, eb);
    free(p);
    if (e != BT_OK)
        return e;
    if (fdatasync(j->fd) != 0)
        return bt_errf(eb, BT_EIO, "%s: fdatasync failed: %s", j->path, strerror(errno));
    j->file_size = n;
    return BT_OK;
}

/* Reads the file header at fd's offset: magic, length, text, CRC. The text
 * goes into buf (NUL-terminated), its length into *hl. */
static bt_err_t s_read_header(int fd, const char *path, char *buf, size_t size, uint32_t *hl,
                              bt_errbuf_t *eb)
{
    uint8_t head[S_MAGIC_LEN + 4];
    ssize_t r = s_read_full(fd, head, sizeof head);
    if (r < 0)
        return bt_errf(eb, BT_EIO, "%s: read failed: %s", path, strerror(errno));
    *hl = r == (ssize_t)sizeof head ? bt_jle_get_u32(head + S_MAGIC_LEN) : 0;
    if ((size_t)r < sizeof head || memcmp(head, S_MAGIC, S_MAGIC_LEN) != 0 ||
        *hl > BT_JOURNAL_MAX_HEADER)
        return bt_errf(eb, BT_EFORMAT,
                       "%s is not a Back Tester journal (or its header was never completed); "
                       "start the sweep again without --resume into a new --out folder",
                       path);
    if ((size_t)*hl + 1 > size)
        return bt_errf(eb, BT_ELIMIT, "%s: header of %u bytes does not fit in %zu", path, *hl,
                       size);
    uint8_t crc[4];
    if (s_read_full(fd, (uint8_t *)buf, *hl) != (ssize_t)*hl || s_read_full(fd, crc, 4) != 4 ||
        bt_jle_get_u32(crc) != s_crc32c(s_crc32c(0, head, sizeof head), (const uint8_t *)buf, *hl))
        return bt_errf(eb, BT_EFORMAT,
                       "%s: the journal header is torn or corrupt; start the sweep again "
                       "without --resume into a new --out folder",
                       path);
    buf[*hl] = '\0';
    return BT_OK;
}

static bt_err_t s_check_header(bt_journal_t *j, const char *header, bt_errbuf_t *eb)
{
    char was[BT_JOURNAL_MAX_HEADER + 1];
    uint32_t hl = 0;
    bt_err_t e = s_read_header(j->fd, j->path, was, sizeof was, &hl, eb);
    if (e != BT_OK)
        return e;
    if (strcmp(was, header) != 0) {
        if (hl > 511)
            was[511] = '\0';
        for (char *c = was; *c; c++)
            if (*c == '\n')
                *c = ' ';
        return bt_errf(eb, BT_ECONFIG,
                       "%s was written for a different sweep (the config or the data changed "
                       "since it started): journal has [%s]; restore the original config and "
                       "data to resume, or run without --resume into a new --out folder",
                       j->path, was);
    }
    j->file_size = S_MAGIC_LEN + 4 + (uint64_t)hl + 4;
    return BT_OK;
}

bt_err_t bt_journal_read_header(const char *dir, char *buf, size_t size, bt_errbuf_t *eb)
{
    s_crc_init();
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/%s", dir, BT_JOURNAL_FILE);
    if (n < 0 || (size_t)n >= sizeof path)
        return bt_errf(eb, BT_EINVAL, "output folder path too long: %s", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return bt_errf(eb, errno == ENOENT ? BT_ENOTFOUND : BT_EIO, "cannot open %s: %s", path,
                       strerror(errno));
    uint32_t hl = 0;
    bt_err_t e = s_read_header(fd, path, buf, size, &hl, eb);
    close(fd);
    return e;
}

/* Creates the journal file (a new sweep) or opens it for appending (resume). */
static bt_err_t s_open_file(bt_journal_t *j, const char *dir, bool resume, bt_errbuf_t *eb)
{
    j->fd = resume ? open(j->path, O_RDWR | O_APPEND | O_CLOEXEC)
                   : open(j->path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
    if (j->fd >= 0)
        return BT_OK;
    if (!resume && errno == EEXIST)
        return bt_errf(eb, BT_EEXIST,
                       "%s already holds a sweep journal: pass --resume %s to continue that "
                       "sweep, or choose another --out folder",
                       dir, dir);
    if (resume && errno == ENOENT)
        return bt_errf(eb, BT_ENOTFOUND,
                       "--resume %s: no journal there (%s); give the --out folder of the sweep "
                       "to resume, or start a new sweep without --resume",
                       dir, BT_JOURNAL_FILE);
    return bt_errf(eb, BT_EIO, "cannot %s %s: %s", resume ? "open" : "create", j->path,
                   strerror(errno));
}

bt_journal_t *bt_journal_open(const char *dir, const char *header, bool resume, bt_errbuf_t *eb)
{
    s_crc_init();
    if (strlen(header) > BT_JOURNAL_MAX_HEADER) {
        bt_errf(eb, BT_EINVAL, "journal header longer than %d bytes", BT_JOURNAL_MAX_HEADER);
        return NULL;
    }
    bt_journal_t *j = calloc(1, sizeof *j);
    if (!j) {
        bt_errf(eb, BT_ENOMEM, "out of memory opening the journal");
        return NULL;
    }
    j->fd = -1;
    j->resume = resume;
    bt_buf_init(&j->buf, S_FLUSH_AT + 4 + S_ANY_PAYLOAD_MAX + 4);
    /* a version-3 journal keeps writing version-3 groups; any other, version 4 */
    j->gtype = strncmp(header, S_V3_HEAD, strlen(S_V3_HEAD)) == 0 ? BT_JGROUP_V3 : BT_JGROUP_V4;
    j->header = strdup(header);
    j->jg = bt_jgroup_new(j->gtype, header);
    if (!j->header || !j->jg) {
        bt_errf(eb, BT_ENOMEM, "out of memory opening the journal");
        s_free(j);
        return NULL;
    }
    int n = snprintf(j->path, sizeof j->path, "%s/%s", dir, BT_JOURNAL_FILE);
    if (n < 0 || (size_t)n >= sizeof j->path) {
        bt_errf(eb, BT_EINVAL, "output folder path too long: %s", dir);
        s_free(j);
        return NULL;
    }
    if (s_open_file(j, dir, resume, eb) != BT_OK) {
        s_free(j);
        return NULL;
    }
    if (!resume) {
        if (s_write_header(j, header, eb) != BT_OK) {
            unlink(j->path);
            s_free(j);
            return NULL;
        }
        s_fsync_dir(dir);
        j->replayed = true;
        return j;
    }
    if (s_check_header(j, header, eb) != BT_OK) {
        s_free(j);
        return NULL;
    }
    return j;
}

/* ---- records ---- */

static size_t s_bounded_len(const char *s, size_t cap)
{
    size_t n = 0;
    while (n < cap && s[n])
        n++;
    return n;
}

/* Writes the buffered records (no fdatasync); a failure is sticky. */
static bt_err_t s_flush(bt_journal_t *j, bt_errbuf_t *eb)
{
    if (j->buf.len == 0)
        return BT_OK;
    bt_err_t e = s_write_all(j->fd, (const uint8_t *)j->buf.data, j->buf.len, j->path, eb);
    if (e != BT_OK) {
        j->failed = e;
        return e;
    }
    j->file_size += j->buf.len;
    bt_buf_reset(&j->buf);
    return BT_OK;
}

/* Turns the pending group into one framed record in j->buf. */
static bt_err_t s_group_close(bt_journal_t *j, bt_errbuf_t *eb)
{
    if (bt_jgroup_pending(j->jg) == 0)
        return BT_OK;
    if (bt_buf_reserve(&j->buf, 4) != BT_OK)
        return bt_errf(eb, BT_ENOMEM, "out of memory buffering journal records");
    size_t at = j->buf.len;
    j->buf.len += 4;
    bt_err_t e = bt_jgroup_close(j->jg, &j->buf, eb);
    if (e == BT_OK && bt_buf_reserve(&j->buf, 4) != BT_OK)
        e = bt_errf(eb, BT_ENOMEM, "out of memory buffering journal records");
    if (e != BT_OK) {
        j->buf.len = at;
        return e;
    }
    uint8_t *rec = (uint8_t *)j->buf.data + at;
    size_t plen = j->buf.len - at - 4;
    bt_jle_put_u32(rec, (uint32_t)plen);
    bt_jle_put_u32(rec + 4 + plen, s_crc32c(0, rec, 4 + plen));
    j->buf.len += 4;
    j->buf.data[j->buf.len] = '\0'; /* bt_buf's invariant; the records are binary */
    return BT_OK;
}

/* Adds r to the pending group, closing it first when r does not fit. */
static bt_err_t s_group_add(bt_journal_t *j, const bt_journal_rec_t *r, bt_errbuf_t *eb)
{
    if (!bt_jgroup_fits(j->jg, r)) {
        bt_err_t e = s_group_close(j, eb);
        if (e != BT_OK)
            return e;
    }
    return bt_jgroup_add(j->jg, r, eb);
}

void bt_journal_set_grouped(bt_journal_t *j, bool on)
{
    j->grouped = on;
}

uint64_t bt_journal_file_bytes(const bt_journal_t *j)
{
    return j->file_size;
}

bt_err_t bt_journal_append(bt_journal_t *j, const bt_journal_rec_t *r, bt_errbuf_t *eb)
{
    /* API misuse: when resuming, the torn tail must be cut before appending. */
    if (!j->replayed)
        return bt_errf(eb, BT_EINTERNAL, "journal: bt_journal_replay must run before appending");
    if (j->failed != BT_OK)
        return bt_errf(eb, j->failed, "%s: an earlier write failed; the sweep must stop", j->path);
    if (j->grouped) {
        bt_err_t e = s_group_add(j, r, eb);
        if (e == BT_OK)
            j->appended++;
        return e != BT_OK ? e : j->buf.len >= S_FLUSH_AT ? s_flush(j, eb) : BT_OK;
    }
    bt_journal_rec_t back;
    if (r->blk_f32 && r->nblk % 3 == 0 && r->nblk <= BT_JOURNAL_MAX_BLK) {
        /* A version 1/2 record has no f32 form (the driver only makes it for
         * grouped journals): back to (count, sum, sum of squares). */
        back = *r;
        for (uint32_t b = 0; b < r->nblk / 3; b++) {
            double n = r->blk[3 * b], m = r->blk[3 * b + 1], q = r->blk[3 * b + 2];
            back.blk[3 * b + 1] = n * m;
            back.blk[3 * b + 2] = q + n * m * m;
        }
        back.blk_f32 = 0;
        r = &back;
    }
    size_t nm = r->nmetrics <= BT_JOURNAL_MAX_METRICS ? r->nmetrics : BT_JOURNAL_MAX_METRICS;
    size_t wl = s_bounded_len(r->worker, sizeof r->worker - 1);
    size_t el = s_bounded_len(r->error, sizeof r->error - 1);
    size_t nb = r->nblk <= BT_JOURNAL_MAX_BLK ? r->nblk : 0;
    size_t plen = S_PAYLOAD_MIN + 8 * nm + wl + el + (nb ? 2 + 8 * nb : 0);
    if (bt_buf_reserve(&j->buf, 4 + plen + 4) != BT_OK)
        return bt_errf(eb, BT_ENOMEM, "out of memory buffering journal records");
    uint8_t *rec = (uint8_t *)j->buf.data + j->buf.len;
    uint8_t *p = rec;
    bt_jle_put_u32(p, (uint32_t)plen);
    p += 4;
    *p++ = S_REC_RESULT;
    bt_jle_put_u64(p, r->job_id);
    p += 8;
    bt_jle_put_u32(p, r->attempt);
    p += 4;
    *p++ = r->ok ? 1 : 0;
    bt_jle_put_u16(p, (uint16_t)nm);
    p += 2;
    p = s_put_f64s(p, r->metrics, nm);
    bt_jle_put_u64(p, r->run_us);
    p += 8;
    bt_jle_put_u64(p, r->bars);
    p += 8;
    *p++ = (uint8_t)wl;
    memcpy(p, r->worker, wl);
    p += wl;
    bt_jle_put_u16(p, (uint16_t)el);
    p += 2;
    memcpy(p, r->error, el);
    p += el;
    if (nb) {
        bt_jle_put_u16(p, (uint16_t)nb);
        p = s_put_f64s(p + 2, r->blk, nb);
    }
    bt_jle_put_u32(p, s_crc32c(0, rec, 4 + plen));
    j->buf.len += 4 + plen + 4;
    j->buf.data[j->buf.len] = '\0'; /* bt_buf's invariant; the records are binary */
    j->appended++;
    return j->buf.len >= S_FLUSH_AT ? s_flush(j, eb) : BT_OK;
}

bt_err_t bt_journal_flush(bt_journal_t *j, bt_errbuf_t *eb)
{
    if (j->failed != BT_OK)
        return bt_errf(eb, j->failed, "%s: an earlier write failed; the sweep must stop", j->path);
    bt_err_t e = s_group_close(j, eb);
    return e == BT_OK ? s_flush(j, eb) : e;
}

bt_err_t bt_journal_sync(bt_journal_t *j, bt_errbuf_t *eb)
{
    if (j->failed != BT_OK)
        return bt_errf(eb, j->failed, "%s: an earlier write failed; the sweep must stop", j->path);
    bt_err_t e = s_group_close(j, eb);
    if (e == BT_OK)
        e = s_flush(j, eb);
    if (e != BT_OK)
        return e;
    /* Sticky on failure: after a failed fdatasync the kernel may have dropped the
     * dirty pages, so a later successful call proves nothing (PostgreSQL, 2018). */
    if (fdatasync(j->fd) != 0) {
        j->failed = BT_EIO;
        return bt_errf(eb, BT_EIO,
                       "%s: fdatasync failed: %s; results since the last sync are "
                       "not durable, the sweep must stop",
                       j->path, strerror(errno));
    }
    return BT_OK;
}

/* Decodes one payload; false if it is not a well-formed result record. */
static bool s_decode(const uint8_t *p, size_t n, bt_journal_rec_t *r)
{
    if (n < S_PAYLOAD_MIN || p[0] != S_REC_RESULT)
        return false;
    const uint8_t *end = p + n;
    p++;
    memset(r, 0, sizeof *r);
    r->job_id = bt_jle_get_u64(p);
    p += 8;
    r->attempt = bt_jle_get_u32(p);
    p += 4;
    if (*p > 1)
        return false;
    r->ok = *p++;
    size_t nm = bt_jle_get_u16(p);
    p += 2;
    if (nm > BT_JOURNAL_MAX_METRICS || (size_t)(end - p) < 8 * nm + 8 + 8 + 1)
        return false;
    r->nmetrics = nm;
    p = s_get_f64s(p, r->metrics, nm);
    r->run_us = bt_jle_get_u64(p);
    p += 8;
    r->bars = bt_jle_get_u64(p);
    p += 8;
    size_t wl = *p++;
    if (wl >= sizeof r->worker || (size_t)(end - p) < wl + 2)
        return false;
    memcpy(r->worker, p, wl);
    p += wl;
    size_t el = bt_jle_get_u16(p);
    p += 2;
    if (el >= sizeof r->error || (size_t)(end - p) < el)
        return false;
    memcpy(r->error, p, el);
    p += el;
    if (p == end)
        return true; /* no block statistics (or a journal written before they existed) */
    if ((size_t)(end - p) < 2)
        return false;
    size_t nb = bt_jle_get_u16(p);
    p += 2;
    if (nb == 0 || nb > BT_JOURNAL_MAX_BLK || (size_t)(end - p) != 8 * nb)
        return false;
    r->nblk = (uint32_t)nb;
    s_get_f64s(p, r->blk, nb);
    return true;
}

bt_err_t bt_journal_replay(bt_journal_t *j, void (*fn)(void *user, const bt_journal_rec_t *r),
                           void *user, bt_errbuf_t *eb)
{
    if (!j->resume || j->replayed) {
        j->replayed = true;
        return BT_OK;
    }
    struct stat st;
    if (fstat(j->fd, &st) != 0)
        return bt_errf(eb, BT_EIO, "%s: stat failed: %s", j->path, strerror(errno));
    uint64_t size = (uint64_t)st.st_size;
    if (lseek(j->fd, (off_t)j->file_size, SEEK_SET) < 0)
        return bt_errf(eb, BT_EIO, "%s: seek failed: %s", j->path, strerror(errno));

    /* Stream through the file with a window buffer holding at least one whole record. */
    size_t cap = S_FLUSH_AT + 4 + S_ANY_PAYLOAD_MAX + 4;
    uint8_t *win = malloc(cap);
    if (!win)
        return bt_errf(eb, BT_ENOMEM, "out of memory replaying the journal");
    size_t have = 0, pos = 0;     /* bytes in win, parse position in win */
    uint64_t off = j->file_size;  /* file offset of win[pos] */
    uint64_t good = j->file_size; /* file offset after the last good record */
    bool eof = false;
    bool bad = false; /* scanning for the next good record after a bad one */
    uint64_t bad_at = 0;
    bt_journal_rec_t rec;
    for (;;) {
        if (!eof && have - pos < 4 + S_ANY_PAYLOAD_MAX + 4) {
            memmove(win, win + pos, have - pos);
            have -= pos;
            pos = 0;
            ssize_t r = s_read_full(j->fd, win + have, cap - have);
            if (r < 0) {
                free(win);
                return bt_errf(eb, BT_EIO, "%s: read failed: %s", j->path, strerror(errno));
            }
            have += (size_t)r;
            eof = have < cap;
        }
        size_t avail = have - pos;
        if (avail < 4)
            break;
        uint32_t len = bt_jle_get_u32(win + pos);
        uint8_t type = avail > 4 ? win[pos + 4] : 0;
        bool group = type == BT_JGROUP_V3 || type == BT_JGROUP_V4;
        size_t maxlen = group ? BT_JGROUP_PAYLOAD_MAX : S_PAYLOAD_MAX;
        uint64_t nrec = 1;
        if (len < (group ? BT_JGROUP_HEAD_MIN : S_PAYLOAD_MIN) || len > maxlen ||
            avail < (size_t)len + 8 ||
            bt_jle_get_u32(win + pos + 4 + len) != s_crc32c(0, win + pos, 4 + (size_t)len) ||
            (group ? !bt_jgroup_walk(j->jg, win + pos + 4, len, NULL, NULL, &nrec)
                   : !s_decode(win + pos + 4, len, &rec))) {
            /* Not a record here: resync by trying the next byte. A false match
             * needs a length in range, a matching CRC-32C and a valid payload. */
            if (!bad) {
                bad = true;
                bad_at = off;
            }
            pos++;
            off++;
            continue;
        }
        if (bad) { /* good records follow a damaged region: skip it, keep them */
            bad = false;
            j->skipped_regions++;
            j->skipped_bytes += off - bad_at;
            bt_log(BT_LOG_WARN,
                   "%s: skipped %llu damaged bytes at offset %llu (after %llu good records); "
                   "the job(s) recorded there run again",
                   j->path, (unsigned long long)(off - bad_at), (unsigned long long)bad_at,
                   (unsigned long long)j->replayed_n);
        }
        if (group) /* valid: inflate again and hand the records over */
            bt_jgroup_walk(j->jg, win + pos + 4, len, fn, user, NULL);
        else if (fn)
            fn(user, &rec);
        j->replayed_n += nrec;
        pos += (size_t)len + 8;
        off += (uint64_t)len + 8;
        good = off;
    }
    free(win);
    if (good < size) { /* only a tail with no good record after it is cut */
        j->truncated = size - good;
        bt_log(BT_LOG_WARN, "%s: cutting %llu bytes of torn or corrupt tail after %llu records",
               j->path, (unsigned long long)j->truncated, (unsigned long long)j->replayed_n);
        if (ftruncate(j->fd, (off_t)good) != 0 || fdatasync(j->fd) != 0)
            return bt_errf(eb, BT_EIO, "%s: cannot cut the torn tail: %s", j->path,
                           strerror(errno));
    }
    j->file_size = good;
    j->replayed = true;
    return BT_OK;
}

uint64_t bt_journal_appended(const bt_journal_t *j)
{
    return j->appended;
}

uint64_t bt_journal_replayed(const bt_journal_t *j)
{
    return j->replayed_n;
}

uint64_t bt_journal_truncated_bytes(const bt_journal_t *j)
{
    return j->truncated;
}

uint64_t bt_journal_skipped_regions(const bt_journal_t *j)
{
    return j->skipped_regions;
}

uint64_t bt_journal_skipped_bytes(const bt_journal_t *j)
{
    return j->skipped_bytes;
}

const char *bt_journal_path(const bt_journal_t *j)
{
    return j->path;
}

void bt_journal_close(bt_journal_t **j_p)
{
    if (!j_p || !*j_p)
        return;
    bt_journal_t *j = *j_p;
    if (j->replayed && j->failed == BT_OK && (j->buf.len > 0 || bt_jgroup_pending(j->jg) > 0)) {
        bt_errbuf_t eb;
        bt_errbuf_clear(&eb);
        if (bt_journal_sync(j, &eb) != BT_OK)
            bt_log(BT_LOG_ERROR, "%s", eb.msg);
    }
    s_free(j);
    *j_p = NULL;
}
