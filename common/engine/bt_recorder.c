/* bt_recorder — the optional full record of a run. See bt_recorder.h. */
#define _DEFAULT_SOURCE /* madvise(MADV_HUGEPAGE) */
#include "bt_recorder.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

void bt_recorder_init(bt_recorder_t *rec)
{
    memset(rec, 0, sizeof *rec);
}

void bt_recorder_fini(bt_recorder_t *rec)
{
    if (!rec)
        return;
    free(rec->orders);
    free(rec->trades);
    if (!rec->sink)
        free(rec->equity);
    memset(rec, 0, sizeof *rec);
}

void bt_recorder_clear(bt_recorder_t *rec)
{
    rec->norders = rec->ntrades = rec->nequity = 0;
}

/* Makes room for one more element of size sz in *arr (n used, *cap slots). */
static bool s_grow(void **arr, size_t n, size_t *cap, size_t sz)
{
    if (n < *cap)
        return true;
    size_t ncap = *cap ? *cap * 2 : 64;
    void *p = realloc(*arr, ncap * sz);
    if (!p)
        return false;
    *arr = p;
    *cap = ncap;
    return true;
}

bt_order_rec_t *bt_recorder_add_order(bt_recorder_t *rec)
{
    if (!s_grow((void **)&rec->orders, rec->norders, &rec->orders_cap, sizeof *rec->orders))
        return NULL;
    bt_order_rec_t *x = &rec->orders[rec->norders++];
    memset(x, 0, sizeof *x);
    return x;
}

bt_trade_rec_t *bt_recorder_add_trade(bt_recorder_t *rec)
{
    if (!s_grow((void **)&rec->trades, rec->ntrades, &rec->trades_cap, sizeof *rec->trades))
        return NULL;
    bt_trade_rec_t *x = &rec->trades[rec->ntrades++];
    memset(x, 0, sizeof *x);
    return x;
}

/* Moves the equity record to room for cap points; large ones on transparent huge pages (one
 * page fault per 2 MiB instead of per 4 KiB: a 10 M-step record is 400 MB). */
static bool s_equity_room(bt_recorder_t *rec, size_t cap)
{
    const size_t huge = (size_t)2 << 20;
    if (cap > SIZE_MAX / 2 / sizeof *rec->equity)
        return false;
    size_t size = cap * sizeof *rec->equity;
    if (size < 2 * huge)
        return s_grow((void **)&rec->equity, rec->nequity, &rec->equity_cap, sizeof *rec->equity);
    size = (size + huge - 1) / huge * huge;
    bt_equity_rec_t *p = aligned_alloc(huge, size);
    if (!p)
        return false;
#ifdef MADV_HUGEPAGE
    madvise(p, size, MADV_HUGEPAGE);
#endif
    if (rec->nequity)
        memcpy(p, rec->equity, rec->nequity * sizeof *p);
    free(rec->equity);
    rec->equity = p;
    rec->equity_cap = size / sizeof *p;
    return true;
}

void bt_recorder_stream_equity(bt_recorder_t *rec, bt_equity_rec_t *buf, size_t cap,
                               bt_recorder_sink_fn sink, void *user)
{
    if (!rec->sink)
        free(rec->equity);
    rec->equity = buf;
    rec->equity_cap = cap;
    rec->nequity = 0;
    rec->sink = sink;
    rec->sink_user = user;
    rec->equity_passed = 0;
}

bt_err_t bt_recorder_flush_equity(bt_recorder_t *rec)
{
    if (!rec->sink || !rec->equity)
        return rec->sink ? BT_ENOMEM : BT_OK;
    size_t n = rec->nequity;
#if defined(__x86_64__)
    _mm_sfence(); /* the engine's streaming stores reach memory before the sink hands them on */
#endif
    rec->equity = rec->sink(rec->sink_user, rec->equity, n);
    rec->nequity = 0;
    rec->equity_passed += n;
    return rec->equity ? BT_OK : BT_ENOMEM;
}

bt_equity_rec_t *bt_recorder_add_equity(bt_recorder_t *rec)
{
    if (rec->sink) {
        if (rec->nequity == rec->equity_cap && bt_recorder_flush_equity(rec) != BT_OK)
            return NULL;
        return &rec->equity[rec->nequity++];
    }
    if (rec->nequity == rec->equity_cap &&
        !s_equity_room(rec, rec->equity_cap ? rec->equity_cap * 2 : 64))
        return NULL;
    return &rec->equity[rec->nequity++];
}

bt_err_t bt_recorder_append(bt_recorder_t *dst, const bt_recorder_t *src, int64_t id_off)
{
    for (size_t i = 0; i < src->norders; i++) {
        bt_order_rec_t *x = bt_recorder_add_order(dst);
        if (!x)
            return BT_ENOMEM;
        *x = src->orders[i];
        if (x->id)
            x->id += id_off;
    }
    for (size_t i = 0; i < src->ntrades; i++) {
        bt_trade_rec_t *x = bt_recorder_add_trade(dst);
        if (!x)
            return BT_ENOMEM;
        *x = src->trades[i];
    }
    return BT_OK;
}

void bt_recorder_set_reason(char dst[64], const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (n > 63)
        n = 63;
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

const char *bt_exit_reason_name(unsigned reason)
{
    static const char *const names[BT_EXIT_NREASONS] = {
        "open", "signal", "stop_loss", "take_profit", "trailing", "end", "risk"};
    return reason < BT_EXIT_NREASONS ? names[reason] : "?";
}
