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
 *   or a group of records (journal version 3): see "grouped records" below.
 */
#include "bt_journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "bt_buf.h"
#include "bt_log.h"

#define S_MAGIC "BTJRNL1\n"
#define S_MAGIC_LEN 8
#define S_REC_RESULT 1
#define S_PAYLOAD_MIN (1 + 8 + 4 + 1 + 2 + 8 + 8 + 1 + 2)
#define S_PAYLOAD_MAX (S_PAYLOAD_MIN + 8 * BT_JOURNAL_MAX_METRICS + 255 + 65535)
#define S_FLUSH_AT (1u << 20) /* write the buffer out when it holds this much */
#define S_ZLEVEL 1    /* deflate level of record groups: 6 saves ~2 bytes a result at 3x the CPU */
#define S_REC_GROUP 2 /* payload type of a group of records (version 3) */
#define S_GHEAD (1 + 4 + 4 + 4 + 2 + 2 + 2)
#define S_GROUP_RAW_MAX (1u << 20)
/* records per group: a damaged group's jobs all run again, so keep it small
 * (deflate gains next to nothing beyond ~64 records of byte planes) */
#define S_GROUP_MAX_RECS 256
#define S_ZBOUND(n) ((n) + ((n) >> 12) + ((n) >> 14) + ((n) >> 25) + 13)
#define S_GROUP_PAYLOAD_MAX (S_GHEAD + S_ZBOUND(S_GROUP_RAW_MAX + 65536))
#define S_REC_RAW_MAX                                                                              \
    (8 * 10 + 1 + 1 + 255 + 5 + 255 + 8 * BT_JOURNAL_MAX_METRICS + 8 * BT_JOURNAL_MAX_BLK)
#define S_ANY_PAYLOAD_MAX                                                                          \
    (S_GROUP_PAYLOAD_MAX > S_PAYLOAD_MAX ? S_GROUP_PAYLOAD_MAX : S_PAYLOAD_MAX)

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
    /* grouped records (version 3): the pending group, field by field */
    bool grouped;            /* append into groups */
    bt_buf_t ga, gb, gc, gd; /* sections A (per record), B (metrics), C, D (blocks) rows */
    bt_buf_t graw;           /* a group's raw bytes (A + byte planes), to deflate or inflated */
    size_t g_nrec;           /* records in the pending group */
    size_t g_rows_b, g_rows_c, g_rows_d; /* rows of B, C, D */
    size_t g_nmet, g_nblk64, g_sblk32;   /* the group's shape (0 = not set yet) */
    uint64_t g_last;                     /* previous job id + 1 (job ids are delta coded) */
    bt_journal_rec_t grec;               /* a decoded record of a group */
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

/* ---- little-endian helpers ---- */

static void s_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void s_put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void s_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* n doubles as their IEEE bits (NaN and infinities come back bit-exact). */
static uint8_t *s_put_f64s(uint8_t *p, const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++, p += 8) {
        uint64_t bits;
        memcpy(&bits, &v[i], 8);
        s_put_u64(p, bits);
    }
    return p;
}

static uint16_t s_get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t s_get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t s_get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static const uint8_t *s_get_f64s(const uint8_t *p, double *v, size_t n)
{
    for (size_t i = 0; i < n; i++, p += 8) {
        uint64_t bits = s_get_u64(p);
        memcpy(&v[i], &bits, 8);
    }
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
    bt_buf_fini(&j->ga);
    bt_buf_fini(&j->gb);
    bt_buf_fini(&j->gc);
    bt_buf_fini(&j->gd);
    bt_buf_fini(&j->graw);
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
    s_put_u32(p + S_MAGIC_LEN, (uint32_t)hl);
    memcpy(p + S_MAGIC_LEN + 4, header, hl);
    s_put_u32(p + n - 4, s_crc32c(0, p, n - 4));
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
    *hl = r == (ssize_t)sizeof head ? s_get_u32(head + S_MAGIC_LEN) : 0;
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
        s_get_u32(crc) != s_crc32c(s_crc32c(0, head, sizeof head), (const uint8_t *)buf, *hl))
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
    bt_buf_init(&j->ga, S_GROUP_RAW_MAX + S_REC_RAW_MAX);
    bt_buf_init(&j->gb, S_GROUP_RAW_MAX + S_REC_RAW_MAX);
    bt_buf_init(&j->gc, S_GROUP_RAW_MAX + S_REC_RAW_MAX);
    bt_buf_init(&j->gd, S_GROUP_RAW_MAX + S_REC_RAW_MAX);
    bt_buf_init(&j->graw, S_GROUP_RAW_MAX + 65536 + S_REC_RAW_MAX);
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

