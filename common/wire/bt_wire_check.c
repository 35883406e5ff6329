/* bt_wire — the value rules of every message (bt_wire_check), driven by the
 * descriptions in bt_wire_msgs.c. */
#include <assert.h>
#include <math.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt_wire_priv.h"

/* -------------------------------------------------------- value checks -- */

bool bt_wire_utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        unsigned cp;
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

/* --------------------------------------------------------- where -- */

/* "JOB message: jobs[0].o[1] (job 3)", "RESULT message for job 17". */
static void s_where(const w_where_t *w, char *out, size_t cap)
{
    const w_where_t *chain[8];
    size_t n = 0;
    for (const w_where_t *x = w; x && n < 8; x = x->up)
        chain[n++] = x;
    const w_where_t *top = chain[n - 1];
    size_t len = (size_t)snprintf(out, cap, "%s message", top->msg->name);
    const w_where_t *subj = NULL;
    for (size_t i = n; i-- > 0;) {
        if (chain[i]->msg->has_subject)
            subj = chain[i];
        if (i + 1 < n && len < cap)
            len += (size_t)snprintf(out + len, cap - len, "%s%s[%u]", i + 2 == n ? ": " : ".",
                                    chain[i]->key, chain[i]->idx);
    }
    if (subj && len < cap) {
        uint64_t id;
        memcpy(&id, (const char *)subj->base + subj->msg->subject_off, sizeof id);
        snprintf(out + len, cap - len, n > 1 ? " (%s %llu)" : " for %s %llu",
                 subj->msg->subject_name, (unsigned long long)id);
    }
}

bt_err_t bt_wire_fail(const w_where_t *w, bt_errbuf_t *eb, bt_err_t code, const char *fmt, ...)
{
    char where[256], detail[640];
    s_where(w, where, sizeof where);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return bt_errf(eb, code, "wire %s: %s", where, detail);
}

/* --------------------------------------------------------- the check -- */

#define S_AT(base, off, type) (*(const type *)((const char *)(base) + (off)))

static const char *const s_metric_names[] = {
#define S_METRIC_NAME(name, desc) #name,
    BT_METRICS(S_METRIC_NAME)
#undef S_METRIC_NAME
};

bool bt_wire_present(const w_field_t *f, const void *base)
{
    switch (f->opt) {
    case W_OPT_NZ: /* scalars: the value; views: the count */
        switch (f->kind) {
        case W_U32:
            return S_AT(base, f->off, uint32_t) != 0;
        case W_U64:
            return S_AT(base, f->off, uint64_t) != 0;
        case W_BIN:
            return S_AT(base, f->noff, size_t) != 0;
        default:
            return S_AT(base, f->noff, uint32_t) != 0;
        }
    case W_OPT_FLAG:
        return S_AT(base, f->flag, bool);
    default:
        return true;
    }
}

static bt_err_t s_check_map(const w_where_t *w, bt_errbuf_t *eb);

/* A nested array: count, view, then every element. */
static bt_err_t s_check_elems(const w_where_t *w, const w_field_t *f, const void *base,
                              bt_errbuf_t *eb)
{
    const char *v = S_AT(base, f->off, const char *);
    uint32_t n = S_AT(base, f->noff, uint32_t);
    for (uint32_t i = 0; i < n; i++) { /* a tuple is judged like a map of its elements */
        const void *el = v + (size_t)i * f->elsize;
        w_where_t sub = {.up = w, .msg = f->sub, .base = el, .key = f->key, .idx = i};
        bt_err_t e = s_check_map(&sub, eb);
        if (e != BT_OK)
            return e;
    }
    return BT_OK;
}

