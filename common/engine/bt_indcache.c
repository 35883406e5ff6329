/* bt_indcache — declared indicators computed once per series. See
 * bt_indcache.h. A few hundred columns per sweep: a hash table of chains;
 * the columns live in large chunks backed by huge pages where the kernel
 * allows (a grid's 80 MB of columns would otherwise be ~20,000 page faults,
 * which cost more than computing them on a virtual machine). */
#define _DEFAULT_SOURCE /* madvise(MADV_HUGEPAGE) */
#include "bt_indcache.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bt_feed.h"
#include "bt_ind.h"
#include "bt_ind_kinds.h"
#include "bt_indicators.h"

#define S_NBUCKETS 1024
#define S_TL_MAX 64 /* symbols of a remembered timeline question */
#define S_HUGE ((size_t)2 << 20) /* a huge page */
#define S_CHUNK ((size_t)32 << 20) /* column memory is taken this much at a time */

typedef struct s_chunk {
    struct s_chunk *next;
    size_t size, used; /* bytes of the chunk, bytes handed out (from its start) */
} s_chunk_t;

typedef struct s_col {
    struct s_col *next;        /* chain */
    uint64_t hash;             /* of the key below */
    const double *close;       /* the series slice: first close ... */
    size_t n;                  /* ... and length identify it */
    const bt_ind_kind_t *kind;
    double p[BT_IND_MAX_PARAMS]; /* full parameters (defaults filled) */
    uint32_t source, out;
    double *v;                 /* n values (in a chunk) */
    /* deferred (bt_indcache_defer): filled by bt_indcache_fill */
    struct s_col *pend_next;   /* pending list */
    double *ring;              /* SMA's window buffer until then */
} s_col_t;

struct bt_indcache {
    s_col_t *bucket[S_NBUCKETS];
    s_chunk_t *chunks;         /* column memory, newest first */
    size_t bytes;              /* of all v */
    size_t max_bytes;
    size_t computed;
    bt_bar_t *bars;            /* the last series as bars (bt_ind_array's input) */
    const double *bars_close;  /* which series bars holds */
    size_t bars_n;
    const int64_t *tl_time[S_TL_MAX]; /* the last bt_indcache_same_timeline question ... */
    size_t tl_len[S_TL_MAX];
    size_t tl_n;               /* (0: none) */
    bool tl_same;              /* ... and its answer */
    bool defer;                /* SMA / EMA columns of the close wait for bt_indcache_fill */
    s_col_t *pend;             /* those columns, newest first */
    size_t npend;
};

bt_indcache_t *bt_indcache_new(size_t max_bytes)
{
    bt_indcache_t *self = calloc(1, sizeof *self);
    if (self)
        self->max_bytes = max_bytes;
    return self;
}

static void s_clear(bt_indcache_t *self)
{
    for (s_col_t *c = self->pend; c; c = c->pend_next)
        free(c->ring);
    self->pend = NULL;
    self->npend = 0;
    for (size_t b = 0; b < S_NBUCKETS; b++) {
        s_col_t *c = self->bucket[b];
        while (c) {
            s_col_t *nx = c->next;
            free(c);
            c = nx;
        }
        self->bucket[b] = NULL;
    }
    while (self->chunks) {
        s_chunk_t *nx = self->chunks->next;
        free(self->chunks);
        self->chunks = nx;
    }
    self->bytes = 0;
}

/* bytes of column memory, 64-byte aligned, from the newest chunk or a new
 * one. A chunk's header takes its first 64 bytes. */
static double *s_take(bt_indcache_t *self, size_t bytes)
{
    bytes = (bytes + 63) / 64 * 64;
    s_chunk_t *c = self->chunks;
    if (!c || c->size - c->used < bytes) {
        size_t size = bytes + 64 > S_CHUNK ? (bytes + 64 + S_HUGE - 1) / S_HUGE * S_HUGE : S_CHUNK;
        c = aligned_alloc(S_HUGE, size);
        if (!c)
            return NULL;
#ifdef MADV_HUGEPAGE
        madvise(c, size, MADV_HUGEPAGE);
#endif
        c->size = size;
        c->used = 64;
        c->next = self->chunks;
        self->chunks = c;
    }
    double *v = (double *)(void *)((unsigned char *)c + c->used);
    c->used += bytes;
    return v;
}

void bt_indcache_destroy(bt_indcache_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bt_indcache_t *self = *self_p;
    s_clear(self);
    free(self->bars);
    free(self);
    *self_p = NULL;
}

void bt_indcache_trim(bt_indcache_t *self)
{
    if (self->bytes > self->max_bytes)
        s_clear(self);
}

size_t bt_indcache_computed(const bt_indcache_t *self)
{
    return self->computed;
}

static uint64_t s_mix(uint64_t h, uint64_t x)
{
    h ^= x + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdull;
}

