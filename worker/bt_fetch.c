#include "bt_fetch.h"

#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bt_log.h"
#include "bt_store.h"
#include "bt_store_stamp.h"

typedef struct {
    bool wanted;
    char sha[BT_WIRE_SHA256_HEX + 1];
    bt_cache_recv_t *recv; /* NULL when cached */
    char path[PATH_MAX];   /* set when in the cache */
} s_file_t;

struct bt_fetch {
    bt_cache_t *cache;
    s_file_t files[2]; /* by bt_wire_file_kind_t */
    uint64_t bytes;
};

bt_fetch_t *bt_fetch_new(bt_cache_t *cache)
{
    /* ZeroMQ allocates each 1 MiB CHUNK it receives and we free it soon
     * after: keep freed memory for the next one instead of handing it back
     * to the kernel, whose fresh pages must be zeroed again (about a tenth
     * of a transfer's CPU). Process-wide, and harmless for a worker. */
    mallopt(M_MMAP_THRESHOLD, 8 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    bt_fetch_t *self = calloc(1, sizeof *self);
    if (self)
        self->cache = cache;
    return self;
}

void bt_fetch_reset(bt_fetch_t *self)
{
    for (size_t i = 0; i < 2; i++) {
        bt_cache_recv_destroy(&self->files[i].recv);
        memset(&self->files[i], 0, sizeof self->files[i]);
    }
}

void bt_fetch_destroy(bt_fetch_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bt_fetch_reset(*self_p);
    free(*self_p);
    *self_p = NULL;
}

bt_err_t bt_fetch_want(bt_fetch_t *self, bt_wire_file_kind_t kind, const bt_wire_manifest_t *m,
                       bt_errbuf_t *eb)
{
    s_file_t *f = &self->files[kind == BT_WIRE_FILE_LIB];
    bt_cache_recv_destroy(&f->recv);
    memset(f, 0, sizeof *f);
    f->wanted = true;
    memcpy(f->sha, m->sha256, sizeof f->sha);
    bt_errbuf_t miss;
    if (bt_cache_lookup(self->cache, f->sha, f->path, sizeof f->path, &miss) == BT_OK) {
        bt_log(BT_LOG_INFO, "%s %.12s found in the cache: 0 bytes to fetch",
               kind == BT_WIRE_FILE_LIB ? "strategy library" : "data", f->sha);
        return BT_OK;
    }
    f->path[0] = '\0';
    uint32_t n = (uint32_t)(m->chunk_sha_len / 32);
    char(*hex)[65] = calloc(n ? n : 1, sizeof *hex);
    if (!hex)
        return bt_errf(eb, BT_ENOMEM, "out of memory for %u chunk hashes", n);
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t k = 0; k < 32; k++)
            snprintf(hex[i] + 2 * k, 3, "%02x", m->chunk_sha[i * 32 + k]);
    f->recv = bt_cache_recv_new(self->cache, f->sha, m->size, m->chunk,
                                (const char(*)[65])hex, n, eb);
    free(hex);
    if (!f->recv)
        return eb->code;
    bt_log(BT_LOG_INFO, "fetching %s %.12s from the coordinator: %llu bytes in %u chunk(s)",
           kind == BT_WIRE_FILE_LIB ? "strategy library" : "data", f->sha,
           (unsigned long long)m->size, n);
    return BT_OK;
}

static uint32_t s_inflight(const bt_fetch_t *self)
{
    uint32_t n = 0;
    for (size_t i = 0; i < 2; i++)
        if (self->files[i].recv)
            n += bt_cache_recv_inflight(self->files[i].recv);
    return n;
}

