#include "bt_cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bt_fs.h"
#include "bt_log.h"
#include "bt_sha256.h"
#include "bt_store_stamp.h"

struct bt_cache {
    char dir[PATH_MAX];  /* cache root */
    char objs[PATH_MAX]; /* dir/objects */
    uint64_t max_bytes;  /* eviction threshold */
};

/* out = a/b; false if it does not fit. */
static bool s_join(char *out, size_t cap, const char *a, const char *b)
{
    int w = snprintf(out, cap, "%s/%s", a, b);
    return w >= 0 && (size_t)w < cap;
}

static bool s_is_sha(const char *s)
{
    size_t i = 0;
    for (; s[i]; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return i == 64;
}

bt_cache_t *bt_cache_new(const char *dir, uint64_t max_bytes, bt_errbuf_t *eb)
{
    bt_cache_t *self = calloc(1, sizeof *self);
    if (!self) {
        bt_errf(eb, BT_ENOMEM, "out of memory for the cache");
        return NULL;
    }
    int w;
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (dir && dir[0])
        w = snprintf(self->dir, sizeof self->dir, "%s", dir);
    else if (xdg && xdg[0] == '/')
        w = snprintf(self->dir, sizeof self->dir, "%s/backtester", xdg);
    else if (home && home[0])
        w = snprintf(self->dir, sizeof self->dir, "%s/.cache/backtester", home);
    else
        w = snprintf(self->dir, sizeof self->dir, "/tmp/backtester-cache-%ld", (long)getuid());
    if (w < 0 || (size_t)w >= sizeof self->dir - 16) {
        bt_errf(eb, BT_ELIMIT, "cache folder path too long; give a shorter --cache DIR");
        free(self);
        return NULL;
    }
    if (!s_join(self->objs, sizeof self->objs, self->dir, "objects")) {
        bt_errf(eb, BT_ELIMIT, "cache folder path too long; give a shorter --cache DIR");
        free(self);
        return NULL;
    }
    self->max_bytes = max_bytes ? max_bytes : BT_CACHE_MAX_DEFAULT;
    return self;
}

void bt_cache_destroy(bt_cache_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

const char *bt_cache_dir(const bt_cache_t *self)
{
    return self->dir;
}

bt_err_t bt_cache_check_regular(const char *path, bt_errbuf_t *eb)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return bt_errf(eb, errno == ENOENT ? BT_ENOTFOUND : BT_EIO, "cannot open %s: %s", path,
                       strerror(errno));
    struct stat st;
    int rc = fstat(fd, &st);
    int err = errno;
    close(fd);
    if (rc != 0)
        return bt_errf(eb, BT_EIO, "cannot stat %s: %s", path, strerror(err));
    if (!S_ISREG(st.st_mode))
        return bt_errf(eb, BT_EDATA, "%s is not a regular file (it is a %s); give a file", path,
                       S_ISFIFO(st.st_mode)  ? "FIFO"
                       : S_ISDIR(st.st_mode) ? "folder"
                       : S_ISCHR(st.st_mode) ? "character device"
                       : S_ISBLK(st.st_mode) ? "block device"
                                             : "socket or other special file");
    return BT_OK;
}

/* Hashes an open regular file. */
static bt_err_t s_hash_path(const char *path, char hex[65], bt_errbuf_t *eb)
{
    bt_err_t e = bt_cache_check_regular(path, eb);
    if (e != BT_OK)
        return e;
    return bt_sha256_file(path, hex, eb);
}

bt_err_t bt_cache_lookup(bt_cache_t *self, const char *sha, char *path, size_t cap, bt_errbuf_t *eb)
{
    if (!s_is_sha(sha))
        return bt_errf(eb, BT_EINVAL, "cache lookup: '%.70s' is not a sha256 hex digest", sha);
    if (!s_join(path, cap, self->objs, sha))
        return bt_errf(eb, BT_ELIMIT, "cache path too long");
    if (access(path, F_OK) != 0)
        return bt_errf(eb, BT_ENOTFOUND, "%.12s... is not in the cache %s", sha, self->dir);
    char got[65];
    bt_errbuf_t e2;
    bt_errbuf_clear(&e2);
    struct stat st = {0};
    /* Unchanged since hashed (a whole-file stamp): not hashed again. */
    if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) &&
        bt_stamp_file_get(&st, 0, got, NULL, 0) && strcmp(got, sha) == 0) {
        utimensat(AT_FDCWD, path, NULL, 0);
        return BT_OK;
    }
    if (s_hash_path(path, got, &e2) != BT_OK || strcmp(got, sha) != 0) {
        bt_log(BT_LOG_WARN, "cache: %s is corrupted (%s); deleted, it will be fetched again", path,
               e2.code != BT_OK ? e2.msg : "its bytes hash to another value");
        unlink(path);
        return bt_errf(eb, BT_ENOTFOUND, "%.12s... was corrupted in the cache %s", sha, self->dir);
    }
    struct stat after; /* stamped only if not written while hashed */
    if (stat(path, &after) == 0 && after.st_ino == st.st_ino && after.st_size == st.st_size &&
        after.st_ctim.tv_sec == st.st_ctim.tv_sec && after.st_ctim.tv_nsec == st.st_ctim.tv_nsec)
        bt_stamp_file_put(&after, 0, sha, NULL, 0, false);
    utimensat(AT_FDCWD, path, NULL, 0); /* most recently used */
    return BT_OK;
}

