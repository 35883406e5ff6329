/* bt_memtune — malloc settings for the sweep's coordinator and workers.
 *
 * A worker fills tens to hundreds of MB of fresh heap batch after batch, the
 * coordinator its tables and buffers result after result. On virtual
 * machines a first touch of a 4 KiB page can cost ~10 us (measured here:
 * 0.35 GB/s), so glibc's defaults (small heap steps, freed memory handed
 * back, 4 KiB pages) cost more than some of the work. glibc reads these
 * settings only from GLIBC_TUNABLES at start: bt sweep and bt-worker run
 * themselves again with them, once; local workers inherit them.
 * docs/sweep.md "Memory". */
#ifndef BT_MEMTUNE_H
#define BT_MEMTUNE_H

#include <stddef.h>

/* Our settings: heap on transparent huge pages (madvise), grown 64 MiB at a
 * time, blocks up to 32 MiB from the heap, nothing trimmed below 256 MiB. */
#define BT_MEMTUNE_SETTINGS                                                                        \
    "glibc.malloc.hugetlb=1:glibc.malloc.top_pad=67108864:"                                        \
    "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=268435456"

/* Runs argv again (the file /proc/self/exe names) with BT_MEMTUNE_SETTINGS
 * before any GLIBC_TUNABLES the user set (theirs win), and returns only when
 * that is not wanted or fails: BT_MALLOC_TUNE=0, a GLIBC_TUNABLES that
 * already names glibc.malloc.hugetlb (this process is the second run, or the
 * user chose), or an exec error (the program then runs with glibc's
 * defaults). Call it before the program logs or starts anything: the
 * process is replaced. */
void bt_memtune_exec(char **argv);

/* "glibc.malloc.hugetlb=1 ... (GLIBC_TUNABLES)" when this process runs with
 * a GLIBC_TUNABLES that sets glibc.malloc.hugetlb, else "glibc's defaults":
 * for the start of a debug log. */
const char *bt_memtune_describe(void);

/* The composed GLIBC_TUNABLES for a current value cur (NULL: unset) into
 * out (cap bytes): 0, or -1 when it does not fit. For the tests. */
int bt_memtune_compose(const char *cur, char *out, size_t cap);

#endif
