/* bt_indcache — declared indicators (bt_decl_t) computed once per series.
 *
 * The grid fast path asks for indicator j of a grid point over the point's
 * series; the cache computes it on first use with bt_ind's array form (the
 * streaming update run over the series, so the same bits as a strategy that
 * updates the indicator bar by bar) and hands the same column to every
 * later point that declares the same kind, parameters, source and output on
 * the same series. A worker keeps one cache per sweep: the columns are
 * computed once per symbol and worker, not once per grid point.
 *
 * Not thread-safe (bt_indcache_fill runs its own threads): fill it before a
 * parallel region, read it inside. */
#ifndef BT_INDCACHE_H
#define BT_INDCACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "bt_err.h"
#include "bt_series.h"
#include "bt_strategy.h"

typedef struct bt_indcache bt_indcache_t;

/* max_bytes: columns kept before bt_indcache_trim drops them all. */
bt_indcache_t *bt_indcache_new(size_t max_bytes);
void bt_indcache_destroy(bt_indcache_t **self_p);

/* The n values of declared indicator d over series s (a slice: its bars are
 * bars 0..n-1 of the indicator), NaN before it is ready. Computed on first
 * use; NULL with eb set for an unknown kind, bad parameters or no memory.
 * The column stays valid until bt_indcache_trim or destroy. */
const double *bt_indcache_get(bt_indcache_t *self, const bt_series_t *s, const bt_decl_t *d,
                              bt_errbuf_t *eb);

/* Deferred columns (the grid fast path's batch set-up): while on, an SMA or
 * EMA of the close that bt_indcache_get has to compute is only given its
 * memory, and its values come with the next bt_indcache_fill — every
 * pending column at once, on up to `threads` threads (a series-long loop
 * each, so columns are the unit of parallel work). A pointer handed out
 * while deferring must not be read before that fill. Other kinds are
 * computed at once as before. Off by default. */
void bt_indcache_defer(bt_indcache_t *self, bool on);
void bt_indcache_fill(bt_indcache_t *self, int threads);

/* Drops every column when the cache holds more than max_bytes (call only
 * when no column handed out is still in use). */
void bt_indcache_trim(bt_indcache_t *self);

/* bt_feed_same_timeline of every slice s[1..n-1] with s[0], remembered for
 * the last set of slices asked about (a sweep asks for the same set again
 * and again; the comparison reads every time stamp). */
bool bt_indcache_same_timeline(bt_indcache_t *self, const bt_series_t *s, size_t n);

/* Columns computed since creation. */
size_t bt_indcache_computed(const bt_indcache_t *self);

#endif
