#include "bt_csvw.h"

#include <float.h>
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
    else if (n < 64) { /* short fields: no per-call stream lock (fwrite takes one) */
        for (size_t i = 0; i < n; i++)
            if (putc_unlocked(p[i], w->f) == EOF) {
                w->err = BT_EIO;
                return;
            }
    } else if (fwrite(p, 1, n, w->f) != n) {
        w->err = BT_EIO;
    }
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

void bt_csvw_num_text(bt_csvw_t *w, const char *text)
{
    s_num(w, text, (int)strlen(text));
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

void bt_csvw_double(bt_csvw_t *w, double v)
{
    char t[40];
    bt_csvw_fmt_double(v, t, sizeof t);
    s_num(w, t, (int)strlen(t));
}

static const uint64_t s_ipow10[18] = {1ULL,
                                      10ULL,
                                      100ULL,
                                      1000ULL,
                                      10000ULL,
                                      100000ULL,
                                      1000000ULL,
                                      10000000ULL,
                                      100000000ULL,
                                      1000000000ULL,
                                      10000000000ULL,
                                      100000000000ULL,
                                      1000000000000ULL,
                                      10000000000000ULL,
                                      100000000000000ULL,
                                      1000000000000000ULL,
                                      10000000000000000ULL,
                                      100000000000000000ULL};

/* The P (15 or 17) significant digits of "%.Pg" without printf, for the
 * common case. They are m = round(|v| 10^k), k = P - 1 - exponent, with 10^k
 * exact in long double (|k| <= 27) and one rounding of the product or
 * quotient: a relative error <= 2^-64, so an absolute error < 2^-14 on m <
 * 10^15 and < 2^-7 on m < 10^17. When the fraction is within 2^-12 (P = 15)
 * or 2^-6 (P = 17) of a half the rounding could go either way: printf
 * decides (as it does for |k| > 27, subnormals, nan, inf). *mant and *exp10
 * get m and the exponent (|v| = m 10^(exp10 - P + 1), rounded). Returns
 * false when the caller must use printf. */
static bool s_digits(double v, int P, uint64_t *mant, int *exp10)
{
#if LDBL_MANT_DIG >= 64
    if (!isfinite(v))
        return false;
    long double a = fabsl((long double)v);
    if (a == 0) {
        *mant = 0;
        *exp10 = 0;
        return true;
    }
    if (a < 1e-300L)
        return false;
    static const long double pow10[28] = {
        1e0L,  1e1L,  1e2L,  1e3L,  1e4L,  1e5L,  1e6L,  1e7L,  1e8L,  1e9L,
        1e10L, 1e11L, 1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L,
        1e20L, 1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L};
    /* floor(log10 |v|) is floor(n log10 2) or one more, n the binary exponent
     * of the normal double v ((n 78913) >> 18 is floor(n log10 2) for |n| <
     * 1650); the exact compare below settles it */
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    int n2 = (int)((bits >> 52) & 0x7ff) - 1023;
    int e = (n2 * 78913) >> 18;
    if (e < 1 - P - 1 || e > 26)
        return false; /* 10^(P - 1 - e) or 10^(e + 1) not exact in long double */
    if (e + 1 >= 0 ? a >= pow10[e + 1] : a * pow10[-(e + 1)] >= 1.0L)
        e++;
    int k = P - 1 - e;
    if (k > 27 || k < -27)
        return false;
    long double x = k >= 0 ? a * pow10[k] : a / pow10[-k];
    /* The nearest integer r (x < 2^57: exact) and d = x - r in [-1/2, 1/2]:
     * the fraction is within the margin of a half exactly when |d| is, and
     * away from a half, rounding x is r. llrintl rounds in the current mode
     * (to nearest) without the x87 control-word switch that a cast (which
     * truncates) costs: that switch was a quarter of the formatting time.
     * Like the read-back test below (and printf, strtod), this assumes the
     * default rounding mode; nothing in bt changes it. */
    long long r = llrintl(x);
    long double d = x - (long double)r;
    if (fabsl(fabsl(d) - 0.5L) < (P <= 15 ? 0x1p-12L : 0x1p-6L))
        return false;
    uint64_t mi = (uint64_t)r;
    if (mi >= s_ipow10[P]) { /* 9.99...95 rounds up to the next power of ten */
        mi = s_ipow10[P - 1];
        e++;
    }
    *mant = mi;
    *exp10 = e;
    return true;
#else
    (void)v;
    (void)P;
    (void)mant;
    (void)exp10;
    return false;
#endif
}

/* "%.Pg" of the number with sign neg, digits m (P of them) and exponent e
 * (s_digits), into out. Returns the length. */
static int s_emit(bool neg, uint64_t m, int e, int P, char *out)
{
    char *p = out;
    if (neg)
        *p++ = '-';
    if (m == 0) {
        *p++ = '0';
        return (int)(p - out);
    }
    char dig[20];
    for (int i = P - 1; i >= 0; i--, m /= 10)
        dig[i] = (char)('0' + m % 10);
    int nd = P;
    while (nd > 1 && dig[nd - 1] == '0')
        nd--; /* %g drops trailing zeros */
    if (e >= -4 && e < P) { /* fixed notation */
        if (e >= 0) {
            for (int i = 0; i <= e; i++)
                *p++ = i < nd ? dig[i] : '0';
            if (nd > e + 1) {
                *p++ = '.';
                for (int i = e + 1; i < nd; i++)
                    *p++ = dig[i];
            }
        } else {
            *p++ = '0';
            *p++ = '.';
            for (int i = -1; i > e; i--)
                *p++ = '0';
            for (int i = 0; i < nd; i++)
                *p++ = dig[i];
        }
    } else { /* d.dddde+XX */
        *p++ = dig[0];
        if (nd > 1) {
            *p++ = '.';
            for (int i = 1; i < nd; i++)
                *p++ = dig[i];
        }
        *p++ = 'e';
        *p++ = e < 0 ? '-' : '+';
        int ae = e < 0 ? -e : e;
        if (ae >= 100)
            *p++ = (char)('0' + ae / 100);
        *p++ = (char)('0' + ae / 10 % 10);
        *p++ = (char)('0' + ae % 10);
    }
    return (int)(p - out);
}

/* "%.Pg" into out (40 bytes) with printf where s_digits cannot decide. */
static int s_gp(double v, int P, char *out)
{
    uint64_t m;
    int e;
    int n = s_digits(v, P, &m, &e) ? s_emit(signbit(v) != 0, m, e, P, out)
                                   : snprintf(out, 40, P <= 15 ? "%.15g" : "%.17g", v);
    out[n] = '\0';
    return n;
}

int bt_csvw_fmt_g15(double v, char *buf)
{
    return s_gp(v, 15, buf);
}

/* Whether m 10^q (m < 10^15, so exact in a double) reads back (strtod) to v.
 * With |q| <= 22, 10^|q| is exact too and one IEEE multiply or divide rounds
 * the exact value correctly, as strtod does (Clinger's fast path); else
 * -1: ask strtod. */
static int s_reads_back(uint64_t m, int q, double v)
{
    static const double p10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    if (q > 22 || q < -22)
        return -1;
    volatile double x = (double)m; /* no contraction, no excess precision */
    double r = q >= 0 ? x * p10[q] : x / p10[-q];
    return fabs(r) == fabs(v);
}

/* The 15 digits from the 17 (one scaling instead of two). With m17 =
 * round(x 100) and m17 mod 100 != 50, round(x) is round(m17 / 100): x 100
 * lies within 1/2 of m17, so on the same side of the half as m17 mod 100.
 * A remainder of exactly 50 may give the wrong neighbour, but then x is
 * within 0.005 of a half, neither neighbour is within 0.49 10^-14 (relative)
 * of v, far more than a double's half ulp, so neither reads back and the
 * caller writes the 17 digits: the text is right either way. */
static void s_15_of_17(uint64_t m17, int e17, uint64_t *m15, int *e15)
{
    *m15 = m17 / 100 + (m17 % 100 > 50);
    *e15 = e17;
    if (*m15 == s_ipow10[15]) { /* 9.99..95 at 15 digits: the next power of ten */
        *m15 = s_ipow10[14];
        *e15 = e17 + 1;
    }
}

const char *bt_csvw_fmt_double(double v, char *buf, size_t size)
{
    if (isnan(v)) {
        snprintf(buf, size, "nan");
        return buf;
    }
    if (isinf(v)) {
        snprintf(buf, size, "%s", v > 0 ? "inf" : "-inf");
        return buf;
    }
    if (size < 40) {
        snprintf(buf, size, "%.15g", v);
        if (strtod(buf, NULL) != v)
            snprintf(buf, size, "%.17g", v);
        return buf;
    }
    bool neg = signbit(v) != 0;
    uint64_t m17 = 0, m = 0;
    int e17 = 0, e = 0;
    if (s_digits(v, 17, &m17, &e17)) {
        s_15_of_17(m17, e17, &m, &e);
        int back = s_reads_back(m, e - 14, v);
        if (back < 0) { /* strtod decides */
            buf[s_emit(neg, m, e, 15, buf)] = '\0';
            if (strtod(buf, NULL) == v)
                return buf;
        } else if (back) {
            buf[s_emit(neg, m, e, 15, buf)] = '\0';
            return buf;
        }
        buf[s_emit(neg, m17, e17, 17, buf)] = '\0';
        return buf;
    }
    int n = s_digits(v, 15, &m, &e) ? s_emit(neg, m, e, 15, buf) : 0;
    int back = n ? s_reads_back(m, e - 14, v) : -1;
    if (n == 0)
        n = snprintf(buf, size, "%.15g", v);
    buf[n] = '\0';
    if (back < 0)
        back = strtod(buf, NULL) == v;
    if (back)
        return buf;
    s_gp(v, 17, buf);
    return buf;
}

/* "%.*g" (fixed false) or "%.*f" (fixed true), never truncated. */
static void s_prec(bt_csvw_t *w, double v, int prec, bool fixed)
{
    char t[128];
    if (!fixed && prec == 15) { /* the per-bar files: no printf */
        s_num(w, t, bt_csvw_fmt_g15(v, t));
        return;
    }
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
