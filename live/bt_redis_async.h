/* bt_redis_async — hiredis' asynchronous API on a czmq zloop (bt paper).
 *
 * hiredis ships adapters for libev, libuv, ...; this is the one for zloop:
 * the connection's socket becomes a zloop poller whose events follow what
 * hiredis asks for (read / write). A dropped connection (Redis restarted)
 * is reconnected by a zloop timer with back-off (0.5 s doubling to 30 s);
 * commands given while down are dropped and counted, never queued without
 * bound. */
#ifndef BT_REDIS_ASYNC_H
#define BT_REDIS_ASYNC_H

#include <stdbool.h>
#include <stddef.h>

#include "bt_err.h"

typedef struct bt_aredis bt_aredis_t;
struct redisReply;

/* reply is NULL when the connection dropped before the answer. */
typedef void (bt_aredis_fn)(void *user, struct redisReply *reply);

/* Starts connecting to addr (as bt_redis_connect) on loop (a zloop_t *).
 * NULL only on a bad address or out of memory. */
bt_aredis_t *bt_aredis_new(void *loop, const char *addr, bt_errbuf_t *eb);
void bt_aredis_destroy(bt_aredis_t **self_p);
bool bt_aredis_up(const bt_aredis_t *r);
/* Times the connection came up (1 = first connect). */
unsigned bt_aredis_connects(const bt_aredis_t *r);
/* Sends one command (argv form); fn may be NULL. false when down (dropped). */
bool bt_aredis_cmd(bt_aredis_t *r, bt_aredis_fn *fn, void *user, int argc, const char **argv,
                   const size_t *lens);

#endif
