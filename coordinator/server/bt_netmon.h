/* bt_netmon — names the peers that fail the CurveZMQ handshake on the
 * coordinator's socket. libzmq's monitor reports a refused handshake
 * (ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: the allow-list said no) with the bind
 * endpoint only; the peer's address is taken from the connection's socket
 * when it is accepted (ZMQ_EVENT_ACCEPTED carries its fd) and reported when
 * that connection closes after a failed handshake. A small actor does the
 * watching, so getpeername runs while the connection is still open; the
 * server's thread drains its reports and logs them. */
#ifndef BT_NETMON_H
#define BT_NETMON_H

#include <czmq.h>

typedef struct bt_netmon bt_netmon_t;

/* Watches router (called from the thread that owns it). NULL on failure
 * (then nothing is watched; the server runs on). */
bt_netmon_t *bt_netmon_new(zsock_t *router);
/* Stops watching (same thread as new, before router is destroyed). */
void bt_netmon_destroy(bt_netmon_t **self_p);
/* What to add to the server's poller. */
zactor_t *bt_netmon_actor(bt_netmon_t *self);
/* Logs each report waiting: an error for a worker refused by the allow-list
 * in keys_dir, a warning for any other failed handshake. */
void bt_netmon_drain(bt_netmon_t *self, const char *keys_dir);

#endif
