/* bt_series — a read-only, struct-of-arrays view of one symbol's bars.
 *
 * This is the only header of common/data that the engine may include. The
 * arrays are owned elsewhere (the bar store's loader, 64-byte aligned) and
 * are never written after load, so any number of threads may share them.
 * Slicing a time range makes a new view on the same arrays, no copy. */
#ifndef BT_SERIES_H
#define BT_SERIES_H

#include <stddef.h>
#include <stdint.h>

#define BT_SYMBOL_MAX 32 /* bytes, including the NUL */

typedef struct bt_series {
    char symbol[BT_SYMBOL_MAX]; /* e.g. "ORCL" */
    size_t n;                   /* number of bars */
    const int64_t *time;        /* ns since epoch UTC, strictly increasing */
    const double *open;
    const double *high;
    const double *low;
    const double *close;
    const double *volume;
    const double *adj_close;    /* NULL when the source had no Adj Close */
} bt_series_t;

/* First index i with time[i] >= t (n if none). */
static inline size_t bt_series_lower_bound(const bt_series_t *s, int64_t t)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->time[mid] < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* View of bars [i0, i1) (clamped to the series). */
static inline bt_series_t bt_series_slice_idx(const bt_series_t *s, size_t i0, size_t i1)
{
    bt_series_t v = *s;
    if (i1 > s->n)
        i1 = s->n;
    if (i0 > i1)
        i0 = i1;
    v.n = i1 - i0;
    v.time = s->time + i0;
    v.open = s->open + i0;
    v.high = s->high + i0;
    v.low = s->low + i0;
    v.close = s->close + i0;
    v.volume = s->volume + i0;
    v.adj_close = s->adj_close ? s->adj_close + i0 : NULL;
    return v;
}

/* View of bars with from <= time <= to (both inclusive; pass INT64_MIN /
 * INT64_MAX for an open end). */
static inline bt_series_t bt_series_slice_time(const bt_series_t *s, int64_t from, int64_t to)
{
    size_t i0 = bt_series_lower_bound(s, from);
    size_t i1 = to == INT64_MAX ? s->n : bt_series_lower_bound(s, to + 1);
    return bt_series_slice_idx(s, i0, i1);
}

#endif
