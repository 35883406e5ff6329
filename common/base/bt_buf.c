#include "bt_buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bt_buf_init(bt_buf_t *b, size_t cap)
{
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    b->cap = cap;
}

void bt_buf_fini(bt_buf_t *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
}

void bt_buf_reset(bt_buf_t *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

bt_err_t bt_buf_reserve(bt_buf_t *b, size_t extra)
{
    if (extra > b->cap || b->len > b->cap - extra)
        return BT_ELIMIT;
    size_t need = b->len + extra; /* <= cap */
    if (need == SIZE_MAX)
        return BT_ELIMIT; /* no room for the NUL */
    if (need + 1 <= b->alloc)
        return BT_OK;
    /* Double (at least 64 bytes) but never past cap + 1. */
    size_t want = b->alloc < 64 ? 64 : b->alloc;
    while (want < need + 1)
        want = want > SIZE_MAX / 2 ? SIZE_MAX : want * 2;
    if (want > b->cap + 1 && b->cap < SIZE_MAX)
        want = b->cap + 1;
    if (want < need + 1)
        want = need + 1;
    char *p = realloc(b->data, want);
    if (!p)
        return BT_ENOMEM;
    if (!b->data)
        p[0] = '\0';
    b->data = p;
    b->alloc = want;
    return BT_OK;
}

bt_err_t bt_buf_append(bt_buf_t *b, const void *p, size_t n)
{
    bt_err_t e = bt_buf_reserve(b, n);
    if (e != BT_OK)
        return e;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return BT_OK;
}

bt_err_t bt_buf_puts(bt_buf_t *b, const char *s)
{
    return bt_buf_append(b, s, strlen(s));
}

bt_err_t bt_buf_putc(bt_buf_t *b, char c)
{
    return bt_buf_append(b, &c, 1);
}

bt_err_t bt_buf_printf(bt_buf_t *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return BT_EINVAL;
    if ((size_t)n < sizeof small)
        return bt_buf_append(b, small, (size_t)n);
    bt_err_t e = bt_buf_reserve(b, (size_t)n);
    if (e != BT_OK)
        return e;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return BT_OK;
}
