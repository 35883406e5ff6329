/* bt_store_stamp — verification stamps of store files (bt_store_stamp.h). */
#define _POSIX_C_SOURCE 200809L
#include "bt_store_stamp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define S_MAX_BYTES (64u << 20) /* a stamp larger than this is ignored */
#define S_LINE 128             /* "SYMBOL HEX64": symbol < 32 chars */

struct bt_stamp {
    struct stat st;    /* identity at load */
    char dir[4096];    /* "" when stamps are off */
    char (*line)[S_LINE]; /* "SYMBOL HEX", sorted */
    size_t n, cap;
    size_t sorted;     /* the first `sorted` lines are sorted (those loaded) */
    bool dirty;        /* lines added since load */
};

static int s_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void s_dir(char *out, size_t cap)
{
    const char *v = getenv("BT_VERIFY_CACHE"), *x = getenv("XDG_CACHE_HOME"), *h = getenv("HOME");
    out[0] = '\0';
    if (v && strcmp(v, "off") == 0)
        return;
    if (v && v[0] == '/')
        snprintf(out, cap, "%s", v);
    else if (x && x[0] == '/')
        snprintf(out, cap, "%s/backtester/verified", x);
    else if (h && h[0] == '/')
        snprintf(out, cap, "%s/.cache/backtester/verified", h);
}

static void s_path(const bt_stamp_t *self, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%llx-%llx", self->dir, (unsigned long long)self->st.st_dev,
             (unsigned long long)self->st.st_ino);
}

/* The identity line: everything that changes when the file's bytes do. */
static void s_ident(const struct stat *st, char *out, size_t cap)
{
    snprintf(out, cap, "bt-verified 2 %llu %lld %lld.%09ld %lld.%09ld\n",
             (unsigned long long)st->st_ino, (long long)st->st_size,
             (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec, (long long)st->st_ctim.tv_sec,
             st->st_ctim.tv_nsec);
}

static bool s_push(bt_stamp_t *self, const char *sym, const char *hex)
{
    if (self->n == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 16;
        void *p = realloc(self->line, cap * sizeof *self->line);
        if (!p)
            return false;
        self->line = p;
        self->cap = cap;
    }
    int w = snprintf(self->line[self->n], S_LINE, "%s %.64s", sym, hex);
    if (w < 0 || w >= S_LINE)
        return false;
    self->n++;
    return true;
}

/* Reads up to len bytes of fd into buf; returns how many it got. */
static size_t s_read_all(int fd, char *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    return got;
}

bt_stamp_t *bt_stamp_load(const struct stat *st)
{
    bt_stamp_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->st = *st;
    s_dir(self->dir, sizeof self->dir);
    if (!self->dir[0])
        return self;
    char path[4200], want[160];
    s_path(self, path, sizeof path);
    s_ident(st, want, sizeof want);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
    struct stat ss;
    if (fd < 0 || fstat(fd, &ss) != 0 || !S_ISREG(ss.st_mode) || ss.st_size <= 0 ||
        (uint64_t)ss.st_size > S_MAX_BYTES) {
        if (fd >= 0)
            close(fd);
        return self;
    }
    size_t len = (size_t)ss.st_size;
    char *text = malloc(len + 1);
    size_t got = text ? s_read_all(fd, text, len) : 0;
    close(fd);
    if (!text || got != len || strncmp(text, want, strlen(want)) != 0) {
        free(text);
        return self;
    }
    text[len] = '\0';
    for (char *l = text + strlen(want); *l;) {
        char *nl = strchr(l, '\n');
        if (!nl)
            break; /* a torn last line: ignore it */
        *nl = '\0';
        char *sp = strchr(l, ' ');
        if (!sp || strlen(sp + 1) != 64)
            break; /* malformed: keep what came before */
        *sp = '\0';
        if (!s_push(self, l, sp + 1))
            break;
        l = nl + 1;
    }
    free(text);
    qsort(self->line, self->n, sizeof *self->line, s_cmp);
    self->sorted = self->n;
    return self;
}

void bt_stamp_destroy(bt_stamp_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->line);
    free(*self_p);
    *self_p = NULL;
}

bool bt_stamp_has(const bt_stamp_t *self, const char *sym, const char content[65])
{
    char key[S_LINE];
    if (!self || self->sorted == 0)
        return false;
    int w = snprintf(key, sizeof key, "%s %.64s", sym, content);
    if (w < 0 || w >= S_LINE)
        return false;
    return bsearch(key, self->line, self->sorted, sizeof *self->line, s_cmp) != NULL;
}

void bt_stamp_add(bt_stamp_t *self, const char *sym, const char content[65])
{
    if (!self || !self->dir[0] || bt_stamp_has(self, sym, content))
        return;
    /* appended unsorted: bt_stamp_has searches the first `sorted` lines, the
     * ones loaded; bt_stamp_save sorts and drops repeats */
    if (!s_push(self, sym, content))
        return;
    self->dirty = true;
}

