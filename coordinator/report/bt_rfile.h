/* bt_rfile — a report file written atomically: into DIR/.NAME.tmp, then
 * fsync'd and renamed to DIR/NAME, so a kill never leaves a torn file. */
#ifndef BT_RFILE_H
#define BT_RFILE_H

#include <stdio.h>

#include "bt_err.h"

typedef struct bt_rfile {
    FILE *f;          /* open temporary file */
    char tmp[4096];   /* DIR/.NAME.tmp */
    char final[4096]; /* DIR/NAME */
} bt_rfile_t;

/* Opens the temporary file (o->f) with a 1 MiB buffer. */
bt_err_t bt_rfile_open(bt_rfile_t *o, const char *dir, const char *name, bt_errbuf_t *eb);
/* Flushes, fsyncs, closes and renames into place; on error the temporary is removed. */
bt_err_t bt_rfile_commit(bt_rfile_t *o, bt_errbuf_t *eb);
/* Drops an open temporary file (no-op once committed). */
void bt_rfile_abort(bt_rfile_t *o);

#endif
