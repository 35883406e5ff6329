/* bt_dscache — the worker's dataset cache: each bar store is loaded once and
 * kept in memory across jobs and sweeps, keyed by store path + data hash.
 *
 * A dataset is loaded whole (every symbol, sorted by name: the data hash the
 * coordinator sends is the hash of that load) and read-only afterwards; jobs
 * pick their symbols from it by name without copying. */
#ifndef BT_DSCACHE_H
#define BT_DSCACHE_H

#include <stddef.h>

#include "bt_err.h"
#include "bt_store.h"

typedef struct bt_dscache bt_dscache_t;

/* max_entries: datasets kept at once (least recently used one is dropped). */
bt_dscache_t *bt_dscache_new(size_t max_entries);
void bt_dscache_destroy(bt_dscache_t **self_p);

/* Returns the dataset of path, loading it if absent. If hash is not empty
 * and the loaded data has another hash: NULL and BT_EDATA naming the path and
 * both hashes (the worker's copy of the store differs from the coordinator's).
 * The pointer stays valid until the entry is evicted by a later get of
 * another path (never while it is the most recent). */
const bt_dataset_t *bt_dscache_get(bt_dscache_t *self, const char *path, const char *hash,
                                   bt_errbuf_t *eb);

/* Loads served from memory / from disk (for logs and tests). */
size_t bt_dscache_hits(const bt_dscache_t *self);
size_t bt_dscache_loads(const bt_dscache_t *self);

#endif
