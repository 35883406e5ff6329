/* bt_dataset — questions about a loaded dataset (bt_store.h): which series is
 * a symbol, a subset by names, whether a date range holds bars. No HDF5 here:
 * the store's reading and writing are in bt_store.c. */
#include <stdlib.h>
#include <string.h>

#include "bt_store.h"
#include "bt_time.h"

long bt_dataset_find(const bt_dataset_t *ds, const char *symbol)
{
    size_t lo = 0, hi = ds->nsym;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(ds->series[mid].symbol, symbol);
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = 0; i < ds->nsym; i++) /* not sorted: look at every one */
        if (strcmp(ds->series[i].symbol, symbol) == 0)
            return (long)i;
    return -1;
}

bt_err_t bt_dataset_pick(const bt_dataset_t *ds, const char *const *names, size_t n,
                         bt_series_t **out, size_t *nout, bt_errbuf_t *eb)
{
    if (!names || n == 0) {
        names = NULL;
        n = ds->nsym;
    }
    if (n == 0)
        return bt_errf(eb, BT_EDATA, "the data store has no symbols");
    bt_series_t *s = malloc(n * sizeof *s);
    if (!s)
        return bt_errf(eb, BT_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        long k = names ? bt_dataset_find(ds, names[i]) : (long)i;
        if (k < 0) {
            free(s);
            return bt_errf(eb, BT_ENOTFOUND,
                           "data.symbols: %s is not in the data store (see 'bt data info')",
                           names[i]);
        }
        s[i] = ds->series[k];
    }
    *out = s;
    *nout = n;
    return BT_OK;
}

/* "2020-01-02" (or with the time of day), or what an open end means. */
static const char *s_end_text(int64_t t, const char *open, char *buf, size_t cap)
{
    if (t == INT64_MIN || t == INT64_MAX)
        return open;
    if ((t + 1) % BT_NS_PER_DAY == 0) /* an end date is stored as its last nanosecond */
        t -= BT_NS_PER_DAY - 1;
    return bt_time_format(t, buf, cap);
}

bt_err_t bt_dataset_check_range(const bt_series_t *series, size_t n, int64_t start, int64_t end,
                                bt_errbuf_t *eb)
{
    int64_t first = INT64_MAX, last = INT64_MIN;
    size_t bars = 0;
    for (size_t i = 0; i < n; i++) {
        const bt_series_t *s = &series[i];
        if (s->n == 0)
            continue;
        bars += s->n;
        if (s->time[0] < first)
            first = s->time[0];
        if (s->time[s->n - 1] > last)
            last = s->time[s->n - 1];
        if (start <= end && bt_series_slice_time(s, start, end).n > 0)
            return BT_OK;
    }
    char a[40], b[40], c[40], d[40];
    const char *from = s_end_text(start, "the first bar", a, sizeof a);
    const char *to = s_end_text(end, "the last bar", b, sizeof b);
    if (bars == 0)
        return bt_errf(eb, BT_EDATA, "no bar between %s and %s: the %zu selected symbol%s hold%s "
                                     "no bars at all",
                       from, to, n, n == 1 ? "" : "s", n == 1 ? "s" : "");
    return bt_errf(eb, BT_EDATA,
                   "no bar between %s and %s; the data (%zu symbol%s) runs from %s to %s: move "
                   "the dates into that range",
                   from, to, n, n == 1 ? "" : "s", bt_time_format(first, c, sizeof c),
                   bt_time_format(last, d, sizeof d));
}
