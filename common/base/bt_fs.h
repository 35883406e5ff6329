/* bt_fs — the few file-system helpers the programs share. */
#ifndef BT_FS_H
#define BT_FS_H

#include <stddef.h>

#include "bt_err.h"

/* Reads a whole file into a NUL-terminated buffer (caller frees). A file
 * larger than cap bytes is refused (BT_ELIMIT) before it is all read. */
char *bt_fs_read_file(const char *path, size_t cap, size_t *len, bt_errbuf_t *eb);

/* mkdir -p: creates dir and its missing parents; fails (naming the part)
 * if one cannot be made or dir exists but is not a folder. */
bt_err_t bt_fs_mkdir_p(const char *dir, bt_errbuf_t *eb);

#endif