/* ---- grouped records (journal version 3) ----
 *
 * payload: u8 type (2) | u32 nrec | u32 raw_len | u32 a_len | u16 nmet |
 *          u16 nblk64 | u16 sblk32 | zlib stream of raw_len bytes:
 *   A: per record, in order: varint zigzag(job_id - previous job_id - 1) |
 *      varint attempt | u8 flags (bit 0 ok, bits 1-2 blocks: 0 none, 1 f64,
 *      2 f32) | varint nmetrics (0 or nmet) | varint run_us | varint bars |
 *      u8 worker_len | worker | varint error_len | error
 *   B: metrics of the records with nmetrics = nmet: rows of nmet x f64 bits,
 *      stored transposed (byte k of every row, then byte k + 1, ...), so
 *      the exponent and high mantissa bytes of similar numbers sit together
 *   C: f64 block statistics (nblk64 per row), transposed likewise
 *   D: f32 block statistics (sblk32 blocks per row: u32 count, f32 mean, f32
 *      M2 per block), transposed likewise
 * Every number keeps its exact bits (floats only for what the report keeps
 * as float anyway). A group holds records of one shape (nmet, blocks), at
 * most S_GROUP_MAX_RECS of them. */

static uint8_t *s_put_varint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static bool s_get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return true;
        }
    }
    return false;
}

/* The block kind of a record: 0 none, 1 f64, 2 f32 (count, mean, M2). */
static int s_blk_kind(const bt_journal_rec_t *r)
{
    if (r->nblk == 0 || r->nblk > BT_JOURNAL_MAX_BLK)
        return 0;
    return r->blk_f32 && r->nblk % 3 == 0 ? 2 : 1;
}

/* Turns the pending group into one framed record in j->buf. */
static bt_err_t s_group_close(bt_journal_t *j, bt_errbuf_t *eb)
{
    if (j->g_nrec == 0)
        return BT_OK;
    size_t rb = j->g_rows_b, rc = j->g_rows_c, rd = j->g_rows_d;
    size_t wb = 8u * j->g_nmet, wc = 8u * j->g_nblk64, wd = 12u * j->g_sblk32;
    size_t raw = j->ga.len + rb * wb + rc * wc + rd * wd;
    if (bt_buf_reserve(&j->graw, raw) != BT_OK)
        return bt_errf(eb, BT_ENOMEM, "out of memory compressing journal records");
    uint8_t *o = (uint8_t *)j->graw.data;
    memcpy(o, j->ga.data, j->ga.len);
    o += j->ga.len;
    const bt_buf_t *src[3] = {&j->gb, &j->gc, &j->gd};
    size_t rows[3] = {rb, rc, rd}, width[3] = {wb, wc, wd};
    for (int s = 0; s < 3; s++) { /* byte planes: column c of every row */
        const uint8_t *m = (const uint8_t *)src[s]->data;
        for (size_t c = 0; c < width[s]; c++)
            for (size_t r = 0; r < rows[s]; r++)
                *o++ = m[r * width[s] + c];
    }
    uLongf zl = (uLongf)compressBound((uLong)raw);
    size_t plen = S_GHEAD + (size_t)zl;
    if (bt_buf_reserve(&j->buf, 4 + plen + 4) != BT_OK)
        return bt_errf(eb, BT_ENOMEM, "out of memory buffering journal records");
    uint8_t *rec = (uint8_t *)j->buf.data + j->buf.len;
    uint8_t *p = rec + 4;
    if (compress2(p + S_GHEAD, &zl, (const Bytef *)j->graw.data, (uLong)raw, S_ZLEVEL) != Z_OK)
        return bt_errf(eb, BT_EINTERNAL, "journal: deflate failed");
    plen = S_GHEAD + (size_t)zl;
    s_put_u32(rec, (uint32_t)plen);
    *p++ = S_REC_GROUP;
    s_put_u32(p, (uint32_t)j->g_nrec);
    s_put_u32(p + 4, (uint32_t)raw);
    s_put_u32(p + 8, (uint32_t)j->ga.len);
    s_put_u16(p + 12, (uint16_t)j->g_nmet);
    s_put_u16(p + 14, (uint16_t)j->g_nblk64);
    s_put_u16(p + 16, (uint16_t)j->g_sblk32);
    s_put_u32(rec + 4 + plen, s_crc32c(0, rec, 4 + plen));
    j->buf.len += 4 + plen + 4;
    j->buf.data[j->buf.len] = '\0';
    bt_buf_reset(&j->ga);
    bt_buf_reset(&j->gb);
    bt_buf_reset(&j->gc);
    bt_buf_reset(&j->gd);
    j->g_nrec = j->g_rows_b = j->g_rows_c = j->g_rows_d = 0;
    j->g_nmet = j->g_nblk64 = j->g_sblk32 = 0;
    j->g_last = 0;
    return BT_OK;
}

