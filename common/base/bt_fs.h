/* bt_fs — the few file-system helpers the programs share. */
#ifndef BT_FS_H
#define BT_FS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bt_err.h"

/* Reads a whole file into a NUL-terminated buffer (caller frees). A file
 * larger than cap bytes is refused (BT_ELIMIT) before it is all read. */
char *bt_fs_read_file(const char *path, size_t cap, size_t *len, bt_errbuf_t *eb);

/* Reads exactly len bytes at offset off of fd into buf (pread may return less; EINTR is
 * retried); false on an error or when the file ends first. */
bool bt_fs_pread_all(int fd, void *buf, size_t len, uint64_t off);

/* mkdir -p: creates dir and its missing parents; fails (naming the part)
 * if one cannot be made or dir exists but is not a folder. */
bt_err_t bt_fs_mkdir_p(const char *dir, bt_errbuf_t *eb);

/* Replaces path with data[0..len) atomically: a reader sees the old file or
 * the whole new one, never a part, even after a crash. Writes a temp file in
 * the same folder, fsyncs it, renames it over path, fsyncs the folder. */
bt_err_t bt_fs_write_atomic(const char *path, const void *data, size_t len, bt_errbuf_t *eb);

/* The streaming form, for files written row by row:
 *     bt_fs_atomic_t a;
 *     if (bt_fs_atomic_open(&a, path, eb) != BT_OK) return ...;
 *     fprintf(a.f, ...);                         // any stdio writes
 *     e = bt_fs_atomic_commit(&a, eb);           // or bt_fs_atomic_abort(&a)
 * commit reports any write error (disk full) seen since open and leaves no
 * temp file behind on failure. abort is safe after commit, twice, or after a
 * failed open, so it can sit on every cleanup path. */
typedef struct bt_fs_atomic {
    FILE *f;             /* the open temp file; NULL once committed or aborted */
    char *buf;           /* f's buffer (glibc sizes its own by the block size: 4 KiB) */
    char tmp[PATH_MAX];  /* DIR/.NAME.PID.N.tmp */
    char path[PATH_MAX]; /* the final path */
} bt_fs_atomic_t;

bt_err_t bt_fs_atomic_open(bt_fs_atomic_t *a, const char *path, bt_errbuf_t *eb);
bt_err_t bt_fs_atomic_commit(bt_fs_atomic_t *a, bt_errbuf_t *eb);
void bt_fs_atomic_abort(bt_fs_atomic_t *a);

/* Temp files being written (the atomic writer's and bt_h5table's register
 * themselves, at most 64 at once), so that a SIGINT/SIGTERM handler can
 * remove them before the process ends: bt_fs_tmp_remove_all only calls
 * unlink (async-signal-safe). */
void bt_fs_tmp_track(const char *path);
void bt_fs_tmp_untrack(const char *path);
void bt_fs_tmp_remove_all(void);

#endif
