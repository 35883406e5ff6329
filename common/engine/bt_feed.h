/* bt_feed — the data feed of a book (internal to the engine).
 *
 * Slices the book's series to cfg.start..end, hands the loop one step at a
 * time (a single series bar by bar, or several series merged by time: bars
 * that share a timestamp are one step), computes the step's calendar flags
 * and says when the warm-up (cfg.trade_start) ends. Also the timeline
 * helpers bt_engine uses to combine sleeves. Per-step functions are inline:
 * they run on every bar. */
#ifndef BT_FEED_H
#define BT_FEED_H

#include "bt_book.h"
#include "bt_time.h"

/* Starts the feed of bk (cfg, nsym set) on series[0..nsym-1]. */
void bt_feed_open(bt_book_t *bk, const bt_series_t *series);

/* UTC day number of t (floor division). */
int64_t bt_feed_day(int64_t t);

/* Calendar boundaries after time t (a step that is not the next day). */
void bt_feed_cal_reset(bt_book_t *bk, int64_t t);

/* BT_CAL_* flags of the step at t compared with the previous step: no
 * division on consecutive days. 0 on the first step. */
static inline unsigned bt_feed_calendar(bt_book_t *bk, int64_t t)
{
    bt_feed_state_t *f = &bk->feed;
    if (f->step == 0) {
        bt_feed_cal_reset(bk, t);
        return 0;
    }
    if (t < f->day_end)
        return 0;
    unsigned fl = BT_CAL_NEW_DAY;
    if (t >= f->week_end)
        fl |= BT_CAL_NEW_WEEK;
    if (t >= f->month_end)
        fl |= BT_CAL_NEW_MONTH;
    if (t >= f->year_end)
        fl |= BT_CAL_NEW_YEAR;
    if (fl == BT_CAL_NEW_DAY && t < f->day_end + BT_NS_PER_DAY)
        f->day_end += BT_NS_PER_DAY;
    else
        bt_feed_cal_reset(bk, t);
    return fl;
}

/* True once, at the first step at or after cfg.trade_start (warm-up ends). */
static inline bool bt_feed_go_live(bt_book_t *bk, int64_t t)
{
    if (bk->feed.warm && t >= bk->cfg->trade_start) {
        bk->feed.warm = false;
        return true;
    }
    return false;
}

/* ---- One series (a sleeve, or a one-symbol book) ---- */

/* The columns of symbol 0, taken once before a run of bars (the compiler
 * keeps them in registers; reloading them through the book per bar costs). */
typedef struct bt_feed_cols {
    const int64_t *t;
    const double *o, *h, *l, *c, *v;
    size_t n;
} bt_feed_cols_t;

static inline bt_feed_cols_t bt_feed_begin_one(bt_book_t *bk)
{
    const bt_series_t *sr = &bk->feed.ser[0];
    bk->feed.has_bar[0] = 1;
    return (bt_feed_cols_t){sr->time, sr->open, sr->high, sr->low, sr->close, sr->volume, sr->n};
}

/* Loads bar i of symbol 0, found at row j of x's columns (j = i unless x holds a window of
 * the series starting at bar i - j; x->n is the series' length), as the current step; returns
 * its time. */
static inline int64_t bt_feed_load_one_at(bt_book_t *bk, const bt_feed_cols_t *x, size_t j,
                                          size_t i)
{
    bt_feed_state_t *f = &bk->feed;
    bt_bar_t *b = &f->bar[0];
    b->time = x->t[j];
    b->open = x->o[j];
    b->high = x->h[j];
    b->low = x->l[j];
    b->close = x->c[j];
    b->volume = x->v[j];
    f->close[0] = x->c[j];
    f->idx[0] = i;
    f->last_step = i + 1 == x->n;
    return x->t[j];
}

/* Loads bar i of symbol 0 as the current step; returns its time. */
static inline int64_t bt_feed_load_one(bt_book_t *bk, const bt_feed_cols_t *x, size_t i)
{
    return bt_feed_load_one_at(bk, x, i, i);
}

/* After the step at t of a one-series book. */
static inline void bt_feed_done_one(bt_book_t *bk, int64_t t)
{
    bk->feed.prev_time[0] = t;
}

/* ---- Several series merged by time (the PORTFOLIO book) ---- */

/* Bars left over all symbols. */
size_t bt_feed_remaining(const bt_book_t *bk);
/* Loads the next step (the earliest time among the symbols' next bars, every
 * symbol with a bar then: has_bar set); *remaining counts down. Returns its
 * time. Call only while *remaining > 0. */
int64_t bt_feed_merge(bt_book_t *bk, size_t *remaining);
/* After the step at t: the symbols that had a bar move on. */
void bt_feed_advance(bt_book_t *bk, int64_t t);

/* Time of symbol s's next bar after the current one; false if none. */
static inline bool bt_feed_next_time(const bt_book_t *bk, uint32_t s, int64_t *t)
{
    size_t nx = bk->feed.idx[s] + 1;
    if (nx >= bk->feed.ser[s].n)
        return false;
    *t = bk->feed.ser[s].time[nx];
    return true;
}

/* ---- Timelines (bt_engine) ---- */

/* Index of the first bar of sr at or after t (sr->n if none). */
size_t bt_feed_first_at(const bt_series_t *sr, int64_t t);
/* True if a and b have the same bar times. */
bool bt_feed_same_timeline(const bt_series_t *a, const bt_series_t *b);
/* Number of distinct times at or after from over the series get(base, 0..n-1)
 * (the step count of a merged feed, needed before stepping for the PBO
 * blocks); cur is n scratch cursors. */
uint64_t bt_feed_union_steps(const bt_series_t *(*get)(const void *, size_t), const void *base,
                             size_t n, size_t *cur, int64_t from);

#endif