/* Adds r to the pending group (closing it first when r's shape differs or
 * it is full). */
static bt_err_t s_group_add(bt_journal_t *j, const bt_journal_rec_t *r, bt_errbuf_t *eb)
{
    size_t nm = r->nmetrics <= BT_JOURNAL_MAX_METRICS ? r->nmetrics : BT_JOURNAL_MAX_METRICS;
    int kind = s_blk_kind(r);
    size_t nb = kind ? r->nblk : 0;
    bool fits = (nm == 0 || j->g_nmet == 0 || j->g_nmet == nm) &&
                (kind != 1 || j->g_nblk64 == 0 || j->g_nblk64 == nb) &&
                (kind != 2 || j->g_sblk32 == 0 || j->g_sblk32 == nb / 3) &&
                j->ga.len + j->gb.len + j->gc.len + j->gd.len + S_REC_RAW_MAX <= S_GROUP_RAW_MAX &&
                j->g_nrec < S_GROUP_MAX_RECS;
    if (!fits) {
        bt_err_t e = s_group_close(j, eb);
        if (e != BT_OK)
            return e;
    }
    if (bt_buf_reserve(&j->ga, 8 * 10 + 1 + 1 + 255 + 5 + 255) != BT_OK ||
        bt_buf_reserve(&j->gb, 8 * nm) != BT_OK ||
        bt_buf_reserve(&j->gc, kind == 1 ? 8 * nb : 0) != BT_OK ||
        bt_buf_reserve(&j->gd, kind == 2 ? 4 * nb : 0) != BT_OK)
        return bt_errf(eb, BT_ENOMEM, "out of memory buffering journal records");
    uint8_t *p0 = (uint8_t *)j->ga.data + j->ga.len, *p = p0;
    int64_t d = (int64_t)(r->job_id - j->g_last);
    p = s_put_varint(p, ((uint64_t)d << 1) ^ (uint64_t)(d >> 63));
    j->g_last = r->job_id + 1;
    p = s_put_varint(p, r->attempt);
    *p++ = (uint8_t)((r->ok ? 1 : 0) | kind << 1);
    p = s_put_varint(p, nm);
    p = s_put_varint(p, r->run_us);
    p = s_put_varint(p, r->bars);
    size_t wl = s_bounded_len(r->worker, sizeof r->worker - 1);
    size_t el = s_bounded_len(r->error, sizeof r->error - 1);
    *p++ = (uint8_t)wl;
    memcpy(p, r->worker, wl);
    p += wl;
    p = s_put_varint(p, el);
    memcpy(p, r->error, el);
    p += el;
    j->ga.len += (size_t)(p - p0);
    if (nm) {
        s_put_f64s((uint8_t *)j->gb.data + j->gb.len, r->metrics, nm);
        j->gb.len += 8 * nm;
        j->g_nmet = nm;
        j->g_rows_b++;
    }
    if (kind == 1) {
        s_put_f64s((uint8_t *)j->gc.data + j->gc.len, r->blk, nb);
        j->gc.len += 8 * nb;
        j->g_nblk64 = nb;
        j->g_rows_c++;
    } else if (kind == 2) {
        size_t sb = nb / 3;
        uint8_t *q = (uint8_t *)j->gd.data + j->gd.len;
        for (size_t b = 0; b < sb; b++) {
            double n = r->blk[3 * b];
            s_put_u32(q + 4 * b, n >= 0 && n < 4294967296.0 ? (uint32_t)n : 0);
            for (int k = 1; k <= 2; k++) {
                float f = (float)r->blk[3 * b + k];
                uint32_t bits;
                memcpy(&bits, &f, 4);
                s_put_u32(q + 4 * (k * sb + b), bits);
            }
        }
        j->gd.len += 12 * sb;
        j->g_sblk32 = sb;
        j->g_rows_d++;
    }
    j->g_nrec++;
    /* bt_buf's invariant (NUL after the content); the bytes are binary */
    j->ga.data[j->ga.len] = '\0';
    if (j->gb.data)
        j->gb.data[j->gb.len] = '\0';
    if (j->gc.data)
        j->gc.data[j->gc.len] = '\0';
    if (j->gd.data)
        j->gd.data[j->gd.len] = '\0';
    return BT_OK;
}

