#include "bt_wf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt_time.h"

#define S_LEN_MAX 1000000000LL /* largest number in a length */

bool bt_wf_parse_len(const char *s, size_t len, bt_wf_len_t *out)
{
    if (!s || len == 0)
        return false;
    int64_t n = 0;
    size_t i = 0;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        n = n * 10 + (s[i] - '0');
        if (n > S_LEN_MAX)
            return false;
    }
    if (i == 0 || n < 1)
        return false;
    bt_wf_unit_t u = BT_WF_BARS;
    if (i < len) {
        if (i + 1 != len)
            return false;
        switch (s[i]) {
        case 'b': u = BT_WF_BARS; break;
        case 'd': u = BT_WF_DAYS; break;
        case 'w': u = BT_WF_WEEKS; break;
        case 'm': u = BT_WF_MONTHS; break;
        case 'y': u = BT_WF_YEARS; break;
        default: return false;
        }
    }
    out->n = n;
    out->unit = u;
    return true;
}

char *bt_wf_format_len(const bt_wf_len_t *l, char *buf, size_t cap)
{
    static const char units[] = "bdwmy";
    snprintf(buf, cap, "%lld%c", (long long)l->n, units[(int)l->unit]);
    return buf;
}

bt_err_t bt_wf_check(const bt_wf_spec_t *spec, bt_errbuf_t *eb)
{
    bool tb = spec->train.unit == BT_WF_BARS, sb = spec->test.unit == BT_WF_BARS,
         pb = spec->step.unit == BT_WF_BARS;
    if (tb != sb || tb != pb)
        return bt_errf(eb, BT_ECONFIG,
                       "walk_forward: train, test and step must all be in bars (500b) or all in "
                       "calendar units (20d, 2w, 6m, 3y)");
    if (spec->train.n < 1 || spec->test.n < 1 || spec->step.n < 1)
        return bt_errf(eb, BT_ECONFIG, "walk_forward: lengths must be at least 1");
    return BT_OK;
}

static int s_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

bt_err_t bt_wf_timeline(const bt_series_t *series, size_t nsym, int64_t start, int64_t end,
                        int64_t **times, size_t *n, bt_errbuf_t *eb)
{
    size_t total = 0;
    for (size_t s = 0; s < nsym; s++)
        total += bt_series_slice_time(&series[s], start, end).n;
    int64_t *t = malloc((total ? total : 1) * sizeof *t);
    if (!t)
        return bt_errf(eb, BT_ENOMEM, "out of memory for the walk-forward timeline");
    size_t k = 0;
    for (size_t s = 0; s < nsym; s++) {
        bt_series_t v = bt_series_slice_time(&series[s], start, end);
        memcpy(t + k, v.time, v.n * sizeof *t);
        k += v.n;
    }
    qsort(t, k, sizeof *t, s_cmp_i64);
    size_t u = 0;
    for (size_t i = 0; i < k; i++)
        if (u == 0 || t[i] != t[u - 1])
            t[u++] = t[i];
    *times = t;
    *n = u;
    return BT_OK;
}

/* t + count * len in calendar units, saturating at INT64_MAX. */
static int64_t s_add(int64_t t, const bt_wf_len_t *len, int64_t count)
{
    int64_t n;
    if (__builtin_mul_overflow(len->n, count, &n))
        return INT64_MAX;
    if (len->unit == BT_WF_DAYS || len->unit == BT_WF_WEEKS) {
        int64_t days = n, ns;
        if (len->unit == BT_WF_WEEKS && __builtin_mul_overflow(days, 7, &days))
            return INT64_MAX;
        if (__builtin_mul_overflow(days, BT_NS_PER_DAY, &ns) || __builtin_add_overflow(t, ns, &ns))
            return INT64_MAX;
        return ns;
    }
    int64_t months = n;
    if (len->unit == BT_WF_YEARS && __builtin_mul_overflow(months, 12, &months))
        return INT64_MAX;
    if (months > 12LL * 100000)
        return INT64_MAX;
    bt_civil_t c;
    bt_time_to_civil(t, &c);
    int64_t mi = (int64_t)c.year * 12 + (c.month - 1) + months;
    if (mi / 12 > 9999)
        return INT64_MAX;
    c.year = (int)(mi / 12);
    c.month = (int)(mi % 12) + 1;
    while (c.day > 28 && !bt_date_valid(c.year, c.month, c.day))
        c.day--;
    return bt_time_from_civil(&c);
}

