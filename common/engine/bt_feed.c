/* bt_feed — the data feed of a book. See bt_feed.h. */
#include "bt_feed.h"

#include <string.h>

#include "bt_time.h"

void bt_feed_open(bt_book_t *bk, const bt_series_t *series)
{
    const bt_engine_cfg_t *c = bk->cfg;
    bt_feed_state_t *f = &bk->feed;
    for (size_t s = 0; s < bk->nsym; s++)
        f->ser[s] = bt_series_slice_time(&series[s], c->start, c->end);
    f->step = 0;
    f->t = 0;
    f->warm = c->trade_start != INT64_MIN;
    f->last_step = false;
}

int64_t bt_feed_day(int64_t t)
{
    int64_t q = t / BT_NS_PER_DAY;
    if ((t % BT_NS_PER_DAY != 0) && (t < 0))
        q--;
    return q;
}

void bt_feed_cal_reset(bt_book_t *bk, int64_t t)
{
    bt_feed_state_t *f = &bk->feed;
    int64_t d = bt_feed_day(t);
    int64_t wd = ((d % 7) + 7 + 3) % 7; /* 1970-01-01 was a Thursday; 0 = Monday */
    int y, m, dd;
    bt_civil_from_days(d, &y, &m, &dd);
    f->day_end = (d + 1) * BT_NS_PER_DAY;
    f->week_end = (d - wd + 7) * BT_NS_PER_DAY;
    f->month_end = bt_days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1) * BT_NS_PER_DAY;
    f->year_end = bt_days_from_civil(y + 1, 1, 1) * BT_NS_PER_DAY;
}

size_t bt_feed_remaining(const bt_book_t *bk)
{
    size_t remaining = 0;
    for (size_t s = 0; s < bk->nsym; s++)
        remaining += bk->feed.ser[s].n;
    return remaining;
}

int64_t bt_feed_merge(bt_book_t *bk, size_t *remaining)
{
    bt_feed_state_t *f = &bk->feed;
    size_t ns = bk->nsym;
    int64_t t = INT64_MAX;
    for (size_t s = 0; s < ns; s++)
        if (f->idx[s] < f->ser[s].n && f->ser[s].time[f->idx[s]] < t)
            t = f->ser[s].time[f->idx[s]];
    size_t here = 0;
    for (size_t s = 0; s < ns; s++) {
        const bt_series_t *sr = &f->ser[s];
        size_t i = f->idx[s];
        f->has_bar[s] = i < sr->n && sr->time[i] == t;
        if (f->has_bar[s]) {
            bt_bar_t *b = &f->bar[s];
            b->time = t;
            b->open = sr->open[i];
            b->high = sr->high[i];
            b->low = sr->low[i];
            b->close = sr->close[i];
            b->volume = sr->volume[i];
            f->close[s] = b->close;
            here++;
        }
    }
    *remaining -= here;
    f->last_step = *remaining == 0;
    return t;
}

void bt_feed_advance(bt_book_t *bk, int64_t t)
{
    bt_feed_state_t *f = &bk->feed;
    for (size_t s = 0; s < bk->nsym; s++) {
        if (f->has_bar[s]) {
            f->prev_time[s] = t;
            f->idx[s]++;
        }
    }
}

size_t bt_feed_first_at(const bt_series_t *sr, int64_t t)
{
    size_t lo = 0, hi = sr->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sr->time[mid] < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

bool bt_feed_same_timeline(const bt_series_t *a, const bt_series_t *b)
{
    return a->n == b->n && (a->time == b->time || a->n == 0 ||
                            memcmp(a->time, b->time, a->n * sizeof *a->time) == 0);
}

uint64_t bt_feed_union_steps(const bt_series_t *(*get)(const void *, size_t), const void *base,
                             size_t n, size_t *cur, int64_t from)
{
    for (size_t s = 0; s < n; s++)
        cur[s] = 0;
    uint64_t steps = 0;
    for (;;) {
        int64_t t = INT64_MAX;
        bool any = false;
        for (size_t s = 0; s < n; s++) {
            const bt_series_t *sr = get(base, s);
            if (cur[s] < sr->n && sr->time[cur[s]] <= t) {
                t = sr->time[cur[s]];
                any = true;
            }
        }
        if (!any)
            return steps;
        for (size_t s = 0; s < n; s++) {
            const bt_series_t *sr = get(base, s);
            if (cur[s] < sr->n && sr->time[cur[s]] == t)
                cur[s]++;
        }
        steps += t >= from;
    }
}
