#include "bt_ship.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bt_fs.h"
#include "bt_log.h"
#include "bt_sha256.h"
#include "bt_store_stamp.h"
#include "bt_wire.h"

typedef struct {
    bt_ship_manifest_t m; /* m.chunk_sha points at hashes */
    char (*hashes)[65];   /* owned */
    uint8_t *raw;         /* owned: the same hashes, 32 bytes each (SWEEP manifest) */
    int fd;               /* open for the life of the ship */
} s_file_t;

/* One encoded CHUNK on its way out. The coordinator's thread takes a free
 * slot; ZeroMQ's I/O thread gives it back (s_slot_release) once sent. */
enum { S_FREE = 0, S_BUSY, S_ORPHAN }; /* S_ORPHAN: freed by the release */
#define S_HEAD_MAX 160u                 /* a CHUNK's head is < 120 bytes */
#define S_SLOTS_MAX 32u                 /* pooled slots (32 MiB); more are one-off */
typedef struct {
    _Atomic int state;                      /* S_FREE / S_BUSY / S_ORPHAN */
    char data[S_HEAD_MAX + BT_SHIP_CHUNK]; /* the message */
} s_slot_t;

struct bt_ship {
    s_file_t files[BT_SHIP_FILES_MAX];
    size_t n;
    uint64_t served; /* bytes copied out by bt_ship_read */
    char *chunk;     /* BT_SHIP_CHUNK bytes for bt_ship_answer, on first use */
    s_slot_t *slots[S_SLOTS_MAX]; /* reused, so sending touches no fresh pages */
    size_t nslots;
    bt_msg_t head_msg;    /* the CHUNK being encoded */
    bt_wire_buf_t head;   /* its encoded head */
};

bt_ship_t *bt_ship_new(void)
{
    bt_ship_t *self = calloc(1, sizeof(bt_ship_t));
    if (self) {
        bt_msg_init(&self->head_msg);
        bt_wire_buf_init(&self->head);
    }
    return self;
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
    for (size_t i = 0; i < self->nslots; i++) /* one still in flight is freed when sent */
        if (atomic_exchange(&self->slots[i]->state, S_ORPHAN) == S_FREE)
            free(self->slots[i]);
    bt_msg_fini(&self->head_msg);
    bt_wire_buf_fini(&self->head);
    free(self);
    *self_p = NULL;
}

static unsigned s_nibble(char c)
{
    return c >= 'a' ? (unsigned)(c - 'a' + 10) : (unsigned)(c - '0');
}