static bt_err_t s_check_field(const w_where_t *w, const w_field_t *f, const void *base,
                              bt_errbuf_t *eb)
{
    switch (f->kind) {
    case W_U32: {
        uint32_t v = S_AT(base, f->off, uint32_t);
        if (v > f->max && f->cap)
            return bt_wire_fail(w, eb, BT_ELIMIT, "field '%s' is %u, the limit is %llu", f->key,
                                v, (unsigned long long)f->max);
        if (v < f->min || v > f->max)
            return f->max == UINT32_MAX
                       ? bt_wire_fail(w, eb, BT_EPROTO, "field '%s' is %u; it must be >= %llu",
                                      f->key, v, (unsigned long long)f->min)
                       : bt_wire_fail(w, eb, BT_EPROTO, "field '%s' is %u; it must be %llu..%llu",
                                      f->key, v, (unsigned long long)f->min,
                                      (unsigned long long)f->max);
        return BT_OK;
    }
    case W_U64:
        return BT_OK;
    case W_F64: {
        double v = S_AT(base, f->off, double);
        if (!isfinite(v))
            return bt_wire_fail(w, eb, BT_EPROTO, "field '%s' is %g; it must be finite", f->key,
                                v);
        return BT_OK;
    }
    case W_STR: {
        const char *s = (const char *)base + f->off;
        size_t n = strnlen(s, f->max + 1);
        if (n > f->max)
            return bt_wire_fail(w, eb, BT_EINVAL, "field '%s' is not NUL-terminated within %llu "
                                "bytes", f->key, (unsigned long long)f->max + 1);
        if (f->rule)
            return BT_OK; /* the rule judges the whole text (hex digits) */
        if (n < f->min)
            return bt_wire_fail(w, eb, BT_EPROTO, "field '%s' is empty; it must not be", f->key);
        if (!bt_wire_utf8_valid((const unsigned char *)s, n))
            return bt_wire_fail(w, eb, BT_EPROTO, "field '%s' is not valid UTF-8", f->key);
        return BT_OK;
    }
    case W_ENUM: {
        int v = S_AT(base, f->off, int);
        if (v < 0 || (uint64_t)v > f->max)
            return bt_wire_fail(w, eb, BT_EPROTO, "field '%s' is %d, not one of 0..%llu", f->key,
                                v, (unsigned long long)f->max);
        return BT_OK;
    }
    case W_BIN: {
        size_t n = S_AT(base, f->noff, size_t);
        if (n && !S_AT(base, f->off, const char *))
            return bt_wire_fail(w, eb, BT_EINVAL, "field '%s' is NULL", f->key);
        if (n < f->min || n > f->max)
            return bt_wire_fail(w, eb, BT_ELIMIT, "field '%s' is %zu bytes; it must be %llu..%llu",
                                f->key, n, (unsigned long long)f->min, (unsigned long long)f->max);
        return BT_OK;
    }
    case W_METRICS: {
        double v[BT_WIRE_NMETRICS];
        memcpy(v, (const char *)base + f->off, sizeof v);
        for (size_t i = 0; i < BT_WIRE_NMETRICS; i++)
            if (!isfinite(v[i]))
                return bt_wire_fail(w, eb, BT_EPROTO,
                                    "metric %s[%zu] '%s' is %g; metrics must be finite (a worker "
                                    "bug: report it)",
                                    f->key, i, s_metric_names[i], v[i]);
        return BT_OK;
    }
    default:
        break;
    }
    /* Views: count within the cap, pointer set, then the elements. */
    uint32_t n = S_AT(base, f->noff, uint32_t);
    const void *p = S_AT(base, f->off, const void *);
    if (n > f->max)
        return bt_wire_fail(w, eb, BT_ELIMIT, "field '%s' has %u elements, the limit is %llu",
                            f->key, n, (unsigned long long)f->max);
    if (n && !p)
        return bt_wire_fail(w, eb, BT_EINVAL, "field '%s' is NULL with %u elements", f->key, n);
    switch (f->kind) {
    case W_F64S:
        for (uint32_t i = 0; i < n; i++)
            if (!isfinite(((const double *)p)[i]))
                return bt_wire_fail(w, eb, BT_EPROTO, "%s[%u] is %g; it must be finite", f->key,
                                    i, ((const double *)p)[i]);
        return BT_OK;
    case W_STRS:
        for (uint32_t i = 0; i < n; i++) {
            const char *s = ((const char *const *)p)[i];
            if (!s)
                return bt_wire_fail(w, eb, BT_EINVAL, "%s[%u] is NULL", f->key, i);
            size_t len = strnlen(s, (size_t)f->elmax + 1);
            if (len > f->elmax)
                return bt_wire_fail(w, eb, BT_ELIMIT, "%s[%u] is over %u bytes, the limit", f->key,
                                    i, f->elmax);
            if (len < f->min)
                return bt_wire_fail(w, eb, BT_EPROTO, "%s[%u] is empty; it must not be", f->key,
                                    i);
            if (!bt_wire_utf8_valid((const unsigned char *)s, len))
                return bt_wire_fail(w, eb, BT_EPROTO, "%s[%u] is not valid UTF-8", f->key, i);
        }
        return BT_OK;
    case W_MAPS:
    case W_TUPLES:
        return s_check_elems(w, f, base, eb);
    default:
        return BT_OK;
    }
}

static bt_err_t s_check_map(const w_where_t *w, bt_errbuf_t *eb)
{
    const w_msg_t *d = w->msg;
    for (uint32_t k = 0; k < d->nf; k++) {
        const w_field_t *f = &d->f[k];
        if (!bt_wire_present(f, w->base))
            continue;
        bt_err_t e = s_check_field(w, f, w->base, eb);
        if (e == BT_OK && f->rule)
            e = f->rule(w, f, w->base, eb);
        if (e != BT_OK)
            return e;
    }
    return d->rule ? d->rule(w, NULL, w->base, eb) : BT_OK;
}

bt_err_t bt_wire_check(const bt_msg_t *m, bt_errbuf_t *eb)
{
    assert(m);
    if ((int)m->type <= BT_MSG_NONE || m->type >= BT_MSG_TYPE_COUNT_)
        return bt_errf(eb, BT_EPROTO, "wire: message type %d is not a message type", (int)m->type);
    w_where_t w = {.msg = &bt_wire_msgs[m->type], .base = m};
    return s_check_map(&w, eb);
}