static uint64_t s_hash(const double *close, size_t n, const bt_ind_kind_t *k, const double *p,
                       uint32_t source, uint32_t out)
{
    uint64_t h = s_mix((uint64_t)(uintptr_t)close, n);
    h = s_mix(h, (uint64_t)(uintptr_t)k);
    for (size_t i = 0; i < BT_IND_MAX_PARAMS; i++) {
        uint64_t b;
        memcpy(&b, &p[i], sizeof b);
        h = s_mix(h, b);
    }
    h = s_mix(h, ((uint64_t)source << 32) | out);
    h ^= h >> 33; /* fmix64: every input bit reaches the low bits (the bucket) */
    h *= 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 33);
}

/* The series as bars, kept for the next column of the same series. */
static const bt_bar_t *s_bars(bt_indcache_t *self, const bt_series_t *s)
{
    if (self->bars && self->bars_close == s->close && self->bars_n == s->n)
        return self->bars;
    free(self->bars);
    self->bars = malloc((s->n ? s->n : 1) * sizeof *self->bars);
    self->bars_close = s->close;
    self->bars_n = s->n;
    if (!self->bars)
        return NULL;
    for (size_t i = 0; i < s->n; i++)
        self->bars[i] = (bt_bar_t){s->time[i], s->open[i], s->high[i], s->low[i], s->close[i],
                                   s->volume[i]};
    return self->bars;
}

const double *bt_indcache_get(bt_indcache_t *self, const bt_series_t *s, const bt_decl_t *d,
                              bt_errbuf_t *eb)
{
    const bt_ind_kind_t *k = bt_ind_find(d->kind);
    if (!k)
        return bt_errf(eb, BT_ESTRATEGY, "declared indicator '%s' is not a known kind (bt_ind)",
                       d->kind ? d->kind : "(null)"),
               NULL;
    if (k->input == BT_IND_IN_PAIR || d->out >= k->nout || d->source > BT_SRC_TYPICAL ||
        d->np > BT_IND_MAX_PARAMS)
        return bt_errf(eb, BT_ESTRATEGY,
                       "declared indicator '%s': pair input, output %u or source %u not supported",
                       d->kind, d->out, d->source),
               NULL;
    double p[BT_IND_MAX_PARAMS] = {0};
    if (bt_ind_params(k, d->p, d->np, p, eb) != BT_OK)
        return NULL;
    uint64_t h = s_hash(s->close, s->n, k, p, d->source, d->out);
    s_col_t **slot = &self->bucket[h % S_NBUCKETS];
    for (s_col_t *c = *slot; c; c = c->next)
        if (c->hash == h && c->close == s->close && c->n == s->n && c->kind == k &&
            memcmp(c->p, p, sizeof p) == 0 && c->source == d->source && c->out == d->out)
            return c->v;
    /* an SMA or EMA of the close (a grid's usual columns): its own loop, the same
     * arithmetic as the kind's per-bar update, without the AoS bars or a
     * call per bar (4x less CPU; tests/unit/test_ind.c compares the bits) */
    bool close1 = d->source == BT_SRC_CLOSE && d->out == 0;
    bool sma = k == &bt_ind_kind_sma && close1, ema = k == &bt_ind_kind_ema && close1;
    const bt_bar_t *bars = sma || ema ? NULL : s_bars(self, s);
    double *ring = sma ? malloc((size_t)p[0] * sizeof *ring) : NULL;
    s_col_t *c = calloc(1, sizeof *c);
    double *all = s_take(self, (s->n ? s->n : 1) * k->nout * sizeof *all);
    if ((sma ? !ring : !ema && !bars) || !c || !all) {
        free(c);
        free(ring);
        return bt_errf(eb, BT_ENOMEM, "out of memory for indicator %s over %zu bars", k->name,
                       s->n),
               NULL;
    }
    if ((sma || ema) && self->defer) { /* computed by bt_indcache_fill */
        c->ring = ring;
        c->pend_next = self->pend;
        self->pend = c;
        self->npend++;
    } else if (sma) {
        bt_sma_array(s->close, s->n, (size_t)p[0], ring, all);
        free(ring);
    } else if (ema) {
        bt_ema_array(s->close, s->n, (size_t)p[0], all);
    } else if (bt_ind_array(k, p, (bt_ind_source_t)d->source, bars, NULL, s->n, all, eb) !=
               BT_OK) {
        free(c); /* (the chunk's room stays taken until the cache is cleared) */
        return NULL;
    }
    if (d->out != 0) /* keep output d->out only, at the front */
        memmove(all, all + (size_t)d->out * s->n, s->n * sizeof *all);
    c->v = all; /* (the other outputs' room is not worth a realloc) */
    c->hash = h;
    c->close = s->close;
    c->n = s->n;
    c->kind = k;
    memcpy(c->p, p, sizeof p);
    c->source = d->source;
    c->out = d->out;
    c->next = *slot;
    *slot = c;
    self->bytes += s->n * k->nout * sizeof *all;
    self->computed++;
    return c->v;
}

