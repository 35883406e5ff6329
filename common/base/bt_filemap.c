/* bt_filemap — which file a read-only mapping shows. See bt_filemap.h. A store
 * maps a few fields per symbol: a plain array searched in full under a lock. */
#include "bt_filemap.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct {
    uintptr_t a; /* first byte */
    size_t len;
    int fd;
    int64_t off; /* file offset of a */
} s_map_t;

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static s_map_t *s_maps;
static size_t s_n, s_cap;

bool bt_filemap_add(const void *map, size_t len, int fd, int64_t off)
{
    if (!map || fd < 0 || off < 0)
        return false;
    pthread_mutex_lock(&s_lock);
    bool ok = true;
    if (s_n == s_cap) {
        size_t cap = s_cap ? 2 * s_cap : 16;
        s_map_t *m = realloc(s_maps, cap * sizeof *m);
        ok = m != NULL;
        if (ok) {
            s_maps = m;
            s_cap = cap;
        }
    }
    if (ok)
        s_maps[s_n++] = (s_map_t){(uintptr_t)map, len, fd, off};
    pthread_mutex_unlock(&s_lock);
    return ok;
}

void bt_filemap_remove(const void *map)
{
    pthread_mutex_lock(&s_lock);
    for (size_t i = 0; i < s_n; i++)
        if (s_maps[i].a == (uintptr_t)map) {
            s_maps[i] = s_maps[--s_n];
            break;
        }
    if (s_n == 0) {
        free(s_maps);
        s_maps = NULL;
        s_cap = 0;
    }
    pthread_mutex_unlock(&s_lock);
}

bool bt_filemap_find(const void *p, size_t len, int *fd, int64_t *off)
{
    uintptr_t q = (uintptr_t)p;
    bool hit = false;
    pthread_mutex_lock(&s_lock);
    for (size_t i = 0; i < s_n && !hit; i++) {
        const s_map_t *m = &s_maps[i];
        if (q >= m->a && q - m->a <= m->len && len <= m->len - (q - m->a)) {
            *fd = m->fd;
            *off = m->off + (int64_t)(q - m->a);
            hit = true;
        }
    }
    pthread_mutex_unlock(&s_lock);
    return hit;
}