uint64_t bt_cache_bytes(const bt_cache_t *self, size_t *nfiles)
{
    uint64_t total = 0;
    size_t n = 0;
    DIR *d = opendir(self->objs);
    if (d) {
        struct dirent *de;
        char p[PATH_MAX + 80];
        while ((de = readdir(d)) != NULL) {
            struct stat st;
            if (!s_is_sha(de->d_name))
                continue;
            if (s_join(p, sizeof p, self->objs, de->d_name) && lstat(p, &st) == 0 &&
                S_ISREG(st.st_mode)) {
                total += (uint64_t)st.st_size;
                n++;
            }
        }
        closedir(d);
    }
    if (nfiles)
        *nfiles = n;
    return total;
}

/* Removes least recently used files (never keep) until the total fits. */
static void s_evict(bt_cache_t *self, const char *keep)
{
    for (;;) {
        uint64_t total = 0;
        char oldest[72] = "";
        struct timespec tmin = {0, 0};
        DIR *d = opendir(self->objs);
        if (!d)
            return;
        struct dirent *de;
        char p[PATH_MAX + 80];
        while ((de = readdir(d)) != NULL) {
            struct stat st;
            if (!s_is_sha(de->d_name))
                continue;
            if (!s_join(p, sizeof p, self->objs, de->d_name) || lstat(p, &st) != 0 ||
                !S_ISREG(st.st_mode))
                continue;
            total += (uint64_t)st.st_size;
            if (strcmp(de->d_name, keep) == 0)
                continue;
            if (!oldest[0] || st.st_mtim.tv_sec < tmin.tv_sec ||
                (st.st_mtim.tv_sec == tmin.tv_sec && st.st_mtim.tv_nsec < tmin.tv_nsec)) {
                tmin = st.st_mtim;
                bt_str_copy(oldest, sizeof oldest, de->d_name);
            }
        }
        closedir(d);
        if (total <= self->max_bytes || !oldest[0])
            return;
        if (!s_join(p, sizeof p, self->objs, oldest))
            return;
        bt_log(BT_LOG_INFO, "cache: over %llu bytes, removing least recently used %.12s...",
               (unsigned long long)self->max_bytes, oldest);
        if (unlink(p) != 0)
            return;
    }
}

bt_err_t bt_cache_put(bt_cache_t *self, const char *sha, const void *data, size_t len,
                      bt_errbuf_t *eb)
{
    if (!s_is_sha(sha))
        return bt_errf(eb, BT_EINVAL, "cache add: '%.70s' is not a sha256 hex digest", sha);
    bt_sha256_t h;
    char got[65];
    bt_sha256_init(&h);
    bt_sha256_update(&h, data, len);
    bt_sha256_final(&h, got);
    if (strcmp(got, sha) != 0)
        return bt_errf(eb, BT_EDATA, "received bytes hash to %s, expected %s: not cached", got,
                       sha);
    bt_err_t e = bt_fs_mkdir_p(self->objs, eb);
    if (e != BT_OK)
        return e;
    char path[PATH_MAX + 80];
    if (!s_join(path, sizeof path, self->objs, sha))
        return bt_errf(eb, BT_ELIMIT, "cache path too long");
    e = bt_fs_write_atomic(path, data, len, eb);
    if (e != BT_OK)
        return e;
    s_evict(self, sha);
    return BT_OK;
}

enum { S_TODO = 0, S_ASKED, S_HELD };

