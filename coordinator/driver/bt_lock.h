/* bt_lock — one coordinator per output folder.
 *
 * DIR/bt.lock holds "pid PID host HOST" of the coordinator using DIR and is
 * flock()ed (exclusive, non-blocking) while it runs. The kernel drops the
 * flock when the owner exits or is killed, so a lock is never left held by a
 * dead process; a non-empty but unlocked file is a stale lock (its owner died
 * without releasing), taken over with a warning naming the old owner. A clean
 * release empties the file. flock works on local file systems and on NFS
 * (Linux emulates it with POSIX locks there). */
#ifndef BT_LOCK_H
#define BT_LOCK_H

#include "bt_err.h"

#define BT_LOCK_FILE "bt.lock" /* file name inside the output folder */

typedef struct bt_lock bt_lock_t;

/* Takes the lock of folder dir (which must exist). NULL with BT_EEXIST and a
 * message naming the holder's pid and host if another process holds it;
 * other errors: BT_EIO. */
bt_lock_t *bt_lock_take(const char *dir, bt_errbuf_t *eb);

/* Releases (empties the file, drops the flock), frees, sets *lock_p = NULL.
 * Accepts NULL and *lock_p == NULL. */
void bt_lock_release(bt_lock_t **lock_p);

#endif
