/* bt_resample — bars to coarser bars: minutes -> hours -> days -> weeks.
 *
 * A target bar takes the first open, the highest high, the lowest low, the last close (and last
 * adj_close) and the summed volume of the source bars in its bin. Bins are aligned to UTC
 * midnight (intraday periods must divide a day), days are calendar days, weeks start on Monday.
 * Empty bins make no bar. See docs/data.md ("Resampling"). */
#ifndef BT_RESAMPLE_H
#define BT_RESAMPLE_H

#include <stdbool.h>
#include <stdint.h>

#include "bt_bars.h"
#include "bt_err.h"
#include "bt_series.h"

/* How the source bars are stamped, and so how the output is. */
typedef enum {
    BT_LABEL_START =
        0,       /* a bar stamped t covers [t, t + f): bins are [k P, (k+1) P), stamped k P */
    BT_LABEL_END /* a bar stamped t covers (t - f, t]: bins are (k P, (k+1) P], stamped
                    (k+1) P */
} bt_label_t;

typedef struct bt_resample_opts {
    int64_t period;        /* target bar length, ns (BT_NS_PER_DAY: daily, 7 days: weekly) */
    bt_label_t label;      /* of intraday sources (a source with every bar at midnight is
                              stamped at the start of its days whatever this says); intraday
                              output is stamped the same way, 1d and 1w output at midnight of its
                              (first) day */
    bool session;          /* keep only bars stamped inside [session_open, session_close] */
    int64_t session_open;  /* ns since midnight, inclusive */
    int64_t session_close; /* ns since midnight, inclusive; below open: an overnight session,
                              whose bars from session_open on count to the next day */
} bt_resample_opts_t;

/* "Ns", "Nm", "Nh" (a period that divides a day: 5m, 15m, 1h, 4h, ...), "1d" or "1w".
 * BT_EINVAL otherwise. */
bt_err_t bt_resample_period_parse(const char *s, int64_t *out);
/* "HH:MM-HH:MM" -> open and close in ns since midnight. BT_EINVAL otherwise. */
bt_err_t bt_resample_session_parse(const char *s, int64_t *open, int64_t *close);

/* Appends the resampled bars of in to out (empty, with the output symbol). BT_EINVAL when the
 * target is finer than the source's detected frequency; BT_EDATA when no bar is left (every bar
 * outside the session). */
bt_err_t bt_resample(const bt_series_t *in, const bt_resample_opts_t *o, bt_bars_t *out,
                     bt_errbuf_t *eb);

#endif
