#include "bt_csvw.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void bt_csvw_init_file(bt_csvw_t *w, FILE *f)
{
    *w = (bt_csvw_t){.f = f, .err = BT_OK};
}

void bt_csvw_init_buf(bt_csvw_t *w, bt_buf_t *buf)
{
    *w = (bt_csvw_t){.buf = buf, .err = BT_OK};
}

static void s_put(bt_csvw_t *w, const char *p, size_t n)
{
    if (w->err != BT_OK || n == 0)
        return;
    if (w->buf)
        w->err = bt_buf_append(w->buf, p, n);
    else if (fwrite(p, 1, n, w->f) != n)
        w->err = BT_EIO;
}

/* Separator before every field but a row's first. */
static void s_sep(bt_csvw_t *w)
{
    if (w->nfield++)
        s_put(w, ",", 1);
}

bool bt_csvw_needs_quotes(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n')
            return true;
    return false;
}

void bt_csvw_strn(bt_csvw_t *w, const char *s, size_t n)
{
    n = strnlen(s, n);
    s_sep(w);
    if (!bt_csvw_needs_quotes(s, n)) {
        s_put(w, s, n);
        return;
    }
    s_put(w, "\"", 1);
    size_t from = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '"')
            continue;
        s_put(w, s + from, i + 1 - from); /* up to and including the quote */
        s_put(w, "\"", 1);                /* ... which is doubled */
        from = i + 1;
    }
    s_put(w, s + from, n - from);
    s_put(w, "\"", 1);
}

void bt_csvw_str(bt_csvw_t *w, const char *s)
{
    bt_csvw_strn(w, s, SIZE_MAX);
}

void bt_csvw_empty(bt_csvw_t *w)
{
    s_sep(w);
}

static void s_num(bt_csvw_t *w, const char *text, int n)
{
    s_sep(w);
    if (n > 0)
        s_put(w, text, (size_t)n);
}

void bt_csvw_i64(bt_csvw_t *w, int64_t v)
{
    char t[24];
    s_num(w, t, snprintf(t, sizeof t, "%" PRId64, v));
}

void bt_csvw_u64(bt_csvw_t *w, uint64_t v)
{
    char t[24];
    s_num(w, t, snprintf(t, sizeof t, "%" PRIu64, v));
}

const char *bt_csvw_fmt_double(double v, char *buf, size_t size)
{
    if (isnan(v))
        snprintf(buf, size, "nan");
    else if (isinf(v))
        snprintf(buf, size, "%s", v > 0 ? "inf" : "-inf");
    else if (snprintf(buf, size, "%.15g", v), strtod(buf, NULL) != v)
        snprintf(buf, size, "%.17g", v);
    return buf;
}

void bt_csvw_double(bt_csvw_t *w, double v)
{
    char t[40];
    bt_csvw_fmt_double(v, t, sizeof t);
    s_num(w, t, (int)strlen(t));
}

/* "%.*g" (fixed false) or "%.*f" (fixed true), never truncated. */
static void s_prec(bt_csvw_t *w, double v, int prec, bool fixed)
{
    char t[128];
    int n = fixed ? snprintf(t, sizeof t, "%.*f", prec, v) : snprintf(t, sizeof t, "%.*g", prec, v);
    if (n >= 0 && (size_t)n < sizeof t) {
        s_num(w, t, n);
        return;
    }
    s_sep(w); /* e.g. 1e308 with "%.6f": 316 characters */
    if (w->err != BT_OK)
        return;
    if (w->buf)
        w->err = fixed ? bt_buf_printf(w->buf, "%.*f", prec, v)
                       : bt_buf_printf(w->buf, "%.*g", prec, v);
    else if ((fixed ? fprintf(w->f, "%.*f", prec, v) : fprintf(w->f, "%.*g", prec, v)) < 0)
        w->err = BT_EIO;
}

void bt_csvw_g(bt_csvw_t *w, double v, int digits)
{
    s_prec(w, v, digits, false);
}

void bt_csvw_fixed(bt_csvw_t *w, double v, int decimals)
{
    s_prec(w, v, decimals, true);
}

bt_err_t bt_csvw_end_row(bt_csvw_t *w)
{
    s_put(w, "\n", 1);
    w->nfield = 0;
    return w->err;
}

bt_err_t bt_csvw_line(bt_csvw_t *w, const char *text)
{
    s_put(w, text, strlen(text));
    return bt_csvw_end_row(w);
}

bt_err_t bt_csvw_error(const bt_csvw_t *w)
{
    return w->err;
}
