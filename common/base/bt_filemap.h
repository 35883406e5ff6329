/* bt_filemap — which file a read-only mapping shows.
 *
 * The bar store maps its fields straight from the file (bt_store_map). On a
 * virtual machine with shadow page tables the first read of each mapped
 * 4 KiB page costs over a microsecond, far more than copying the same bytes
 * with pread into a small buffer that is reused. The store registers each
 * mapping here, with a descriptor that stays open while it is mapped, so a
 * reader that steps over a long stretch once (bt run's engine loop,
 * bt_loop_window) can read the bytes from the file instead. Thread-safe. */
#ifndef BT_FILEMAP_H
#define BT_FILEMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* [map, map + len) shows the file open on fd from offset off. False when out of memory (the
 * mapping is then just not known here: readers use it as before). */
bool bt_filemap_add(const void *map, size_t len, int fd, int64_t off);
/* Forgets the mapping that starts at map (before it is unmapped or fd closed). */
void bt_filemap_remove(const void *map);
/* The descriptor and file offset of p when [p, p + len) lies within one registered mapping. */
bool bt_filemap_find(const void *p, size_t len, int *fd, int64_t *off);

#endif
