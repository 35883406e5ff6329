/* bt_alloc — 64-byte aligned allocation for struct-of-arrays bar data. */
#ifndef BT_ALLOC_H
#define BT_ALLOC_H

#include <stddef.h>

#define BT_ALIGN 64

/* Returns zeroed memory aligned to BT_ALIGN, or NULL. size 0 gives NULL. */
void *bt_aligned_alloc(size_t size);
void bt_aligned_free(void *p);

#endif