struct bt_cache_recv {
    bt_cache_t *cache;
    char sha[65];               /* whole file */
    uint64_t size;              /* bytes */
    uint32_t chunk, n;          /* chunk size, chunk count */
    char (*chunk_sha)[65];      /* n hashes (copied) */
    uint8_t *state;             /* n of S_TODO / S_ASKED / S_HELD */
    uint32_t next, held, asked; /* scan position, counters */
    int fd;                     /* temp file */
    char tmp[PATH_MAX + 80];
    bt_sha256_t whole; /* hash of chunks [0, hashed) in order */
    uint32_t hashed;   /* chunks fed to whole */
    char *scratch;     /* a chunk read back when one arrived ahead of order */
    /* The writer thread: a checked chunk is copied into a ring slot and
     * written by it, so the copy into the page cache (a quarter of a
     * transfer's CPU) overlaps receiving and hashing the next ones. */
    bool has_writer;                       /* else chunks are written in line */
    pthread_t writer;                      /* runs s_writer */
    pthread_mutex_t mu;                    /* guards the fields below */
    pthread_cond_t cv;                     /* queue changed */
    char *ring;                            /* S_RING slots of `chunk` bytes */
    struct { uint64_t off; size_t len; } q[4]; /* queued writes, from qhead */
    uint32_t qhead, qlen;                  /* ring position, slots queued */
    bool stop;                             /* the writer is to exit once empty */
    int werr;                              /* errno of the first failed write, 0 */
};
#define S_RING 4u /* = the q above */

/* Writes all of len bytes at off; 0 or an errno. */
static int s_pwrite_all(int fd, const char *p, size_t len, uint64_t off)
{
    size_t done = 0;
    while (done < len) {
        ssize_t wr = pwrite(fd, p + done, len - done, (off_t)(off + done));
        if (wr < 0 && errno == EINTR)
            continue;
        if (wr <= 0)
            return wr < 0 ? errno : EIO;
        done += (size_t)wr;
    }
    return 0;
}

