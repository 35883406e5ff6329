#define _DEFAULT_SOURCE /* madvise(MADV_HUGEPAGE) */
#include "bt_alloc.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

void *bt_aligned_alloc(size_t size)
{
    if (size == 0)
        return NULL;
    size_t rounded = (size + BT_ALIGN - 1) / BT_ALIGN * BT_ALIGN;
    if (rounded < size)
        return NULL; /* overflow */
    /* Large blocks (a run's equity curve) on transparent huge pages: one fault per 2 MiB. */
    const size_t huge = (size_t)2 << 20;
    bool big = rounded >= 2 * huge;
    if (big)
        rounded = (rounded + huge - 1) / huge * huge;
    void *p = aligned_alloc(big ? huge : BT_ALIGN, rounded);
#ifdef MADV_HUGEPAGE
    if (p && big)
        madvise(p, rounded, MADV_HUGEPAGE);
#endif
    if (p)
        memset(p, 0, rounded);
    return p;
}

void bt_aligned_free(void *p) { free(p); }