/* Walks a group payload: validates every record and, when fn is set, hands
 * each over in order. false: not a well-formed group. */
static bool s_group_walk(bt_journal_t *j, const uint8_t *pl, size_t n,
                         void (*fn)(void *user, const bt_journal_rec_t *r), void *user,
                         uint64_t *count)
{
    if (n < S_GHEAD || pl[0] != S_REC_GROUP)
        return false;
    uint32_t nrec = s_get_u32(pl + 1), raw = s_get_u32(pl + 5), alen = s_get_u32(pl + 9);
    size_t nmet = s_get_u16(pl + 13), nb64 = s_get_u16(pl + 15), sb32 = s_get_u16(pl + 17);
    if (nrec == 0 || raw > S_GROUP_RAW_MAX + 65536 || alen > raw || nmet > BT_JOURNAL_MAX_METRICS ||
        nb64 > BT_JOURNAL_MAX_BLK || 3 * sb32 > BT_JOURNAL_MAX_BLK)
        return false;
    if (bt_buf_reserve(&j->graw, raw) != BT_OK)
        return false;
    uLongf got = raw;
    if (uncompress((Bytef *)j->graw.data, &got, pl + S_GHEAD, (uLong)(n - S_GHEAD)) != Z_OK ||
        got != raw)
        return false;
    const uint8_t *a = (const uint8_t *)j->graw.data, *aend = a + alen;
    /* first pass: rows per section, so the byte planes can be found */
    size_t rb = 0, rc = 0, rd = 0;
    for (int pass = 0; pass < 2; pass++) {
        const uint8_t *p = a;
        const uint8_t *B = a + alen, *C = B + rb * 8 * nmet, *D = C + rc * 8 * nb64;
        if (pass == 1 && (size_t)(D - a) + rd * 12 * sb32 != raw)
            return false;
        size_t ib = 0, ic = 0, id = 0;
        uint64_t last = 0;
        bt_journal_rec_t *r = &j->grec;
        for (uint32_t i = 0; i < nrec; i++) {
            uint64_t dz, att, nm, run, bars, el;
            if (!s_get_varint(&p, aend, &dz) || !s_get_varint(&p, aend, &att) || p >= aend)
                return false;
            uint8_t flags = *p++;
            if (flags > 5 || !s_get_varint(&p, aend, &nm) || !s_get_varint(&p, aend, &run) ||
                !s_get_varint(&p, aend, &bars) || p >= aend)
                return false;
            size_t wl = *p++;
            if (wl >= sizeof r->worker || (size_t)(aend - p) < wl)
                return false;
            const uint8_t *wp = p;
            p += wl;
            if (!s_get_varint(&p, aend, &el) || el >= sizeof r->error || (size_t)(aend - p) < el)
                return false;
            const uint8_t *ep = p;
            p += el;
            int kind = flags >> 1;
            if ((nm != 0 && nm != nmet) || att > UINT32_MAX || kind > 2 ||
                (kind == 1 && nb64 == 0) || (kind == 2 && sb32 == 0))
                return false;
            int64_t d = (int64_t)(dz >> 1) ^ -(int64_t)(dz & 1);
            uint64_t job = last + (uint64_t)d;
            last = job + 1;
            if (pass == 0) {
                rb += nm != 0;
                rc += kind == 1;
                rd += kind == 2;
                continue;
            }
            r->job_id = job;
            r->attempt = (uint32_t)att;
            r->ok = flags & 1;
            memcpy(r->error, ep, el);
            r->error[el] = '\0';
            memcpy(r->worker, wp, wl);
            r->worker[wl] = '\0';
            r->run_us = run;
            r->bars = bars;
            r->nmetrics = nm;
            for (size_t k = 0; k < nm; k++) {
                uint64_t bits = 0;
                for (int by = 7; by >= 0; by--)
                    bits = bits << 8 | B[(8 * k + (size_t)by) * rb + ib];
                memcpy(&r->metrics[k], &bits, 8);
            }
            ib += nm != 0;
            r->nblk = 0;
            r->blk_f32 = 0;
            if (kind == 1) {
                for (size_t k = 0; k < nb64; k++) {
                    uint64_t bits = 0;
                    for (int by = 7; by >= 0; by--)
                        bits = bits << 8 | C[(8 * k + (size_t)by) * rc + ic];
                    memcpy(&r->blk[k], &bits, 8);
                }
                r->nblk = (uint32_t)nb64;
                ic++;
            } else if (kind == 2) {
                for (size_t b = 0; b < sb32; b++) {
                    uint32_t w[3];
                    for (int k = 0; k < 3; k++) {
                        w[k] = 0;
                        for (int by = 3; by >= 0; by--)
                            w[k] = w[k] << 8 | D[(4 * (k * sb32 + b) + (size_t)by) * rd + id];
                    }
                    float f;
                    r->blk[3 * b] = (double)w[0];
                    memcpy(&f, &w[1], 4);
                    r->blk[3 * b + 1] = f;
                    memcpy(&f, &w[2], 4);
                    r->blk[3 * b + 2] = f;
                }
                r->nblk = (uint32_t)(3 * sb32);
                r->blk_f32 = 1;
                id++;
            }
            if (fn)
                fn(user, r);
        }
        if (p != aend)
            return false;
    }
    if (count)
        *count = nrec;
    return true;
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
    s_put_u32(p, (uint32_t)plen);
    p += 4;
    *p++ = S_REC_RESULT;
    s_put_u64(p, r->job_id);
    p += 8;
    s_put_u32(p, r->attempt);
    p += 4;
    *p++ = r->ok ? 1 : 0;
    s_put_u16(p, (uint16_t)nm);
    p += 2;
    p = s_put_f64s(p, r->metrics, nm);
    s_put_u64(p, r->run_us);
    p += 8;
    s_put_u64(p, r->bars);
    p += 8;
    *p++ = (uint8_t)wl;
    memcpy(p, r->worker, wl);
    p += wl;
    s_put_u16(p, (uint16_t)el);
    p += 2;
    memcpy(p, r->error, el);
    p += el;
    if (nb) {
        s_put_u16(p, (uint16_t)nb);
        p = s_put_f64s(p + 2, r->blk, nb);
    }
    s_put_u32(p, s_crc32c(0, rec, 4 + plen));
    j->buf.len += 4 + plen + 4;
    j->buf.data[j->buf.len] = '\0'; /* bt_buf's invariant; the records are binary */
    j->appended++;
    return j->buf.len >= S_FLUSH_AT ? s_flush(j, eb) : BT_OK;
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
    r->job_id = s_get_u64(p);
    p += 8;
    r->attempt = s_get_u32(p);
    p += 4;
    if (*p > 1)
        return false;
    r->ok = *p++;
    size_t nm = s_get_u16(p);
    p += 2;
    if (nm > BT_JOURNAL_MAX_METRICS || (size_t)(end - p) < 8 * nm + 8 + 8 + 1)
        return false;
    r->nmetrics = nm;
    p = s_get_f64s(p, r->metrics, nm);
    r->run_us = s_get_u64(p);
    p += 8;
    r->bars = s_get_u64(p);
    p += 8;
    size_t wl = *p++;
    if (wl >= sizeof r->worker || (size_t)(end - p) < wl + 2)
        return false;
    memcpy(r->worker, p, wl);
    p += wl;
    size_t el = s_get_u16(p);
    p += 2;
    if (el >= sizeof r->error || (size_t)(end - p) < el)
        return false;
    memcpy(r->error, p, el);
    p += el;
    if (p == end)
        return true; /* no block statistics (or a journal written before they existed) */
    if ((size_t)(end - p) < 2)
        return false;
    size_t nb = s_get_u16(p);
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
        uint32_t len = s_get_u32(win + pos);
        uint8_t type = avail > 4 ? win[pos + 4] : 0;
        size_t maxlen = type == S_REC_GROUP ? S_GROUP_PAYLOAD_MAX : S_PAYLOAD_MAX;
        uint64_t nrec = 1;
        if (len < (type == S_REC_GROUP ? S_GHEAD : S_PAYLOAD_MIN) || len > maxlen ||
            avail < (size_t)len + 8 ||
            s_get_u32(win + pos + 4 + len) != s_crc32c(0, win + pos, 4 + (size_t)len) ||
            (type == S_REC_GROUP ? !s_group_walk(j, win + pos + 4, len, NULL, NULL, &nrec)
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
        if (type == S_REC_GROUP) /* valid: inflate again and hand the records over */
            s_group_walk(j, win + pos + 4, len, fn, user, NULL);
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
    if (j->replayed && j->failed == BT_OK && (j->buf.len > 0 || j->g_nrec > 0)) {
        bt_errbuf_t eb;
        bt_errbuf_clear(&eb);
        if (bt_journal_sync(j, &eb) != BT_OK)
            bt_log(BT_LOG_ERROR, "%s", eb.msg);
    }
    s_free(j);
    *j_p = NULL;
}