static void *s_writer(void *arg)
{
    bt_cache_recv_t *r = arg;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (r->qlen == 0 && !r->stop)
            pthread_cond_wait(&r->cv, &r->mu);
        if (r->qlen == 0)
            break;
        uint32_t slot = r->qhead;
        uint64_t off = r->q[slot].off;
        size_t len = r->q[slot].len;
        pthread_mutex_unlock(&r->mu); /* the slot stays queued (not reused) until written */
        int err = s_pwrite_all(r->fd, r->ring + (size_t)slot * r->chunk, len, off);
        pthread_mutex_lock(&r->mu);
        if (err && !r->werr)
            r->werr = err;
        r->qhead = (r->qhead + 1) % S_RING;
        r->qlen--;
        pthread_cond_broadcast(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* Writes chunk bytes at off: queued for the writer (copied into the ring),
 * or in line without one. */
static bt_err_t s_write(bt_cache_recv_t *r, uint64_t off, const void *data, size_t len,
                        bt_errbuf_t *eb)
{
    int err;
    if (!r->has_writer) {
        err = s_pwrite_all(r->fd, data, len, off);
    } else {
        pthread_mutex_lock(&r->mu);
        while (r->qlen == S_RING && !r->werr)
            pthread_cond_wait(&r->cv, &r->mu);
        err = r->werr;
        if (!err) {
            uint32_t slot = (r->qhead + r->qlen) % S_RING;
            memcpy(r->ring + (size_t)slot * r->chunk, data, len);
            r->q[slot].off = off;
            r->q[slot].len = len;
            r->qlen++;
            pthread_cond_broadcast(&r->cv);
        }
        pthread_mutex_unlock(&r->mu);
    }
    if (err)
        return bt_errf(eb, BT_EIO, "cannot write %s: %s", r->tmp, strerror(err));
    return BT_OK;
}

/* Waits until every queued chunk is in the file; BT_EIO if one failed. */
static bt_err_t s_drain(bt_cache_recv_t *r, bt_errbuf_t *eb)
{
    if (!r->has_writer)
        return BT_OK;
    pthread_mutex_lock(&r->mu);
    while (r->qlen > 0)
        pthread_cond_wait(&r->cv, &r->mu);
    int err = r->werr;
    pthread_mutex_unlock(&r->mu);
    if (err)
        return bt_errf(eb, BT_EIO, "cannot write %s: %s", r->tmp, strerror(err));
    return BT_OK;
}

static void s_writer_stop(bt_cache_recv_t *r)
{
    if (!r->has_writer)
        return;
    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->writer, NULL);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    r->has_writer = false;
}

/* Feeds whole the held chunks that follow the hashed prefix; `data` is chunk
 * i's bytes (just written), others are read back from the temp file. */
static bt_err_t s_feed(bt_cache_recv_t *r, uint32_t i, const void *data, bt_errbuf_t *eb)
{
    while (r->hashed < r->n && r->state[r->hashed] == S_HELD) {
        uint32_t k = r->hashed;
        uint64_t off = (uint64_t)k * r->chunk;
        size_t len = r->size - off < r->chunk ? (size_t)(r->size - off) : r->chunk;
        const void *bytes = data;
        if (k != i) {
            bt_err_t e = s_drain(r, eb); /* chunk k may still be queued */
            if (e != BT_OK)
                return e;
            if (!r->scratch && !(r->scratch = malloc(r->chunk)))
                return bt_errf(eb, BT_ENOMEM, "out of memory receiving %.12s", r->sha);
            size_t got = 0;
            while (got < len) {
                ssize_t rd = pread(r->fd, r->scratch + got, len - got, (off_t)(off + got));
                if (rd < 0 && errno == EINTR)
                    continue;
                if (rd <= 0)
                    return bt_errf(eb, BT_EIO, "cannot read back %s", r->tmp);
                got += (size_t)rd;
            }
            bytes = r->scratch;
        }
        bt_sha256_update(&r->whole, bytes, len);
        r->hashed++;
    }
    return BT_OK;
}

bt_cache_recv_t *bt_cache_recv_new(bt_cache_t *self, const char *sha, uint64_t size, uint32_t chunk,
                                   const char (*chunk_sha)[65], uint32_t nchunks, bt_errbuf_t *eb)
{
    if (!s_is_sha(sha) || chunk == 0 || chunk > BT_CACHE_CHUNK_MAX || size > BT_CACHE_FILE_MAX ||
        (uint64_t)nchunks != (size + chunk - 1) / chunk) {
        bt_errf(eb, BT_EPROTO,
                "bad file manifest: sha256 '%.70s', %llu bytes in %u chunks of %u (caps: chunk "
                "%u, file %llu)",
                sha, (unsigned long long)size, nchunks, chunk, BT_CACHE_CHUNK_MAX,
                (unsigned long long)BT_CACHE_FILE_MAX);
        return NULL;
    }
    for (uint32_t i = 0; i < nchunks; i++)
        if (!s_is_sha(chunk_sha[i])) {
            bt_errf(eb, BT_EPROTO, "bad file manifest: chunk %u hash is not sha256 hex", i);
            return NULL;
        }
    if (bt_fs_mkdir_p(self->objs, eb) != BT_OK)
        return NULL;
    bt_cache_recv_t *r = calloc(1, sizeof *r);
    if (r) {
        r->chunk_sha = calloc(nchunks ? nchunks : 1, sizeof *r->chunk_sha);
        r->state = calloc(nchunks ? nchunks : 1, 1);
    }
    if (!r || !r->chunk_sha || !r->state) {
        if (r) {
            free(r->chunk_sha);
            free(r->state);
        }
        free(r);
        bt_errf(eb, BT_ENOMEM, "out of memory receiving %.12s", sha);
        return NULL;
    }
    memcpy(r->chunk_sha, chunk_sha, (size_t)nchunks * sizeof *r->chunk_sha);
    bt_sha256_init(&r->whole);
    r->cache = self;
    bt_str_copy(r->sha, sizeof r->sha, sha);
    r->size = size;
    r->chunk = chunk;
    r->n = nchunks;
    int w = snprintf(r->tmp, sizeof r->tmp, "%s/.%s.%ld.part", self->objs, sha, (long)getpid());
    r->fd = w > 0 && (size_t)w < sizeof r->tmp
                ? open(r->tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)
                : -1;
    if (r->fd < 0) {
        bt_errf(eb, BT_EIO, "cannot create %s: %s", r->tmp, strerror(errno));
        free(r->chunk_sha);
        free(r->state);
        free(r);
        return NULL;
    }
    /* Without a thread (or its ring) chunks are written in line. */
    if (nchunks > 1 && (r->ring = malloc((size_t)S_RING * chunk)) != NULL &&
        pthread_mutex_init(&r->mu, NULL) == 0) {
        if (pthread_cond_init(&r->cv, NULL) == 0) {
            r->has_writer = pthread_create(&r->writer, NULL, s_writer, r) == 0;
            if (!r->has_writer)
                pthread_cond_destroy(&r->cv);
        }
        if (!r->has_writer)
            pthread_mutex_destroy(&r->mu);
    }
    return r;
}

void bt_cache_recv_destroy(bt_cache_recv_t **r_p)
{
    if (!r_p || !*r_p)
        return;
    bt_cache_recv_t *r = *r_p;
    s_writer_stop(r);
    free(r->ring);
    if (r->fd >= 0) {
        close(r->fd);
        unlink(r->tmp);
    }
    free(r->chunk_sha);
    free(r->state);
    free(r->scratch);
    free(r);
    *r_p = NULL;
}

bool bt_cache_recv_next(bt_cache_recv_t *r, uint64_t *offset, uint32_t *len)
{
    for (uint32_t k = 0; k < r->n; k++) {
        uint32_t i = (r->next + k) % r->n;
        if (r->state[i] == S_TODO) {
            r->state[i] = S_ASKED;
            r->asked++;
            r->next = i + 1;
            *offset = (uint64_t)i * r->chunk;
            uint64_t left = r->size - *offset;
            *len = left < r->chunk ? (uint32_t)left : r->chunk;
            return true;
        }
    }
    return false;
}

bt_err_t bt_cache_recv_chunk(bt_cache_recv_t *r, uint64_t offset, const void *data, size_t len,
                             bt_errbuf_t *eb)
{
    if (offset % r->chunk != 0 || offset >= r->size)
        return bt_errf(eb, BT_ERANGE, "chunk at offset %llu is not a chunk of %.12s",
                       (unsigned long long)offset, r->sha);
    uint32_t i = (uint32_t)(offset / r->chunk);
    uint64_t left = r->size - offset;
    size_t want = left < r->chunk ? (size_t)left : r->chunk;
    if (r->state[i] == S_HELD)
        return BT_OK;
    if (r->state[i] == S_ASKED)
        r->asked--;
    r->state[i] = S_TODO; /* until it is held: ask again on any error */
    if (len != want)
        return bt_errf(eb, BT_ERANGE, "chunk %u of %.12s has %zu bytes, expected %zu", i, r->sha,
                       len, want);
    bt_sha256_t h;
    char got[65];
    bt_sha256_init(&h);
    bt_sha256_update(&h, data, len);
    bt_sha256_final(&h, got);
    if (strcmp(got, r->chunk_sha[i]) != 0)
        return bt_errf(eb, BT_EDATA, "chunk %u of %.12s hashes to %s, the manifest says %s", i,
                       r->sha, got, r->chunk_sha[i]);
    bt_err_t e = s_write(r, offset, data, len, eb);
    if (e != BT_OK)
        return e;
    r->state[i] = S_HELD;
    r->held++;
    return s_feed(r, i, data, eb);
}

uint32_t bt_cache_recv_inflight(const bt_cache_recv_t *r)
{
    return r->asked;
}
bool bt_cache_recv_complete(const bt_cache_recv_t *r)
{
    return r->held == r->n;
}

bt_err_t bt_cache_recv_commit(bt_cache_recv_t *r, char *path, size_t cap, bt_errbuf_t *eb)
{
    if (!bt_cache_recv_complete(r))
        return bt_errf(eb, BT_EINVAL, "%.12s: %u of %u chunks received", r->sha, r->held, r->n);
    bt_err_t ew = s_drain(r, eb);
    if (ew != BT_OK)
        return ew;
    /* No fsync: a cached file is hashed again on use unless its whole-file
     * stamp matches (same size, mtime, ctime); a crash before the data
     * reached the disk leaves a shorter file (ext4 data=ordered), which is
     * hashed, found torn and fetched again. */
    if (ftruncate(r->fd, (off_t)r->size) != 0)
        return bt_errf(eb, BT_EIO, "cannot finish %s: %s", r->tmp, strerror(errno));
    char got[65];
    if (r->hashed == r->n) {
        bt_sha256_final(&r->whole, got); /* hashed as the chunks came */
    } else {
        bt_err_t e = bt_sha256_file(r->tmp, got, eb);
        if (e != BT_OK)
            return e;
    }
    if (strcmp(got, r->sha) != 0) {
        memset(r->state, S_TODO, r->n); /* every chunk matched, the whole did not: start over */
        r->held = 0;
        r->hashed = 0;
        bt_sha256_init(&r->whole);
        return bt_errf(eb, BT_EDATA, "received file hashes to %s, the manifest says %s", got,
                       r->sha);
    }
    if (!s_join(path, cap, r->cache->objs, r->sha))
        return bt_errf(eb, BT_ELIMIT, "cache path too long");
    if (rename(r->tmp, path) != 0)
        return bt_errf(eb, BT_EIO, "cannot move %s to %s: %s", r->tmp, path, strerror(errno));
    close(r->fd);
    r->fd = -1;
    /* Just written and checked whole by this process: stamped, so the next
     * lookup does not hash it again while it stays unchanged. */
    struct stat st;
    if (stat(path, &st) == 0)
        bt_stamp_file_put(&st, 0, r->sha, NULL, 0, true);
    s_evict(r->cache, r->sha);
    return BT_OK;
}
