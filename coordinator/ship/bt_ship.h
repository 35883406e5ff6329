/* bt_ship — the files a coordinator serves to its workers by content hash:
 * the bar store and a strategy library. Each file is opened once (a regular
 * file only: O_NONBLOCK + S_ISREG, so a FIFO never blocks), hashed whole and
 * per chunk; a worker asks for chunks by (hash, offset, length) and gets
 * bytes only from files added here, never from a path it names. Knows files
 * and hashes only: no socket, no message encoding. */
#ifndef BT_SHIP_H
#define BT_SHIP_H

#include <stddef.h>
#include <stdint.h>

#include "bt_err.h"

#define BT_SHIP_CHUNK (1u << 20)       /* bytes per chunk (the last may be shorter) */
#define BT_SHIP_FILE_MAX (64ull << 30) /* largest file served (64 GiB) */
#define BT_SHIP_FILES_MAX 8u           /* files one coordinator serves */

typedef enum { BT_SHIP_DATA = 0, BT_SHIP_LIB = 1 } bt_ship_kind_t;

/* What a worker needs to fetch and verify one file. */
typedef struct bt_ship_manifest {
    bt_ship_kind_t kind;
    char sha256[65];             /* of the whole file */
    uint64_t size;               /* bytes */
    uint32_t chunk;              /* BT_SHIP_CHUNK */
    uint32_t nchunks;            /* ceil(size / chunk) */
    const char (*chunk_sha)[65]; /* nchunks hashes, chunk i = bytes [i*chunk, ...) */
} bt_ship_manifest_t;

typedef struct bt_ship bt_ship_t;

bt_ship_t *bt_ship_new(void);
void bt_ship_destroy(bt_ship_t **self_p);

/* Opens and hashes path; its manifest stays valid until destroy. Adding a
 * file with the same content again returns the existing one. */
const bt_ship_manifest_t *bt_ship_add(bt_ship_t *self, bt_ship_kind_t kind, const char *path,
                                      bt_errbuf_t *eb);

/* Copies bytes [offset, offset + len) of the file hashing to sha into buf.
 * Everything comes from a worker, so all of it is checked: an unknown hash
 * is BT_ENOTFOUND, an offset not on a chunk boundary, len 0, over
 * BT_SHIP_CHUNK or past the end BT_ERANGE. *got = bytes copied (short at the
 * end of the file). */
bt_err_t bt_ship_read(bt_ship_t *self, const char *sha, uint64_t offset, uint32_t len, void *buf,
                      size_t *got, bt_errbuf_t *eb);

/* Serves, as the data file, a store cut to symbols (NULL: all; any order,
 * duplicates allowed) and [start, end] (bt_store_cut), built once into dir
 * (created if absent) under a name derived from data_hash (the whole
 * store's) and the cut, and reused by later sweeps: a worker is sent only
 * what a sweep reads, and the same cut has the same sha256 every time. */
const bt_ship_manifest_t *bt_ship_add_cut(bt_ship_t *self, const char *store,
                                          const char *data_hash, const char *const *symbols,
                                          size_t nsym, int64_t start, int64_t end,
                                          const char *dir, bt_errbuf_t *eb);

struct bt_plan;
/* bt_ship_add_cut for what the sweep of plan reads: the config's symbols and
 * every symbol-set axis's (all symbols when the config names none) over
 * data.start..data.end (the whole range when a grid axis moves a date); the
 * store file itself when that is all of it (no copy, no cut). */
const bt_ship_manifest_t *bt_ship_add_plan(bt_ship_t *self, const struct bt_plan *plan,
                                           const char *dir, bt_errbuf_t *eb);

struct bt_msg;
/* The server's hooks (bt_server.c), so the server loop stays small. */
/* Fills the SWEEP's manifests (data_file, lib_file) from the files served;
 * views stay valid until destroy. */
void bt_ship_sweep_manifests(const bt_ship_t *self, struct bt_msg *sweep);
/* Answers the FETCH in `in` with a CHUNK in `out` (bytes in the ship's own
 * buffer, valid until the next call). An error says why (unknown hash, out
 * of range) and nothing is to be sent. */
bt_err_t bt_ship_answer(bt_ship_t *self, const struct bt_msg *in, struct bt_msg *out,
                        bt_errbuf_t *eb);

/* A CHUNK answer encoded in one buffer: the message's head, then the file's
 * bytes read straight after it, so it reaches the socket with no copy
 * (zmq_msg_init_data(data, len, release, hint)). The buffer belongs to the
 * ship's pool until release(data, hint) gives it back, which may run on any
 * thread and also after bt_ship_destroy. Errors as bt_ship_answer; then
 * nothing is to be sent or released. */
typedef struct {
    void *data;                              /* the encoded CHUNK */
    size_t len;                              /* its bytes */
    void (*release)(void *data, void *hint); /* call once when sent or dropped */
    void *hint;                              /* release's second argument */
} bt_ship_frame_t;
bt_err_t bt_ship_answer_frame(bt_ship_t *self, const struct bt_msg *in, bt_ship_frame_t *out,
                              bt_errbuf_t *eb);

/* Bytes served so far (for logs and benchmarks). */
uint64_t bt_ship_bytes_served(const bt_ship_t *self);

#endif
