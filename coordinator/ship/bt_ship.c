#include "bt_ship.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bt_log.h"
#include "bt_sha256.h"
#include "bt_wire.h"

typedef struct {
    bt_ship_manifest_t m; /* m.chunk_sha points at hashes */
    char (*hashes)[65];   /* owned */
    uint8_t *raw;         /* owned: the same hashes, 32 bytes each (SWEEP manifest) */
    int fd;               /* open for the life of the ship */
} s_file_t;

struct bt_ship {
    s_file_t files[BT_SHIP_FILES_MAX];
    size_t n;
    uint64_t served; /* bytes copied out by bt_ship_read */
    char *chunk;     /* BT_SHIP_CHUNK bytes for bt_ship_answer, on first use */
};

bt_ship_t *bt_ship_new(void)
{
    return calloc(1, sizeof(bt_ship_t));
}

void bt_ship_destroy(bt_ship_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bt_ship_t *self = *self_p;
    for (size_t i = 0; i < self->n; i++) {
        close(self->files[i].fd);
        free(self->files[i].hashes);
        free(self->files[i].raw);
    }
    free(self->chunk);
    free(self);
    *self_p = NULL;
}

/* Reads exactly len bytes at off (pread may return less). */
static bool s_pread_all(int fd, void *buf, size_t len, uint64_t off)
{
    char *p = buf;
    while (len > 0) {
        ssize_t r = pread(fd, p, len, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        p += r;
        len -= (size_t)r;
        off += (uint64_t)r;
    }
    return true;
}

static unsigned s_nibble(char c)
{
    return c >= 'a' ? (unsigned)(c - 'a' + 10) : (unsigned)(c - '0');
}

const bt_ship_manifest_t *bt_ship_add(bt_ship_t *self, bt_ship_kind_t kind, const char *path,
                                      bt_errbuf_t *eb)
{
    if (self->n == BT_SHIP_FILES_MAX) {
        bt_errf(eb, BT_ELIMIT, "cannot serve %s: already %u files", path, BT_SHIP_FILES_MAX);
        return NULL;
    }
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        bt_errf(eb, BT_EIO, "cannot open %s to serve it to workers: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0 ||
        (uint64_t)st.st_size > BT_SHIP_FILE_MAX) {
        bt_errf(eb, BT_EDATA, "%s is not a regular file of at most %llu bytes: not served", path,
                (unsigned long long)BT_SHIP_FILE_MAX);
        close(fd);
        return NULL;
    }
    uint64_t size = (uint64_t)st.st_size;
    uint32_t nchunks = (uint32_t)((size + BT_SHIP_CHUNK - 1) / BT_SHIP_CHUNK);
    char(*hashes)[65] = calloc(nchunks ? nchunks : 1, sizeof *hashes);
    uint8_t *raw = calloc(nchunks ? nchunks : 1, 32);
    char *buf = malloc(BT_SHIP_CHUNK);
    if (!hashes || !raw || !buf) {
        free(hashes);
        free(raw);
        free(buf);
        close(fd);
        bt_errf(eb, BT_ENOMEM, "out of memory hashing %s", path);
        return NULL;
    }
    bt_sha256_t whole;
    bt_sha256_init(&whole);
    for (uint32_t i = 0; i < nchunks; i++) {
        uint64_t off = (uint64_t)i * BT_SHIP_CHUNK;
        size_t len = size - off < BT_SHIP_CHUNK ? (size_t)(size - off) : BT_SHIP_CHUNK;
        if (!s_pread_all(fd, buf, len, off)) {
            bt_errf(eb, BT_EIO, "cannot read %s at byte %llu (did it shrink?)", path,
                    (unsigned long long)off);
            free(hashes);
            free(raw);
            free(buf);
            close(fd);
            return NULL;
        }
        bt_sha256_t h;
        bt_sha256_init(&h);
        bt_sha256_update(&h, buf, len);
        bt_sha256_final(&h, hashes[i]);
        for (size_t k = 0; k < 32; k++)
            raw[(size_t)i * 32 + k] = (uint8_t)(s_nibble(hashes[i][2 * k]) << 4 |
                                                s_nibble(hashes[i][2 * k + 1]));
        bt_sha256_update(&whole, buf, len);
    }
    free(buf);
    s_file_t *f = &self->files[self->n];
    bt_sha256_final(&whole, f->m.sha256);
    for (size_t i = 0; i < self->n; i++) {
        if (strcmp(self->files[i].m.sha256, f->m.sha256) == 0) {
            free(hashes);
            free(raw);
            close(fd);
            return &self->files[i].m;
        }
    }
    f->m.kind = kind;
    f->m.size = size;
    f->m.chunk = BT_SHIP_CHUNK;
    f->m.nchunks = nchunks;
    f->m.chunk_sha = (const char(*)[65])hashes;
    f->hashes = hashes;
    f->raw = raw;
    f->fd = fd;
    self->n++;
    bt_log(BT_LOG_INFO, "serving %s %s to workers: %llu bytes, sha256 %.12s",
           kind == BT_SHIP_LIB ? "strategy library" : "data", path, (unsigned long long)size,
           f->m.sha256);
    return &f->m;
}

bt_err_t bt_ship_read(bt_ship_t *self, const char *sha, uint64_t offset, uint32_t len, void *buf,
                      size_t *got, bt_errbuf_t *eb)
{
    *got = 0;
    const s_file_t *f = NULL;
    for (size_t i = 0; i < self->n && !f; i++)
        if (strcmp(self->files[i].m.sha256, sha) == 0)
            f = &self->files[i];
    if (!f)
        return bt_errf(eb, BT_ENOTFOUND, "no file with sha256 %.64s is served here", sha);
    if (len == 0 || len > BT_SHIP_CHUNK || offset % BT_SHIP_CHUNK != 0 || offset >= f->m.size)
        return bt_errf(eb, BT_ERANGE,
                       "chunk request out of range: offset %llu, length %u (file %llu bytes, "
                       "chunks of %u)",
                       (unsigned long long)offset, len, (unsigned long long)f->m.size,
                       BT_SHIP_CHUNK);
    size_t n = f->m.size - offset < len ? (size_t)(f->m.size - offset) : len;
    if (!s_pread_all(f->fd, buf, n, offset))
        return bt_errf(eb, BT_EIO, "cannot read served file %.12s at %llu", sha,
                       (unsigned long long)offset);
    self->served += n;
    *got = n;
    return BT_OK;
}

void bt_ship_sweep_manifests(const bt_ship_t *self, bt_msg_t *sweep)
{
    for (size_t i = 0; i < self->n; i++) {
        const s_file_t *f = &self->files[i];
        bt_wire_manifest_t *w = f->m.kind == BT_SHIP_LIB ? &sweep->sweep.lib_file
                                                         : &sweep->sweep.data_file;
        w->has = true;
        memcpy(w->sha256, f->m.sha256, sizeof w->sha256);
        w->size = f->m.size;
        w->chunk = f->m.chunk;
        w->chunk_sha = f->raw;
        w->chunk_sha_len = (size_t)f->m.nchunks * 32;
    }
}

bt_err_t bt_ship_answer(bt_ship_t *self, const bt_msg_t *in, bt_msg_t *out, bt_errbuf_t *eb)
{
    if (!self->chunk && !(self->chunk = malloc(BT_SHIP_CHUNK)))
        return bt_errf(eb, BT_ENOMEM, "out of memory for a chunk");
    const bt_msg_fetch_t *f = &in->fetch;
    size_t got;
    bt_err_t e = bt_ship_read(self, f->sha256, f->offset, f->len, self->chunk, &got, eb);
    if (e != BT_OK)
        return e;
    bt_msg_reset(out, BT_MSG_CHUNK);
    memcpy(out->chunk.sha256, f->sha256, sizeof out->chunk.sha256);
    out->chunk.offset = f->offset;
    out->chunk.bytes = self->chunk;
    out->chunk.len = got;
    return BT_OK;
}

uint64_t bt_ship_bytes_served(const bt_ship_t *self)
{
    return self->served;
}
