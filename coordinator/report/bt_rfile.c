#include "bt_rfile.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

bt_err_t bt_rfile_open(bt_rfile_t *o, const char *dir, const char *name, bt_errbuf_t *eb)
{
    int a = snprintf(o->tmp, sizeof o->tmp, "%s/.%s.tmp", dir, name);
    int b = snprintf(o->final, sizeof o->final, "%s/%s", dir, name);
    if (a < 0 || b < 0 || (size_t)a >= sizeof o->tmp || (size_t)b >= sizeof o->final)
        return bt_errf(eb, BT_EINVAL, "output folder path too long: %s", dir);
    o->f = fopen(o->tmp, "w");
    if (!o->f)
        return bt_errf(eb, BT_EIO, "cannot create %s: %s", o->tmp, strerror(errno));
    setvbuf(o->f, NULL, _IOFBF, 1 << 20);
    return BT_OK;
}

bt_err_t bt_rfile_commit(bt_rfile_t *o, bt_errbuf_t *eb)
{
    bool bad = ferror(o->f) != 0;
    bad |= fflush(o->f) != 0;
    bad |= fsync(fileno(o->f)) != 0;
    int err = errno;
    bad |= fclose(o->f) != 0;
    o->f = NULL;
    if (bad) {
        unlink(o->tmp);
        return bt_errf(eb, BT_EIO, "writing %s failed: %s (is the disk full?)", o->tmp,
                       strerror(err));
    }
    if (rename(o->tmp, o->final) != 0) {
        err = errno;
        unlink(o->tmp);
        return bt_errf(eb, BT_EIO, "cannot rename %s to %s: %s", o->tmp, o->final, strerror(err));
    }
    return BT_OK;
}

void bt_rfile_abort(bt_rfile_t *o)
{
    if (o->f) {
        fclose(o->f);
        o->f = NULL;
        unlink(o->tmp);
    }
}