static bool s_same(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* A write in the same clock tick as the ctime we saw would leave ctime as
 * it is: stamp only a file whose last change is older than a tick (1 s
 * granularity is assumed when the file system shows none finer). */
static bool s_old_enough(const struct stat *after)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    long long margin_ns = after->st_ctim.tv_nsec == 0 ? 2000000000LL : 100000000LL;
    long long age = ((long long)now.tv_sec - (long long)after->st_ctim.tv_sec) * 1000000000LL +
                    (now.tv_nsec - after->st_ctim.tv_nsec);
    return age >= margin_ns;
}

/* mkdir -p of the stamp folder (two or three levels at most) */
static void s_mkdirs(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    for (char *p = dir + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(dir, 0700);
            *p = '/';
        }
    }
    mkdir(dir, 0700);
}

static void s_save(bt_stamp_t *self, const struct stat *after, bool fresh)
{
    if (!self || !self->dirty || !self->dir[0] || !s_same(&self->st, after))
        return;
    if (!fresh && !s_old_enough(after))
        return;
    s_mkdirs(self->dir);
    qsort(self->line, self->n, sizeof *self->line, s_cmp);
    size_t m = 0;
    for (size_t i = 0; i < self->n; i++)
        if (m == 0 || strcmp(self->line[m - 1], self->line[i]) != 0)
            memmove(self->line[m++], self->line[i], S_LINE);
    self->n = self->sorted = m;
    char path[4200], tmp[4300], ident[160];
    s_path(self, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    s_ident(after, ident, sizeof ident);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    bool ok = fputs(ident, f) >= 0;
    for (size_t i = 0; ok && i < self->n; i++)
        ok = fprintf(f, "%s\n", self->line[i]) > 0;
    if (fclose(f) != 0 || !ok || rename(tmp, path) != 0)
        unlink(tmp);
    else
        self->dirty = false;
}

void bt_stamp_save(bt_stamp_t *self, const struct stat *after)
{
    s_save(self, after, false);
}

void bt_stamp_save_fresh(bt_stamp_t *self, const struct stat *after)
{
    s_save(self, after, true);
}

/* ------------------------------------------------------ whole files -- */

#define S_FILE_CHUNKS_MAX (1u << 20) /* chunk hashes in one stamp (64 MiB of text) */

static bool s_file_path(const struct stat *st, char *out, size_t cap)
{
    char dir[4096];
    s_dir(dir, sizeof dir);
    if (!dir[0])
        return false;
    int w = snprintf(out, cap, "%s/%llx-%llx.sha", dir, (unsigned long long)st->st_dev,
                     (unsigned long long)st->st_ino);
    return w > 0 && (size_t)w < cap;
}

static bool s_hex64(const char *s)
{
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

bool bt_stamp_file_get(const struct stat *st, uint32_t chunk, char sha[65],
                       char (*chunk_sha)[65], uint32_t nchunks)
{
    char path[4200], want[200];
    if (nchunks > S_FILE_CHUNKS_MAX || !s_file_path(st, path, sizeof path))
        return false;
    s_ident(st, want, sizeof want);
    size_t wl = strlen(want);
    int n = snprintf(want + wl - 1, sizeof want - wl + 1, " %u %u\n", chunk, nchunks);
    if (n < 0 || (size_t)n >= sizeof want - wl + 1)
        return false;
    wl = strlen(want);
    /* the ident line, then nchunks + 1 lines of 64 hex digits */
    size_t len = wl + (size_t)(nchunks + 1) * 65;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
    struct stat ss;
    if (fd < 0 || fstat(fd, &ss) != 0 || !S_ISREG(ss.st_mode) || (uint64_t)ss.st_size != len) {
        if (fd >= 0)
            close(fd);
        return false;
    }
    char *text = malloc(len);
    size_t got = text ? s_read_all(fd, text, len) : 0;
    close(fd);
    bool ok = text && got == len && memcmp(text, want, wl) == 0;
    for (uint32_t i = 0; ok && i <= nchunks; i++) {
        const char *l = text + wl + (size_t)i * 65;
        ok = s_hex64(l) && l[64] == '\n';
    }
    if (ok) {
        memcpy(sha, text + wl, 64);
        sha[64] = '\0';
        for (uint32_t i = 0; i < nchunks; i++) {
            memcpy(chunk_sha[i], text + wl + (size_t)(i + 1) * 65, 64);
            chunk_sha[i][64] = '\0';
        }
    }
    free(text);
    return ok;
}

void bt_stamp_file_put(const struct stat *st, uint32_t chunk, const char sha[65],
                       const char (*chunk_sha)[65], uint32_t nchunks, bool fresh)
{
    char path[4200], tmp[4300], ident[200], dir[4096];
    if (nchunks > S_FILE_CHUNKS_MAX || !s_file_path(st, path, sizeof path) ||
        (!fresh && !s_old_enough(st)))
        return;
    s_dir(dir, sizeof dir);
    s_mkdirs(dir);
    s_ident(st, ident, sizeof ident);
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    ident[strlen(ident) - 1] = '\0'; /* the same line with the chunking after it */
    bool ok = fprintf(f, "%s %u %u\n%.64s\n", ident, chunk, nchunks, sha) > 0;
    for (uint32_t i = 0; ok && i < nchunks; i++)
        ok = fprintf(f, "%.64s\n", chunk_sha[i]) > 0;
    if (fclose(f) != 0 || !ok || rename(tmp, path) != 0)
        unlink(tmp);
}
