/* bt_store_cut — a store cut to the symbols and time range a sweep uses
 * (see bt_store.h), so a coordinator ships workers only what they read. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bt_store.h"

bt_err_t bt_store_cut(const char *src, const char *dst, const char *const *symbols, size_t nsym,
                      int64_t start, int64_t end, bt_errbuf_t *eb)
{
    if (start > end)
        return bt_errf(eb, BT_EINVAL, "cannot cut %s: start after end", src);
    bt_dataset_t *ds = bt_dataset_load(src, symbols, nsym, eb);
    if (!ds)
        return eb ? eb->code : BT_EIO;
    char tmp[4096];
    int w = snprintf(tmp, sizeof tmp, "%s.tmp%ld", dst, (long)getpid());
    if (w < 0 || (size_t)w >= sizeof tmp) {
        bt_dataset_destroy(&ds);
        return bt_errf(eb, BT_EINVAL, "path too long: %s", dst);
    }
    unlink(tmp); /* a leftover of a crashed cut */
    bt_err_t rc = BT_OK;
    for (size_t i = 0; rc == BT_OK && i < ds->nsym; i++) {
        const bt_series_t *s = &ds->series[i];
        bt_series_t v = bt_series_slice_time(s, start, end);
        if (v.n == 0)
            v = bt_series_slice_idx(s, 0, 1);
        rc = bt_store_write(tmp, &v, &ds->meta[i], false, false, eb);
    }
    bt_dataset_destroy(&ds);
    if (rc == BT_OK && rename(tmp, dst) != 0)
        rc = bt_errf(eb, BT_EIO, "cannot move the cut store into place at %s", dst);
    if (rc != BT_OK)
        unlink(tmp);
    return rc;
}
