/* bt_store_stamp — private to bt_store: remembers which symbols of a store
 * file had their bars hashed and found equal to their content_sha256 and
 * their time checked strictly increasing (version 2; version 1 stamps, which
 * a worker wrote for fetched stores without the time check, are ignored), for
 * as long as the file is provably unchanged (same device, inode, size,
 * mtime and ctime; ctime cannot be set back by a user), so later loads of
 * an unchanged store skip the sha256 pass (docs/data.md, "Hashing").
 *
 * Stamps live in $BT_VERIFY_CACHE, else $XDG_CACHE_HOME/backtester/verified,
 * else ~/.cache/backtester/verified, one file per device+inode;
 * BT_VERIFY_CACHE=off disables them. Any failure to read or write a stamp
 * only means hashing again. */
#ifndef BT_STORE_STAMP_H
#define BT_STORE_STAMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

typedef struct bt_stamp bt_stamp_t;

/* The stamp of the file st describes, or an empty one (never NULL unless out
 * of memory). */
bt_stamp_t *bt_stamp_load(const struct stat *st);
void bt_stamp_destroy(bt_stamp_t **self_p);
/* True when sym was verified with exactly this content hash. */
bool bt_stamp_has(const bt_stamp_t *self, const char *sym, const char content[65]);
/* Records sym as verified (kept in memory until bt_stamp_save). */
void bt_stamp_add(bt_stamp_t *self, const char *sym, const char content[65]);
/* Writes the stamp if the file is unchanged since bt_stamp_load (after
 * equals the st given then) and its ctime is old enough that a change in
 * the same clock tick cannot hide behind it. */
void bt_stamp_save(bt_stamp_t *self, const struct stat *after);
/* bt_stamp_save without the ctime margin, for a file the caller has just
 * written itself, checked whole by sha256 and closed (a worker's fetched
 * copy): nothing else writes it, so no change can hide in the same tick. */
void bt_stamp_save_fresh(bt_stamp_t *self, const struct stat *after);

/* Whole-file stamps: the sha256 of a file's bytes, and of each chunk of
 * `chunk` bytes when nchunks > 0, for as long as the file is unchanged (the
 * same identity as above), so an unchanged file is not hashed again (a
 * coordinator serving its store, a worker looking up its cache). Same
 * folder, one file per device+inode with the suffix ".sha". */
/* True when a stamp of the file st describes holds its sha256 (and exactly
 * nchunks chunk hashes of `chunk` bytes); fills sha and chunk_sha. */
bool bt_stamp_file_get(const struct stat *st, uint32_t chunk, char sha[65],
                       char (*chunk_sha)[65], uint32_t nchunks);
/* Records them; fresh as bt_stamp_save_fresh, else with bt_stamp_save's
 * ctime margin (a file changed within the margin is not stamped). */
void bt_stamp_file_put(const struct stat *st, uint32_t chunk, const char sha[65],
                       const char (*chunk_sha)[65], uint32_t nchunks, bool fresh);

#endif
