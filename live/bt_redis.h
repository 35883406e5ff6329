/* bt_redis — Redis for the live side (hiredis): the history cache of
 * `bt data fetch` and what `bt paper` publishes (latest bar, recent bars,
 * indicator values) and reads (a bar stream another process fills).
 *
 * Key layout (docs/live.md, "Redis keys"):
 *   bt:fetch:PROVIDER:SYMBOL:INTERVAL:FROM_MS:TO_MS:PAGE  string, one page body, with an expiry
 *   bt:paper:NAME:last:SYMBOL     hash  time, open, high, low, close, volume
 *   bt:paper:NAME:bars:SYMBOL     stream of recent bars, capped (MAXLEN ~)
 *   bt:paper:NAME:ind             hash  indicator name -> current value
 *   bt:paper:NAME:equity          hash  time, cash, equity, position per symbol
 *   (input) bt:bars:SYMBOL        stream a feeder fills: fields t (ns), o, h, l, c, v
 *
 * Redis is never needed by backtests or sweeps. When a command needs it and
 * it is down, the error names the address tried and how to start one. */
#ifndef BT_REDIS_H
#define BT_REDIS_H

#include <stdbool.h>
#include <stdint.h>

#include "bt_err.h"
#include "bt_rest_fetch.h"

typedef struct bt_redis bt_redis_t;

/* addr: "host:port", "host" (port 6379), "unix:/path" or "/path". Connects
 * (2 s time-out) and PINGs; NULL with a message naming addr otherwise. */
bt_redis_t *bt_redis_connect(const char *addr, bt_errbuf_t *eb);
void bt_redis_destroy(bt_redis_t **self_p);

/* Fills cache with get/put on r; pages expire after ttl_s seconds. */
void bt_redis_fetch_cache(bt_redis_t *r, long ttl_s, bt_fetch_cache_t *cache);


/* The sentence that says how to start a private redis-server (for errors). */
const char *bt_redis_hint(void);

#endif
