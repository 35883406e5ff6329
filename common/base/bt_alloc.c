#include "bt_alloc.h"

#include <stdlib.h>
#include <string.h>

void *bt_aligned_alloc(size_t size)
{
    if (size == 0)
        return NULL;
    size_t rounded = (size + BT_ALIGN - 1) / BT_ALIGN * BT_ALIGN;
    if (rounded < size)
        return NULL; /* overflow */
    void *p = aligned_alloc(BT_ALIGN, rounded);
    if (p)
        memset(p, 0, rounded);
    return p;
}

void bt_aligned_free(void *p) { free(p); }
