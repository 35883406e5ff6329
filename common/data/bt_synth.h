/* bt_synth — a seeded synthetic market for demos, examples and benchmarks.
 *
 * Each symbol is a geometric random walk driven by one common market factor
 * (beta * market shock) plus its own idiosyncratic shock, with a two-state
 * Markov switch between a calm and a stressed volatility regime that all
 * symbols share. Bars have consistent OHLC (open near the previous close,
 * occasional overnight gaps, high/low from the Brownian-bridge extremes of
 * the bar's move) and volume that rises on big moves. The calendar, the
 * model and its constants are in docs/synth.md.
 *
 * Determinism: the only randomness is the project's own PRNG (splitmix64 +
 * xoshiro256**), never rand(). Symbol k's bars depend only on (seed, k,
 * nbars, freq, start), so the same options give the same bytes and adding
 * symbols never changes the existing ones. */
#ifndef BT_SYNTH_H
#define BT_SYNTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bt_bars.h"
#include "bt_err.h"

#define BT_SYNTH_MAX_SYMBOLS 1000            /* symbols are SYN000 .. SYN999 */
#define BT_SYNTH_MAX_BARS UINT64_C(200000000) /* per symbol */

typedef struct bt_synth_opts {
    size_t nsym;      /* number of symbols, 1 .. BT_SYNTH_MAX_SYMBOLS */
    size_t nbars;     /* bars per symbol, 1 .. BT_SYNTH_MAX_BARS */
    const char *freq; /* "1d", "1h" or "1m" */
    uint64_t seed;    /* any value */
    int64_t start;    /* ns since epoch UTC; the first trading day on or after its date is used */
} bt_synth_opts_t;

/* Defaults: 4 symbols, 2520 bars, "1d", seed 42, start 2010-01-04. */
void bt_synth_opts_defaults(bt_synth_opts_t *o);

/* Checks o (counts in range, known frequency, calendar ends before 2262);
 * BT_EINVAL / BT_ERANGE with a message naming the option otherwise. */
bt_err_t bt_synth_check(const bt_synth_opts_t *o, bt_errbuf_t *eb);

/* "SYN000" for index 0, etc. buf must hold at least 8 bytes. */
void bt_synth_symbol(size_t sym_index, char *buf, size_t cap);

/* Appends the nbars bars of symbol sym_index (0-based; need not be < nsym)
 * to out. out's name is not changed: create it with bt_synth_symbol's. */
bt_err_t bt_synth_generate(const bt_synth_opts_t *o, size_t sym_index, bt_bars_t *out,
                           bt_errbuf_t *eb);

/* Writes all nsym symbols to the bar store at path (created if missing),
 * meta source "synth seed=S freq=F", sha256 "", frequency F. If a symbol
 * already exists and !replace, nothing is written and BT_EEXIST is returned
 * (checked for every symbol before the first write). Other symbols already
 * in the store are kept. */
bt_err_t bt_synth_write(const char *path, const bt_synth_opts_t *o, bool replace, bool deflate,
                        bt_errbuf_t *eb);

#endif
