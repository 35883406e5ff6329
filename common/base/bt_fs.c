#include "bt_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *bt_fs_read_file(const char *path, size_t cap, size_t *len, bt_errbuf_t *eb)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        bt_errf(eb, BT_EIO, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(cap + 1);
    size_t n = buf ? fread(buf, 1, cap + 1, f) : 0;
    int failed = ferror(f);
    fclose(f);
    if (!buf) {
        bt_errf(eb, BT_ENOMEM, "out of memory reading %s", path);
        return NULL;
    }
    if (failed) {
        free(buf);
        bt_errf(eb, BT_EIO, "cannot read %s", path);
        return NULL;
    }
    if (n > cap) {
        free(buf);
        bt_errf(eb, BT_ELIMIT, "%s is larger than %zu bytes, the cap for this file", path, cap);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

bt_err_t bt_fs_mkdir_p(const char *dir, bt_errbuf_t *eb)
{
    char tmp[PATH_MAX];
    int w = snprintf(tmp, sizeof tmp, "%s", dir);
    if (w <= 0 || (size_t)w >= sizeof tmp)
        return bt_errf(eb, BT_ELIMIT, "folder path empty or too long: %s", dir);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return bt_errf(eb, BT_EIO, "cannot create %s: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return bt_errf(eb, BT_EIO, "cannot create %s: %s", tmp, strerror(errno));
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return bt_errf(eb, BT_EIO, "%s exists and is not a folder", dir);
    return BT_OK;
}

/* ---- atomic replace ---------------------------------------------------- */

/* Folder part of path ("." when none) into dir. */
static bool s_dirname(const char *path, char *dir, size_t cap)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return snprintf(dir, cap, ".") < (int)cap;
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    if (n >= cap)
        return false;
    memcpy(dir, path, n);
    dir[n] = '\0';
    return true;
}

static bt_err_t s_fsync_dir(const char *path, bt_errbuf_t *eb)
{
    char dir[PATH_MAX];
    if (!s_dirname(path, dir, sizeof dir))
        return bt_errf(eb, BT_ELIMIT, "path too long: %s", path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return bt_errf(eb, BT_EIO, "cannot open folder %s to sync it: %s", dir, strerror(errno));
    int rc = fsync(fd);
    int err = errno;
    close(fd);
    /* Some file systems cannot sync a folder (EINVAL); the rename still happened. */
    if (rc != 0 && err != EINVAL)
        return bt_errf(eb, BT_EIO, "cannot sync folder %s: %s", dir, strerror(err));
    return BT_OK;
}

/* Temp files being written, so a signal handler can remove them
 * (bt_fs_tmp_remove_all). A slot is 0 free, 1 being filled, 2 live. */
#define S_TMP_SLOTS 64
static char s_tmp_path[S_TMP_SLOTS][PATH_MAX];
static atomic_int s_tmp_state[S_TMP_SLOTS];

void bt_fs_tmp_track(const char *path)
{
    if (strlen(path) >= PATH_MAX)
        return;
    for (int i = 0; i < S_TMP_SLOTS; i++) {
        int free_slot = 0;
        if (atomic_compare_exchange_strong(&s_tmp_state[i], &free_slot, 1)) {
            memcpy(s_tmp_path[i], path, strlen(path) + 1);
            atomic_store(&s_tmp_state[i], 2);
            return;
        }
    }
    /* More than 64 at once: that file is not removed on a signal. */
}

void bt_fs_tmp_untrack(const char *path)
{
    for (int i = 0; i < S_TMP_SLOTS; i++)
        if (atomic_load(&s_tmp_state[i]) == 2 && strcmp(s_tmp_path[i], path) == 0) {
            atomic_store(&s_tmp_state[i], 0);
            return;
        }
}

void bt_fs_tmp_remove_all(void)
{
    for (int i = 0; i < S_TMP_SLOTS; i++)
        if (atomic_load(&s_tmp_state[i]) == 2)
            unlink(s_tmp_path[i]);
}

/* The temp file is gone (renamed or removed): no longer tracked. */
static void s_tmp_done(bt_fs_atomic_t *a)
{
    bt_fs_tmp_untrack(a->tmp);
    a->tmp[0] = '\0';
}

bool bt_fs_pread_all(int fd, void *buf, size_t len, uint64_t off)
{
    char *p = buf;
    while (len > 0) {
        ssize_t r = pread(fd, p, len, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        p += r;
        len -= (size_t)r;
        off += (uint64_t)r;
    }
    return true;
}

#define S_WBUF ((size_t)1 << 16) /* bytes an atomic file's stream buffers */

bt_err_t bt_fs_atomic_open(bt_fs_atomic_t *a, const char *path, bt_errbuf_t *eb)
{
    static atomic_uint counter; /* unique temp names for threads of one process */
    a->f = NULL;
    a->buf = NULL;
    a->tmp[0] = '\0';
    int w = snprintf(a->path, sizeof a->path, "%s", path);
    if (w <= 0 || (size_t)w >= sizeof a->path)
        return bt_errf(eb, BT_ELIMIT, "output path empty or too long: %s", path);
    const char *slash = strrchr(path, '/');
    int dlen = slash ? (int)(slash - path + 1) : 0;
    const char *name = path + dlen;
    if (!*name)
        return bt_errf(eb, BT_EINVAL, "output path names a folder, not a file: %s", path);
    for (int tries = 0; tries < 100; tries++) {
        unsigned n = atomic_fetch_add(&counter, 1);
        w = snprintf(a->tmp, sizeof a->tmp, "%.*s.%s.%ld.%u.tmp", dlen, path, name,
                     (long)getpid(), n);
        if (w <= 0 || (size_t)w >= sizeof a->tmp)
            return bt_errf(eb, BT_ELIMIT, "output path too long: %s", path);
        int fd = open(a->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno == EEXIST)
            continue;
        if (fd < 0) {
            int err = errno;
            a->tmp[0] = '\0';
            return bt_errf(eb, BT_EIO, "cannot create a file in the folder of %s: %s", path,
                           strerror(err));
        }
        a->f = fdopen(fd, "w");
        if (!a->f) {
            close(fd);
            unlink(a->tmp);
            a->tmp[0] = '\0';
            return bt_errf(eb, BT_ENOMEM, "out of memory opening %s", path);
        }
        /* 64 KiB a write: a long CSV in 16x fewer system calls */
        if ((a->buf = malloc(S_WBUF)) != NULL)
            setvbuf(a->f, a->buf, _IOFBF, S_WBUF);
        bt_fs_tmp_track(a->tmp);
        return BT_OK;
    }
    a->tmp[0] = '\0';
    return bt_errf(eb, BT_EIO, "cannot find a free temp name next to %s", path);
}

bt_err_t bt_fs_atomic_commit(bt_fs_atomic_t *a, bt_errbuf_t *eb)
{
    if (!a->f)
        return bt_errf(eb, BT_EINVAL, "%s: not open for writing", a->path);
    bool bad = ferror(a->f) != 0;
    int err = bad ? EIO : 0;
    if (fflush(a->f) != 0 || fsync(fileno(a->f)) != 0) {
        bad = true;
        err = errno;
    }
    if (fclose(a->f) != 0 && !bad) {
        bad = true;
        err = errno;
    }
    a->f = NULL;
    free(a->buf);
    a->buf = NULL;
    if (bad) {
        unlink(a->tmp);
        s_tmp_done(a);
        return bt_errf(eb, BT_EIO, "writing %s failed: %s (is the disk full?)", a->path,
                       strerror(err));
    }
    if (rename(a->tmp, a->path) != 0) {
        err = errno;
        unlink(a->tmp);
        s_tmp_done(a);
        return bt_errf(eb, BT_EIO, "cannot replace %s: %s", a->path, strerror(err));
    }
    s_tmp_done(a);
    return s_fsync_dir(a->path, eb);
}

void bt_fs_atomic_abort(bt_fs_atomic_t *a)
{
    if (a->f) {
        fclose(a->f);
        a->f = NULL;
        free(a->buf);
        a->buf = NULL;
    }
    if (a->tmp[0]) {
        unlink(a->tmp);
        s_tmp_done(a);
    }
}

bt_err_t bt_fs_write_atomic(const char *path, const void *data, size_t len, bt_errbuf_t *eb)
{
    bt_fs_atomic_t a;
    bt_err_t e = bt_fs_atomic_open(&a, path, eb);
    if (e != BT_OK)
        return e;
    if (len && fwrite(data, 1, len, a.f) != len) {
        int err = errno;
        bt_fs_atomic_abort(&a);
        return bt_errf(eb, BT_EIO, "writing %s failed: %s (is the disk full?)", path,
                       strerror(err));
    }
    return bt_fs_atomic_commit(&a, eb);
}
