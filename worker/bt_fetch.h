/* bt_fetch — the worker's side of shipping files by hash: for each file a
 * SWEEP manifest names (the store, the strategy library) it finds a verified
 * copy in bt_cache or receives one chunk by chunk, keeping at most
 * BT_FETCH_WINDOW FETCH requests in flight so heartbeats and jobs
 * interleave. Knows messages, not sockets: the caller sends what
 * bt_fetch_next fills in and hands over every CHUNK. */
#ifndef BT_FETCH_H
#define BT_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bt_cache.h"
#include "bt_err.h"
#include "bt_wire.h"

#define BT_FETCH_WINDOW 4u /* FETCH requests in flight */

typedef struct bt_fetch bt_fetch_t;

bt_fetch_t *bt_fetch_new(bt_cache_t *cache);
void bt_fetch_destroy(bt_fetch_t **self_p);
/* Forgets every transfer (a new SWEEP, a reconnect). */
void bt_fetch_reset(bt_fetch_t *self);
/* Wants the file of manifest m for kind: a verified cached copy at once,
 * else a transfer starts. */
bt_err_t bt_fetch_want(bt_fetch_t *self, bt_wire_file_kind_t kind, const bt_wire_manifest_t *m,
                       bt_errbuf_t *eb);
/* Fills out with the next FETCH to send; false when the window is full or
 * nothing is left to ask for. */
bool bt_fetch_next(bt_fetch_t *self, bt_msg_t *out);
/* Takes a CHUNK. A chunk that does not match its hash is asked for again
 * (logged); a finished file is checked whole and moved into the cache. An
 * error is fatal for the sweep (the whole file does not match, disk full). */
bt_err_t bt_fetch_on_chunk(bt_fetch_t *self, const bt_msg_chunk_t *c, bt_errbuf_t *eb);
/* True when every wanted file is in the cache. */
bool bt_fetch_done(const bt_fetch_t *self);
/* The cached path of kind's file once done, else NULL. */
const char *bt_fetch_path(const bt_fetch_t *self, bt_wire_file_kind_t kind);
/* Bytes received over the network since bt_fetch_new (0 on a warm cache). */
uint64_t bt_fetch_bytes(const bt_fetch_t *self);

#endif