static bool s_unchanged(const struct stat *a, const struct stat *b)
{
    return a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
           a->st_mtim.tv_nsec == b->st_mtim.tv_nsec && a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
           a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
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
    s_file_t *f = &self->files[self->n];
    /* An unchanged file (a whole-file stamp) is not hashed again. */
    bool stamped = bt_stamp_file_get(&st, BT_SHIP_CHUNK, f->m.sha256, hashes, nchunks);
    bt_sha256_t whole;
    bt_sha256_init(&whole);
    for (uint32_t i = 0; stamped && i < nchunks; i++)
        for (size_t k = 0; k < 32; k++)
            raw[(size_t)i * 32 + k] = (uint8_t)(s_nibble(hashes[i][2 * k]) << 4 |
                                                s_nibble(hashes[i][2 * k + 1]));
    for (uint32_t i = 0; !stamped && i < nchunks; i++) {
        uint64_t off = (uint64_t)i * BT_SHIP_CHUNK;
        size_t len = size - off < BT_SHIP_CHUNK ? (size_t)(size - off) : BT_SHIP_CHUNK;
        if (!bt_fs_pread_all(fd, buf, len, off)) {
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
    struct stat after;
    if (!stamped) {
        bt_sha256_final(&whole, f->m.sha256);
        if (fstat(fd, &after) == 0 && s_unchanged(&st, &after)) /* not written while hashed */
            bt_stamp_file_put(&st, BT_SHIP_CHUNK, f->m.sha256, (const char(*)[65])hashes,
                              nchunks, false);
    }
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
    bt_log(BT_LOG_INFO, "serving %s %s to workers: %llu bytes, sha256 %.12s%s",
           kind == BT_SHIP_LIB ? "strategy library" : "data", path, (unsigned long long)size,
           f->m.sha256, stamped ? " (unchanged since hashed: stamp)" : "");
    return &f->m;
}

/* The served file and byte count of a request from a worker, checked. */
static bt_err_t s_locate(const bt_ship_t *self, const char *sha, uint64_t offset, uint32_t len,
                         const s_file_t **file, size_t *n, bt_errbuf_t *eb)
{
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
    *file = f;
    *n = f->m.size - offset < len ? (size_t)(f->m.size - offset) : len;
    return BT_OK;
}

bt_err_t bt_ship_read(bt_ship_t *self, const char *sha, uint64_t offset, uint32_t len, void *buf,
                      size_t *got, bt_errbuf_t *eb)
{
    *got = 0;
    const s_file_t *f;
    size_t n;
    bt_err_t e = s_locate(self, sha, offset, len, &f, &n, eb);
    if (e != BT_OK)
        return e;
    if (!bt_fs_pread_all(f->fd, buf, n, offset))
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

static void s_slot_release(void *data, void *hint)
{
    (void)data;
    s_slot_t *slot = hint;
    if (atomic_exchange(&slot->state, S_FREE) == S_ORPHAN)
        free(slot);
}

/* A slot not in flight: a pooled one, a new pooled one, else a one-off. */
static s_slot_t *s_slot_take(bt_ship_t *self)
{
    for (size_t i = 0; i < self->nslots; i++) {
        if (atomic_load(&self->slots[i]->state) == S_FREE) {
            atomic_store(&self->slots[i]->state, S_BUSY);
            return self->slots[i];
        }
    }
    s_slot_t *slot = malloc(sizeof *slot);
    if (!slot)
        return NULL;
    if (self->nslots < S_SLOTS_MAX) {
        atomic_init(&slot->state, S_BUSY);
        self->slots[self->nslots++] = slot;
    } else {
        atomic_init(&slot->state, S_ORPHAN);
    }
    return slot;
}

bt_err_t bt_ship_answer_frame(bt_ship_t *self, const bt_msg_t *in, bt_ship_frame_t *out,
                              bt_errbuf_t *eb)
{
    const bt_msg_fetch_t *q = &in->fetch;
    const s_file_t *f;
    size_t n;
    bt_err_t e = s_locate(self, q->sha256, q->offset, q->len, &f, &n, eb);
    if (e != BT_OK)
        return e;
    bt_msg_t *m = &self->head_msg;
    bt_msg_reset(m, BT_MSG_CHUNK);
    memcpy(m->chunk.sha256, q->sha256, sizeof m->chunk.sha256);
    m->chunk.offset = q->offset;
    m->chunk.bytes = m->chunk.sha256; /* not read: the bytes follow the head */
    m->chunk.len = n;
    if ((e = bt_wire_encode_head(m, &self->head, eb)) != BT_OK)
        return e;
    if (self->head.len > S_HEAD_MAX)
        return bt_errf(eb, BT_ELIMIT, "CHUNK head of %zu bytes", self->head.len);
    s_slot_t *slot = s_slot_take(self);
    if (!slot)
        return bt_errf(eb, BT_ENOMEM, "out of memory for a chunk");
    memcpy(slot->data, self->head.data, self->head.len);
    if (!bt_fs_pread_all(f->fd, slot->data + self->head.len, n, q->offset)) {
        s_slot_release(slot->data, slot);
        return bt_errf(eb, BT_EIO, "cannot read served file %.12s at %llu", q->sha256,
                       (unsigned long long)q->offset);
    }
    self->served += n;
    out->data = slot->data;
    out->len = self->head.len + n;
    out->release = s_slot_release;
    out->hint = slot;
    return BT_OK;
}
