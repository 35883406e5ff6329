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

/* Bytes and files held now (walks the folder). */
uint64_t bt_cache_bytes(const bt_cache_t *self, size_t *nfiles);

/* Opens path with O_NONBLOCK (a FIFO never blocks) and refuses anything but
 * a regular file: BT_EDATA naming path and what it is, BT_ENOTFOUND / BT_EIO
 * with the reason. Call before HDF5 or dlopen sees a path. */
bt_err_t bt_cache_check_regular(const char *path, bt_errbuf_t *eb);

#endif
