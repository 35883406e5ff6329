/* bt_curve — CurveZMQ for the cluster: key files written by `bt keygen`,
 * the coordinator's allow-list of worker keys (a czmq zauth actor), and
 * putting keys on sockets. The coordinator's ROUTER is a CURVE server that
 * admits only allow-listed worker keys; each worker's DEALER pins the
 * coordinator's public key, so neither side talks to an impostor and all
 * traffic is encrypted.
 *
 * Key files use czmq's certificate format (zcert): NAME.key holds the public
 * key and may be copied anywhere; NAME.key_secret holds both keys and must
 * stay mode 0600 on its own machine.
 *
 * The `--keys DIR` layout (docs/cluster.md) that bt_curve_server_setup and
 * bt_curve_client_setup read:
 *   coordinator:  DIR/coordinator.key + DIR/coordinator.key_secret,
 *                 DIR/allow/ with one NAME.key per admitted worker;
 *   worker:       DIR/worker.key + DIR/worker.key_secret,
 *                 DIR/coordinator.key (the coordinator's public key). */
#ifndef BT_CURVE_H
#define BT_CURVE_H

#include <czmq.h>
#include <stdbool.h>

#include "bt_err.h"

#define BT_CURVE_PUBLIC_EXT ".key"
#define BT_CURVE_SECRET_EXT ".key_secret"
#define BT_CURVE_COORDINATOR "coordinator" /* key name in a --keys folder */
#define BT_CURVE_WORKER "worker"           /* key name in a --keys folder */
#define BT_CURVE_ALLOW_DIR "allow"         /* allow-list folder in a --keys folder */
#define BT_CURVE_NAME_MAX 64               /* longest key name */
#define BT_CURVE_ZAP_DOMAIN "bt"

/* True when libzmq was built with CURVE (libsodium). */
bool bt_curve_available(void);

/* True for a valid key name: 1..BT_CURVE_NAME_MAX of [A-Za-z0-9._-], not
 * starting with '.' or '-'. */
bool bt_curve_name_ok(const char *name);

/* Writes a new key pair: DIR/NAME.key (public, 0644) and DIR/NAME.key_secret
 * (secret, 0600), creating DIR (mkdir -p) if needed. Refuses (BT_EEXIST,
 * nothing written) if either file exists. */
bt_err_t bt_curve_keygen(const char *dir, const char *name, bt_errbuf_t *eb);

/* Loads a key pair given the public file's path (NAME.key); the secret is
 * read from NAME.key_secret, which must be a regular file with no group or
 * other permission bits, and must belong to the public key. NULL on error,
 * with a message naming the file and what to do. */
zcert_t *bt_curve_load_pair(const char *public_path, bt_errbuf_t *eb);

/* Loads only the public key of a NAME.key file (a secret file beside it is
 * never read). NULL on error. */
zcert_t *bt_curve_load_public(const char *public_path, bt_errbuf_t *eb);

/* The coordinator's allow-list: a zauth actor that admits CURVE clients
 * whose public key is in a NAME.key file of allow_dir (re-read by zauth
 * when the folder changes, so keys can be added while a sweep runs), and
 * nothing else (never CURVE_ALLOW_ANY). One per process: zauth is the
 * process's only ZAP handler. */
typedef struct bt_curve_auth_t bt_curve_auth_t;

/* Checks allow_dir (a folder; every NAME.key in it must load; a secret key
 * file in it is refused), then starts zauth on it. NULL on error. */
bt_curve_auth_t *bt_curve_auth_new(const char *allow_dir, bt_errbuf_t *eb);
/* NAME.key files found in the folder when the allow-list started. */
size_t bt_curve_auth_nkeys(const bt_curve_auth_t *self);
void bt_curve_auth_destroy(bt_curve_auth_t **self_p);

/* Makes sock (the coordinator's ROUTER, before bind) a CURVE server with
 * server_pair's keys, checked by auth. */
bt_err_t bt_curve_server_apply(zsock_t *sock, zcert_t *server_pair, const bt_curve_auth_t *auth,
                               bt_errbuf_t *eb);

/* Makes sock (a worker's DEALER, before connect) a CURVE client with its
 * own pair that accepts only a server holding server_public's key. */
bt_err_t bt_curve_client_apply(zsock_t *sock, zcert_t *own_pair, zcert_t *server_public,
                               bt_errbuf_t *eb);

/* `--keys DIR` for the coordinator: loads DIR/coordinator.key(_secret),
 * starts the allow-list on DIR/allow and applies both to router (before
 * bind). *auth_out receives the allow-list, which must outlive the socket. */
bt_err_t bt_curve_server_setup(zsock_t *router, const char *keys_dir, bt_curve_auth_t **auth_out,
                               bt_errbuf_t *eb);

/* `--keys DIR` for a worker: loads DIR/worker.key(_secret) and pins
 * DIR/coordinator.key on dealer (before connect). */
bt_err_t bt_curve_client_setup(zsock_t *dealer, const char *keys_dir, bt_errbuf_t *eb);

/* True when a ZeroMQ endpoint cannot be reached from another machine:
 * ipc://, inproc://, tcp://127.x.y.z:PORT, tcp://localhost:PORT,
 * tcp://[::1]:PORT. Everything else (the wildcard host '*', 0.0.0.0,
 * interface names, host names, other transports) is false. */
bool bt_curve_is_loopback(const char *endpoint);

#endif