static size_t s_lower(const int64_t *t, size_t n, int64_t x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

bt_err_t bt_wf_windows(const bt_wf_spec_t *spec, const int64_t *times, size_t n,
                       bt_wf_window_t **out, size_t *nout, bt_errbuf_t *eb)
{
    *out = NULL;
    *nout = 0;
    bt_err_t rc = bt_wf_check(spec, eb);
    if (rc != BT_OK)
        return rc;
    if (n == 0)
        return bt_errf(eb, BT_EDATA, "walk_forward: no bars in the data range");
    size_t cap = 16, nw = 0;
    bt_wf_window_t *w = malloc(cap * sizeof *w);
    if (!w)
        return bt_errf(eb, BT_ENOMEM, "out of memory");
    bool bars = spec->train.unit == BT_WF_BARS;
    for (int64_t k = 0; k < (int64_t)BT_WF_MAX_WINDOWS * 1000; k++) {
        size_t a0, a1, b1;
        if (bars) {
            uint64_t off = (uint64_t)k * (uint64_t)spec->step.n;
            uint64_t e = off + (uint64_t)spec->train.n;
            if (e >= n)
                break;
            a0 = spec->anchored ? 0 : (size_t)off;
            a1 = (size_t)e;
            uint64_t te = e + (uint64_t)spec->test.n;
            b1 = te > n ? n : (size_t)te;
        } else {
            int64_t t0 = times[0];
            int64_t s = s_add(t0, &spec->step, k);
            int64_t te = s == INT64_MAX ? INT64_MAX : s_add(s, &spec->train, 1);
            if (te == INT64_MAX)
                break;
            a0 = spec->anchored ? 0 : s_lower(times, n, s);
            a1 = s_lower(times, n, te);
            if (a1 >= n)
                break;
            int64_t xe = s_add(te, &spec->test, 1);
            b1 = xe == INT64_MAX ? n : s_lower(times, n, xe);
        }
        if (b1 <= a1 || a1 < a0 + 2)
            continue; /* a gap in the data: no test bar, or too few training bars */
        if (nw == BT_WF_MAX_WINDOWS) {
            free(w);
            return bt_errf(eb, BT_ELIMIT, "walk_forward: more than %d windows; use a longer step",
                           BT_WF_MAX_WINDOWS);
        }
        if (nw == cap) {
            cap *= 2;
            bt_wf_window_t *nwp = realloc(w, cap * sizeof *w);
            if (!nwp) {
                free(w);
                return bt_errf(eb, BT_ENOMEM, "out of memory");
            }
            w = nwp;
        }
        bt_wf_window_t *x = &w[nw++];
        x->train_i0 = a0;
        x->train_i1 = a1;
        x->test_i0 = a1;
        x->test_i1 = b1;
        x->train_first = times[a0];
        x->train_last = times[a1 - 1];
        x->test_first = times[a1];
        x->test_last = times[b1 - 1];
    }
    if (nw == 0) {
        free(w);
        char tr[24], te[24];
        return bt_errf(eb, BT_EDATA,
                       "walk_forward: the data (%zu bars) is too short for one window of train %s "
                       "+ test %s; shorten them or widen data.start/data.end",
                       n, bt_wf_format_len(&spec->train, tr, sizeof tr),
                       bt_wf_format_len(&spec->test, te, sizeof te));
    }
    *out = w;
    *nout = nw;
    return BT_OK;
}
