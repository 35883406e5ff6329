#include "bt_dscache.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bt_log.h"

typedef struct {
    char *path;         /* store path as the coordinator sent it */
    bt_dataset_t *ds;   /* every symbol of the store */
    uint64_t used;      /* LRU tick of the last get */
} s_entry_t;

struct bt_dscache {
    s_entry_t *entries; /* max entries */
    size_t n, max;      /* used / capacity */
    uint64_t tick;      /* LRU clock */
    size_t hits, loads; /* counters */
};

bt_dscache_t *bt_dscache_new(size_t max_entries)
{
    if (max_entries == 0)
        max_entries = 1;
    bt_dscache_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->entries = calloc(max_entries, sizeof *self->entries);
    if (!self->entries) {
        free(self);
        return NULL;
    }
    self->max = max_entries;
    return self;
}

static void s_entry_fini(s_entry_t *e)
{
    free(e->path);
    bt_dataset_destroy(&e->ds);
    memset(e, 0, sizeof *e);
}

void bt_dscache_destroy(bt_dscache_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bt_dscache_t *self = *self_p;
    for (size_t i = 0; i < self->n; i++)
        s_entry_fini(&self->entries[i]);
    free(self->entries);
    free(self);
    *self_p = NULL;
}

const bt_dataset_t *bt_dscache_get(bt_dscache_t *self, const char *path, const char *hash,
                                   bt_errbuf_t *eb)
{
    bool want_hash = hash && hash[0];
    for (size_t i = 0; i < self->n; i++) {
        s_entry_t *e = &self->entries[i];
        if (strcmp(e->path, path) == 0 && (!want_hash || strcmp(e->ds->hash, hash) == 0)) {
            e->used = ++self->tick;
            self->hits++;
            return e->ds;
        }
    }
    bt_dataset_t *ds = bt_dataset_load(path, NULL, 0, eb);
    if (!ds)
        return NULL;
    self->loads++;
    if (want_hash && strcmp(ds->hash, hash) != 0) {
        bt_errf(eb, BT_EDATA,
                "data store %s on this worker has data hash %s, the coordinator's has %s: "
                "give this worker --data with a copy of the coordinator's store",
                path, ds->hash, hash);
        bt_dataset_destroy(&ds);
        return NULL;
    }
    char *copy = strdup(path);
    if (!copy) {
        bt_dataset_destroy(&ds);
        bt_errf(eb, BT_ENOMEM, "out of memory caching data store %s", path);
        return NULL;
    }
    size_t slot = self->n;
    if (self->n == self->max) {
        slot = 0;
        for (size_t i = 1; i < self->n; i++)
            if (self->entries[i].used < self->entries[slot].used)
                slot = i;
        bt_log(BT_LOG_INFO, "dataset cache: dropping %s", self->entries[slot].path);
        s_entry_fini(&self->entries[slot]);
    } else {
        self->n++;
    }
    self->entries[slot].path = copy;
    self->entries[slot].ds = ds;
    self->entries[slot].used = ++self->tick;
    bt_log(BT_LOG_INFO, "dataset cache: loaded %s (%zu symbols, %zu hashed, hash %.12s)", path,
           ds->nsym, ds->hashed, ds->hash);
    return ds;
}


size_t bt_dscache_hits(const bt_dscache_t *self) { return self->hits; }
size_t bt_dscache_loads(const bt_dscache_t *self) { return self->loads; }
