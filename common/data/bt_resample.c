/* bt_resample — OHLCV bars to coarser bars in one pass. */
#include "bt_resample.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bt_store.h"
#include "bt_time.h"

#define S_WEEK (7 * BT_NS_PER_DAY)
#define S_MONDAY (4 * BT_NS_PER_DAY) /* 1970-01-05, the first Monday after the epoch */

bt_err_t bt_resample_period_parse(const char *s, int64_t *out)
{
    if (strcmp(s, "1d") == 0) {
        *out = BT_NS_PER_DAY;
        return BT_OK;
    }
    if (strcmp(s, "1w") == 0) {
        *out = S_WEEK;
        return BT_OK;
    }
    int64_t n = 0;
    size_t i = 0;
    while (s[i] >= '0' && s[i] <= '9' && i < 6)
        n = n * 10 + (s[i++] - '0');
    if (i == 0 || n == 0 || s[i] == '\0' || s[i + 1] != '\0')
        return BT_EINVAL;
    int64_t unit = s[i] == 's'   ? BT_NS_PER_SEC
                   : s[i] == 'm' ? BT_NS_PER_MIN
                   : s[i] == 'h' ? BT_NS_PER_HOUR
                                 : 0;
    if (unit == 0 || n * unit > BT_NS_PER_DAY || BT_NS_PER_DAY % (n * unit) != 0)
        return BT_EINVAL;
    *out = n * unit;
    return BT_OK;
}

bt_err_t bt_resample_session_parse(const char *s, int64_t *open, int64_t *close)
{
    const char *dash = strchr(s, '-');
    if (!dash || !bt_time_parse_clock(s, (size_t)(dash - s), open) ||
        !bt_time_parse_clock(dash + 1, strlen(dash + 1), close) || *open == *close)
        return BT_EINVAL;
    return BT_OK;
}

static int64_t s_floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Whether a bar stamped at time of day c is in the session. */
static bool s_in_session(const bt_resample_opts_t *o, int64_t c)
{
    if (!o->session)
        return true;
    if (o->session_open < o->session_close)
        return c >= o->session_open && c <= o->session_close;
    return c >= o->session_open || c <= o->session_close;
}

/* The bin of a bar stamped t, and the stamp of that bin's output bar. */
static int64_t s_bin(const bt_resample_opts_t *o, int64_t t, int64_t *stamp)
{
    int64_t p = o->period;
    if (p >= BT_NS_PER_DAY) {
        int64_t c = t - s_floordiv(t, BT_NS_PER_DAY) * BT_NS_PER_DAY;
        int64_t day = s_floordiv(t, BT_NS_PER_DAY);
        if (o->label == BT_LABEL_END && c == 0)
            day--; /* a bar ending at midnight belongs to the day before */
        if (o->session && o->session_open > o->session_close && c >= o->session_open)
            day++; /* overnight session: the evening opens the next day */
        if (p == BT_NS_PER_DAY) {
            *stamp = day * BT_NS_PER_DAY;
            return day;
        }
        int64_t k = s_floordiv(day * BT_NS_PER_DAY - S_MONDAY, S_WEEK);
        *stamp = S_MONDAY + k * S_WEEK;
        return k;
    }
    int64_t k = o->label == BT_LABEL_END ? s_floordiv(t - 1, p) : s_floordiv(t, p);
    *stamp = o->label == BT_LABEL_END ? (k + 1) * p : k * p;
    return k;
}

bt_err_t bt_resample(const bt_series_t *in, const bt_resample_opts_t *o, bt_bars_t *out,
                     bt_errbuf_t *eb)
{
    const char *freq = bt_store_detect_frequency(in);
    int64_t fns = bt_store_frequency_ns(freq);
    if (fns > o->period)
        return bt_errf(eb, BT_EINVAL,
                       "%s: its bars are %s apart, coarser than the target; resampling only "
                       "makes bars longer (choose --to above %s)",
                       in->symbol, freq, freq);
    bool midnight = true;
    for (size_t i = 0; i < in->n && midnight; i++)
        midnight = in->time[i] % BT_NS_PER_DAY == 0;
    bt_resample_opts_t oo = *o;
    if (midnight)
        oo.label = BT_LABEL_START; /* daily bars are stamped at the start of their day */
    o = &oo;
    bool have = false;
    int64_t cur = 0, stamp = 0;
    double op = 0, hi = 0, lo = 0, cl = 0, vol = 0, adj = NAN;
    for (size_t i = 0; i < in->n; i++) {
        int64_t t = in->time[i];
        if (!s_in_session(o, t - s_floordiv(t, BT_NS_PER_DAY) * BT_NS_PER_DAY))
            continue;
        int64_t st;
        int64_t k = s_bin(o, t, &st);
        if (!have || k != cur) {
            if (have && bt_bars_push(out, stamp, op, hi, lo, cl, vol, adj) != BT_OK)
                return bt_errf(eb, BT_ENOMEM, "out of memory resampling %s", in->symbol);
            have = true;
            cur = k;
            stamp = st;
            op = in->open[i];
            hi = in->high[i];
            lo = in->low[i];
            vol = 0;
        }
        if (in->high[i] > hi)
            hi = in->high[i];
        if (in->low[i] < lo)
            lo = in->low[i];
        cl = in->close[i];
        vol += in->volume[i];
        adj = in->adj_close ? in->adj_close[i] : NAN;
    }
    if (!have)
        return bt_errf(eb, BT_EDATA,
                       "%s: no bar inside the session; check --session against the bar times "
                       "(bt data info)",
                       in->symbol);
    if (bt_bars_push(out, stamp, op, hi, lo, cl, vol, adj) != BT_OK)
        return bt_errf(eb, BT_ENOMEM, "out of memory resampling %s", in->symbol);
    return BT_OK;
}