bool bt_fetch_next(bt_fetch_t *self, bt_msg_t *out)
{
    if (s_inflight(self) >= BT_FETCH_WINDOW)
        return false;
    for (size_t i = 0; i < 2; i++) {
        s_file_t *f = &self->files[i];
        uint64_t off;
        uint32_t len;
        if (f->recv && bt_cache_recv_next(f->recv, &off, &len)) {
            bt_msg_reset(out, BT_MSG_FETCH);
            out->fetch.kind = i ? BT_WIRE_FILE_LIB : BT_WIRE_FILE_DATA;
            memcpy(out->fetch.sha256, f->sha, sizeof out->fetch.sha256);
            out->fetch.offset = off;
            out->fetch.len = len;
            return true;
        }
    }
    return false;
}

/* A fetched store is byte for byte the coordinator's (its sha256 was just
 * checked), whose bars the coordinator verified when it loaded them: stamp
 * its symbols as verified so loading it does not hash every bar again. A
 * stamp also vouches that time is strictly increasing, which is not taken
 * on trust from the network: each symbol's time column is checked here
 * (8 bytes a bar, against the 48 a hash reads); one that fails is not
 * stamped, so the load reports it. */
static void s_vouch(const char *path)
{
    struct stat st;
    char **names = NULL;
    size_t n = 0;
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    if (stat(path, &st) != 0 || bt_store_names(path, &names, &n, &eb) != BT_OK)
        return;
    bt_stamp_t *stamp = bt_stamp_load(&st);
    for (size_t i = 0; stamp && i < n; i++) {
        bt_store_attrs_t a;
        if (bt_store_read_attrs(path, names[i], &a, &eb) == BT_OK &&
            strlen(a.content_sha256) == 64 && bt_store_check_time(path, names[i], &eb) == BT_OK)
            bt_stamp_add(stamp, names[i], a.content_sha256);
    }
    struct stat after;
    if (stamp && stat(path, &after) == 0)
        bt_stamp_save_fresh(stamp, &after);
    bt_stamp_destroy(&stamp);
    bt_store_names_free(names, n);
}

bt_err_t bt_fetch_on_chunk(bt_fetch_t *self, const bt_msg_chunk_t *c, bt_errbuf_t *eb)
{
    s_file_t *f = NULL;
    for (size_t i = 0; i < 2 && !f; i++)
        if (self->files[i].recv && strcmp(self->files[i].sha, c->sha256) == 0)
            f = &self->files[i];
    if (!f) /* a late answer for a transfer that ended: harmless */
        return BT_OK;
    bt_errbuf_t bad;
    bt_err_t e = bt_cache_recv_chunk(f->recv, c->offset, c->bytes, c->len, &bad);
    if (e != BT_OK) {
        bt_log(BT_LOG_WARN, "chunk at %llu of %.12s refused (asked again): %s",
               (unsigned long long)c->offset, f->sha, bad.msg);
        return BT_OK;
    }
    self->bytes += c->len;
    if (!bt_cache_recv_complete(f->recv))
        return BT_OK;
    e = bt_cache_recv_commit(f->recv, f->path, sizeof f->path, eb);
    bt_cache_recv_destroy(&f->recv);
    if (e != BT_OK) {
        f->path[0] = '\0';
        return e;
    }
    if (f == &self->files[0]) /* files[0] is the data file (by kind) */
        s_vouch(f->path);
    bt_log(BT_LOG_INFO, "fetched %.12s into the cache (%llu bytes fetched so far)", f->sha,
           (unsigned long long)self->bytes);
    return BT_OK;
}

bool bt_fetch_done(const bt_fetch_t *self)
{
    for (size_t i = 0; i < 2; i++)
        if (self->files[i].wanted && !self->files[i].path[0])
            return false;
    return true;
}

const char *bt_fetch_path(const bt_fetch_t *self, bt_wire_file_kind_t kind)
{
    const s_file_t *f = &self->files[kind == BT_WIRE_FILE_LIB];
    return f->wanted && f->path[0] ? f->path : NULL;
}

uint64_t bt_fetch_bytes(const bt_fetch_t *self)
{
    return self->bytes;
}
