/* bt_store_map — the bar store's zero-copy read path (common/data only): a
 * field of a symbol mapped read-only straight from the file's page cache
 * instead of copied into fresh memory. Only for uncompressed little-endian
 * 8-byte fields whose bytes lie in one run of the file (contiguous layout,
 * or unfiltered chunks back to back, as bt writes them). */
#ifndef BT_STORE_MAP_H
#define BT_STORE_MAP_H

#include <hdf5.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Maps dataset grp/name (n values; int64 time if is_time, else float64) of
 * the file open on fd, its page table entries made at once if populate. On
 * success *data points at value 0 (8-byte aligned) and *map, *len name the
 * mapping for munmap, *off the file offset where it starts; false when the
 * field cannot be mapped (the caller reads it instead). */
bool bt_store_map_field(hid_t grp, const char *name, int fd, size_t n, bool is_time,
                        bool populate, const void **data, void **map, size_t *len,
                        int64_t *off);

/* A shared lock on the store file held while fields stay mapped: a writer
 * (bt data import, which rewrites the file in place and may reuse freed
 * space) then cannot open it, so mapped bars never change under a run.
 * Returns a descriptor to close when the mappings go, or -1 (unlocked: a
 * writer holds it, or the file system has no locks; the caller copies). */
int bt_store_map_hold(int fd);

#endif
