/* bt_lock — see bt_lock.h. */
#include "bt_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bt_log.h"

struct bt_lock {
    int fd;          /* the flock()ed file */
    char path[4096]; /* DIR/bt.lock */
};

/* The file's text (the owner line) into buf, without the trailing newline. */
static void s_read_owner(int fd, char *buf, size_t cap)
{
    ssize_t n = pread(fd, buf, cap - 1, 0);
    buf[n > 0 ? n : 0] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
}

bt_lock_t *bt_lock_take(const char *dir, bt_errbuf_t *eb)
{
    bt_lock_t *l = calloc(1, sizeof *l);
    if (!l) {
        bt_errf(eb, BT_ENOMEM, "out of memory");
        return NULL;
    }
    int n = snprintf(l->path, sizeof l->path, "%s/%s", dir, BT_LOCK_FILE);
    if (n < 0 || (size_t)n >= sizeof l->path) {
        bt_errf(eb, BT_EINVAL, "output folder path too long: %s", dir);
        free(l);
        return NULL;
    }
    l->fd = open(l->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (l->fd < 0) {
        bt_errf(eb, BT_EIO, "cannot open %s: %s", l->path, strerror(errno));
        free(l);
        return NULL;
    }
    char owner[512];
    if (flock(l->fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        s_read_owner(l->fd, owner, sizeof owner);
        if (err == EWOULDBLOCK)
            bt_errf(eb, BT_EEXIST,
                    "%s is in use by another coordinator (%s, lock file %s); wait for it to end "
                    "or stop it, then run again",
                    dir, owner[0] ? owner : "owner not yet written", l->path);
        else
            bt_errf(eb, BT_EIO, "cannot lock %s: %s", l->path, strerror(err));
        close(l->fd);
        free(l);
        return NULL;
    }
    s_read_owner(l->fd, owner, sizeof owner);
    if (owner[0])
        bt_log(BT_LOG_WARN, "%s: taking over a stale lock (%s ended without releasing it)", l->path,
               owner);
    char host[256] = "?";
    if (gethostname(host, sizeof host) != 0)
        bt_str_copy(host, sizeof host, "?");
    host[sizeof host - 1] = '\0';
    char line[512];
    n = snprintf(line, sizeof line, "pid %ld host %s\n", (long)getpid(), host);
    if (ftruncate(l->fd, 0) != 0 || n < 0 || pwrite(l->fd, line, (size_t)n, 0) != n) {
        bt_errf(eb, BT_EIO, "cannot write %s: %s", l->path, strerror(errno));
        close(l->fd);
        free(l);
        return NULL;
    }
    return l;
}

void bt_lock_release(bt_lock_t **lock_p)
{
    if (!lock_p || !*lock_p)
        return;
    bt_lock_t *l = *lock_p;
    /* Emptied, not unlinked: unlinking a flock()ed file lets a waiter lock the
     * old inode while a newcomer locks a new one. */
    if (ftruncate(l->fd, 0) != 0)
        bt_log(BT_LOG_WARN, "%s: cannot empty the lock file: %s", l->path, strerror(errno));
    close(l->fd);
    free(l);
    *lock_p = NULL;
}
