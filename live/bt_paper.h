/* bt_paper — paper trading: a config's strategy on live bars (`bt paper`).
 *
 * One czmq zloop multiplexes everything: the REST provider polled on a timer
 * through libcurl's multi interface (bt_http), or a Redis stream read with
 * hiredis' async API (bt_redis_async); Redis publishing; SIGINT/SIGTERM;
 * a ZeroMQ REP control socket ("status", "stop"). Bars go through the same
 * engine as `bt run` (bt_live). Per step, in this order:
 *   1. bt_live_step
 *   2. OUT/events.csv (orders placed, fills) and OUT/equity.csv, appended
 *   3. OUT/journal.csv: the step's bars, appended and fsynced
 *   4. OUT/orders.csv (same columns as bt run), OUT/status.txt, replaced
 *   5. Redis: latest bar, capped stream of recent bars, indicator values, equity
 * A restart replays the journal into a new engine (same state, nothing
 * re-emitted), trims events/equity rows of steps the journal lacks, and goes
 * on from the bar after the last journaled one: no order is placed twice.
 * Late, repeated, out-of-order or invalid bars are dropped and logged; gaps
 * logged; provider and Redis outages retried with back-off. With several
 * symbols a step waits for every symbol's bar, at most grace_ms after its
 * first bar came; a symbol still missing then has no bar at that step, as a
 * backtest treats a gap, and its bar coming later is dropped. docs/live.md. */
#ifndef BT_PAPER_H
#define BT_PAPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bt_err.h"
#include "bt_provider.h"

typedef struct bt_paper_opts {
    const char *config;         /* the config (its strategy, params, symbols, costs) */
    const char *const *sets;    /* --set overrides */
    size_t nsets;
    const char *out;            /* output folder (journal, events, equity, orders) */
    bool from_redis;            /* bars from Redis streams bt:bars:SYMBOL, else REST polling */
    const bt_provider_t *prov;  /* REST provider */
    const char *base;           /* its base URL */
    const char *api_key;        /* or NULL; never logged */
    const char *interval;       /* bar interval (REST) */
    int64_t from;               /* first bar wanted (REST; INT64_MIN: the latest only) */
    long poll_ms;               /* poll period; 0: the interval (accelerated clocks: less) */
    long grace_ms;              /* several symbols: wait this long for a symbol's bar before
                                   stepping without it; -1: three poll periods */
    const char *redis;          /* Redis address, or NULL (then --source redis is refused) */
    const char *name;           /* key prefix bt:paper:NAME: */
    size_t stream_cap;          /* MAXLEN of bt:paper:NAME:bars:SYMBOL */
    const char *indicators;     /* "sma,ema,rsi": kinds published with default parameters */
    const char *control;        /* ZeroMQ endpoint of the control socket, or NULL */
    long idle_exit;             /* stop after this many polls without a new bar; 0 = never */
    long max_steps;             /* stop after this many steps in total; 0 = never */
} bt_paper_opts_t;

void bt_paper_opts_defaults(bt_paper_opts_t *o);

/* Runs until stopped (signal, control "stop", idle_exit, max_steps).
 * BT_ECONFIG for a bad config or a journal of another config (nothing done). */
bt_err_t bt_paper_run(const bt_paper_opts_t *o, bt_errbuf_t *eb);

#endif
