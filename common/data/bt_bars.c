/* bt_bars — growable struct-of-arrays bar buffer (64-byte aligned arrays). */
#include "bt_bars.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "bt_alloc.h"

#define S_NDBL 6 /* open, high, low, close, volume, adj_close */

struct bt_bars {
    char symbol[BT_SYMBOL_MAX]; /* symbol name */
    size_t n;                   /* bars held */
    size_t cap;                 /* bars allocated */
    int64_t *time;              /* cap entries */
    double *f[S_NDBL];          /* cap entries each: open high low close volume adj_close */
    bool has_adj;               /* some adj_close was not NAN */
};

static bt_err_t s_grow(bt_bars_t *self, size_t cap)
{
    int64_t *t = bt_aligned_alloc(cap * sizeof *t);
    double *f[S_NDBL] = {0};
    bool ok = t != NULL;
    for (int i = 0; i < S_NDBL && ok; i++)
        ok = (f[i] = bt_aligned_alloc(cap * sizeof(double))) != NULL;
    if (!ok) {
        bt_aligned_free(t);
        for (int i = 0; i < S_NDBL; i++)
            bt_aligned_free(f[i]);
        return BT_ENOMEM;
    }
    if (self->n) {
        memcpy(t, self->time, self->n * sizeof *t);
        for (int i = 0; i < S_NDBL; i++)
            memcpy(f[i], self->f[i], self->n * sizeof(double));
    }
    bt_aligned_free(self->time);
    self->time = t;
    for (int i = 0; i < S_NDBL; i++) {
        bt_aligned_free(self->f[i]);
        self->f[i] = f[i];
    }
    self->cap = cap;
    return BT_OK;
}

bt_bars_t *bt_bars_new(const char *symbol, size_t capacity)
{
    assert(symbol);
    if (capacity > SIZE_MAX / 4 / sizeof(double))
        return NULL;
    bt_bars_t *self = bt_aligned_alloc(sizeof *self);
    if (!self)
        return NULL;
    size_t len = strlen(symbol);
    if (len >= BT_SYMBOL_MAX)
        len = BT_SYMBOL_MAX - 1;
    memcpy(self->symbol, symbol, len);
    self->symbol[len] = '\0';
    if (s_grow(self, capacity < 64 ? 64 : capacity) != BT_OK) {
        bt_aligned_free(self);
        return NULL;
    }
    return self;
}

void bt_bars_destroy(bt_bars_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bt_bars_t *self = *self_p;
    bt_aligned_free(self->time);
    for (int i = 0; i < S_NDBL; i++)
        bt_aligned_free(self->f[i]);
    bt_aligned_free(self);
    *self_p = NULL;
}

bt_err_t bt_bars_push(bt_bars_t *self, int64_t time, double open, double high, double low,
                      double close, double volume, double adj_close)
{
    if (self->n == self->cap) {
        if (self->cap > SIZE_MAX / 2 / sizeof(double))
            return BT_ENOMEM;
        bt_err_t rc = s_grow(self, self->cap * 2);
        if (rc != BT_OK)
            return rc;
    }
    size_t i = self->n++;
    self->time[i] = time;
    self->f[0][i] = open;
    self->f[1][i] = high;
    self->f[2][i] = low;
    self->f[3][i] = close;
    self->f[4][i] = volume;
    self->f[5][i] = adj_close;
    if (!isnan(adj_close))
        self->has_adj = true;
    return BT_OK;
}

size_t bt_bars_count(const bt_bars_t *self)
{
    return self->n;
}

bt_series_t bt_bars_view(const bt_bars_t *self)
{
    bt_series_t s;
    memset(&s, 0, sizeof s);
    memcpy(s.symbol, self->symbol, sizeof s.symbol);
    s.n = self->n;
    s.time = self->time;
    s.open = self->f[0];
    s.high = self->f[1];
    s.low = self->f[2];
    s.close = self->f[3];
    s.volume = self->f[4];
    s.adj_close = self->has_adj ? self->f[5] : NULL;
    return s;
}

void bt_bars_clear(bt_bars_t *self)
{
    self->n = 0;
    self->has_adj = false;
}
