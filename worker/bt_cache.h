/* bt_cache — the worker's content-addressed file cache on disk (data
 * packages and strategy libraries, each named by the sha256 of its bytes),
 * and the guard every file the worker opens goes through.
 *
 * Layout: DIR/objects/<sha256 hex>. A file is verified (hashed again) each
 * time it is looked up, so a copy corrupted on disk is found, deleted and
 * reported as absent: the caller fetches it again. Files are written through
 * a temp file and a rename, so a reader never sees a part. The cache keeps
 * at most max_bytes: after an add the least recently used files (by mtime,
 * which a lookup refreshes) are removed. */
#ifndef BT_CACHE_H
#define BT_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bt_err.h"

#define BT_CACHE_MAX_DEFAULT (10ull << 30) /* 10 GiB */

typedef struct bt_cache bt_cache_t;

/* dir NULL or "": $XDG_CACHE_HOME/backtester, else $HOME/.cache/backtester.
 * max_bytes 0: BT_CACHE_MAX_DEFAULT. The folder is made on the first add. */
bt_cache_t *bt_cache_new(const char *dir, uint64_t max_bytes, bt_errbuf_t *eb);
void bt_cache_destroy(bt_cache_t **self_p);
const char *bt_cache_dir(const bt_cache_t *self);

/* Writes the path of the cached file whose bytes hash to sha (64 lowercase
 * hex digits) into path, after hashing it again. BT_ENOTFOUND when absent or
 * corrupted (a corrupted copy is deleted and logged). */
bt_err_t bt_cache_lookup(bt_cache_t *self, const char *sha, char *path, size_t cap,
                         bt_errbuf_t *eb);

/* Adds data[0..len) under sha. BT_EDATA (naming both hashes) if the bytes do
 * not hash to sha. Then evicts down to the size limit. */
bt_err_t bt_cache_put(bt_cache_t *self, const char *sha, const void *data, size_t len,
                      bt_errbuf_t *eb);

/* Receiving one file in chunks (from the coordinator): each chunk is checked
 * against its hash from the manifest as it arrives and written to a temp file
 * in the cache folder; commit checks the whole file's hash and renames it in.
 * A bad chunk is dropped and asked for again. */
#define BT_CACHE_CHUNK_MAX (4u << 20)   /* largest chunk accepted */
#define BT_CACHE_FILE_MAX (64ull << 30) /* largest file accepted */
typedef struct bt_cache_recv bt_cache_recv_t;

/* Validates the manifest shape (nchunks == ceil(size / chunk), caps) first. */
bt_cache_recv_t *bt_cache_recv_new(bt_cache_t *self, const char *sha, uint64_t size, uint32_t chunk,
                                   const char (*chunk_sha)[65], uint32_t nchunks, bt_errbuf_t *eb);
/* Aborts an unfinished receive (removes the temp file). Accepts NULL. */
void bt_cache_recv_destroy(bt_cache_recv_t **r_p);
/* The next chunk to ask for (marked asked); false when none is left to ask. */
bool bt_cache_recv_next(bt_cache_recv_t *r, uint64_t *offset, uint32_t *len);
/* Takes one chunk. BT_ERANGE for an offset/length that is not a chunk of
 * this file, BT_EDATA (naming both hashes) for bytes that do not match: that
 * chunk is asked for again. A duplicate of a chunk already held is ignored. */
bt_err_t bt_cache_recv_chunk(bt_cache_recv_t *r, uint64_t offset, const void *data, size_t len,
                             bt_errbuf_t *eb);
/* Chunks asked for and not yet received; true when every chunk is held. */
uint32_t bt_cache_recv_inflight(const bt_cache_recv_t *r);
bool bt_cache_recv_complete(const bt_cache_recv_t *r);
/* Checks the whole file's hash, moves it into the cache, writes its path. */
bt_err_t bt_cache_recv_commit(bt_cache_recv_t *r, char *path, size_t cap, bt_errbuf_t *eb);

/* Bytes and files held now (walks the folder). */
uint64_t bt_cache_bytes(const bt_cache_t *self, size_t *nfiles);

/* Opens path with O_NONBLOCK (a FIFO never blocks) and refuses anything but
 * a regular file: BT_EDATA naming path and what it is, BT_ENOTFOUND / BT_EIO
 * with the reason. Call before HDF5 or dlopen sees a path. */
bt_err_t bt_cache_check_regular(const char *path, bt_errbuf_t *eb);

#endif