void bt_indcache_defer(bt_indcache_t *self, bool on)
{
    self->defer = on;
}

/* One deferred column: the same loop bt_indcache_get runs at once. */
static void s_fill_one(s_col_t *c)
{
    if (c->ring) {
        bt_sma_array(c->close, c->n, (size_t)c->p[0], c->ring, c->v);
        free(c->ring);
        c->ring = NULL;
    } else {
        bt_ema_array(c->close, c->n, (size_t)c->p[0], c->v);
    }
}

/* A unit of the fill: one column, or 4 SMAs / 4 or 8 EMAs of one series computed together
 * (bt_sma_array4, bt_ema_array8: the same bits, 2-4x less time a column). */
typedef struct {
    s_col_t *c[8];
    int k;
} s_unit_t;

static void s_fill_unit(const s_unit_t *u)
{
    if (u->k == 1) {
        s_fill_one(u->c[0]);
        return;
    }
    size_t w[8];
    double *out[8];
    for (int j = 0; j < u->k; j++) {
        w[j] = (size_t)u->c[j]->p[0];
        out[j] = u->c[j]->v;
    }
    const s_col_t *c0 = u->c[0];
    if (c0->ring)
        bt_sma_array4(c0->close, c0->n, w, out);
    else if (u->k == 8)
        bt_ema_array8(c0->close, c0->n, w, out);
    else
        bt_ema_array4(c0->close, c0->n, w, out);
    for (int j = 0; j < u->k; j++) {
        free(u->c[j]->ring);
        u->c[j]->ring = NULL;
    }
}

/* Pending columns in the order the units take them: by kind (SMA first), series, window. */
static int s_pend_cmp(const void *pa, const void *pb)
{
    const s_col_t *a = *(const s_col_t *const *)pa, *b = *(const s_col_t *const *)pb;
    if ((a->ring != NULL) != (b->ring != NULL))
        return a->ring ? -1 : 1;
    if (a->close != b->close)
        return (uintptr_t)a->close < (uintptr_t)b->close ? -1 : 1;
    if (a->n != b->n)
        return a->n < b->n ? -1 : 1;
    return a->p[0] < b->p[0] ? -1 : a->p[0] > b->p[0];
}

static bool s_same_group(const s_col_t *a, const s_col_t *b)
{
    return (a->ring != NULL) == (b->ring != NULL) && a->close == b->close && a->n == b->n;
}

void bt_indcache_fill(bt_indcache_t *self, int threads)
{
    size_t n = self->npend;
    if (n == 0)
        return;
    s_col_t **v = malloc(n * sizeof *v);
    s_unit_t *u = malloc(n * sizeof *u);
    if (!v || !u) { /* no room for the lists: one after the other */
        for (s_col_t *c = self->pend; c; c = c->pend_next)
            s_fill_one(c);
    } else {
        size_t k = 0;
        for (s_col_t *c = self->pend; c; c = c->pend_next)
            v[k++] = c;
        qsort(v, n, sizeof *v, s_pend_cmp);
        size_t nu = 0;
        for (size_t i = 0; i < n;) {
            size_t run = 1; /* columns from i on that can go together */
            while (i + run < n && run < 8 && s_same_group(v[i], v[i + run]))
                run++;
            int take = v[i]->ring ? (run >= 4 ? 4 : 1) : (run >= 8 ? 8 : run >= 4 ? 4 : 1);
            u[nu].k = take;
            for (int j = 0; j < take; j++)
                u[nu].c[j] = v[i + (size_t)j];
            nu++;
            i += (size_t)take;
        }
        long nl = (long)nu;
        /* each unit is a series-long loop: one thread each; the first touch of its columns'
         * memory goes with it */
#pragma omp parallel for default(none) shared(u, nl) num_threads(threads > 0 ? threads : 1) \
    schedule(dynamic, 1) if (threads > 1 && nl > 1)
        for (long i = 0; i < nl; i++)
            s_fill_unit(&u[i]);
    }
    free(v);
    free(u);
    self->pend = NULL;
    self->npend = 0;
}

bool bt_indcache_same_timeline(bt_indcache_t *self, const bt_series_t *s, size_t n)
{
    bool hit = n > 0 && n == self->tl_n;
    for (size_t i = 0; hit && i < n; i++)
        hit = self->tl_time[i] == s[i].time && self->tl_len[i] == s[i].n;
    if (hit)
        return self->tl_same;
    bool same = true;
    for (size_t i = 1; i < n && same; i++)
        same = bt_feed_same_timeline(&s[i], &s[0]);
    self->tl_n = n <= S_TL_MAX ? n : 0;
    for (size_t i = 0; i < self->tl_n; i++) {
        self->tl_time[i] = s[i].time;
        self->tl_len[i] = s[i].n;
    }
    self->tl_same = same;
    return same;
}
