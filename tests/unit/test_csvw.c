/* Unit tests for bt_csvw, the one CSV writer. Expected text written by hand
 * from RFC 4180 (section 2, rules 6 and 7) and C's printf rules. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt_csvw.h"

Test(csvw, quoting_rule)
{
    bt_buf_t b;
    bt_buf_init(&b, 1 << 16);
    bt_csvw_t w;
    bt_csvw_init_buf(&w, &b);
    bt_csvw_str(&w, "plain");
    bt_csvw_str(&w, "a,b");          /* comma -> quoted */
    bt_csvw_str(&w, "say \"hi\"");   /* quotes doubled */
    bt_csvw_str(&w, "two\nlines");   /* LF */
    bt_csvw_str(&w, "cr\r");         /* CR */
    bt_csvw_str(&w, " padded ");     /* spaces are data (RFC 4180): not quoted */
    bt_csvw_str(&w, "");
    bt_csvw_empty(&w);
    cr_assert_eq(bt_csvw_end_row(&w), BT_OK);
    cr_assert_str_eq(b.data,
                     "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\"cr\r\", padded ,,\n");
    bt_buf_reset(&b);
    bt_csvw_strn(&w, "AB\"CDEF", 4); /* first 4 bytes: AB"C */
    bt_csvw_strn(&w, "xy\0zz", 5);   /* stops at the NUL */
    bt_csvw_end_row(&w);
    cr_assert_str_eq(b.data, "\"AB\"\"C\",xy\n");
    bt_buf_fini(&b);
}

Test(csvw, numbers)
{
    bt_buf_t b;
    bt_buf_init(&b, 1 << 16);
    bt_csvw_t w;
    bt_csvw_init_buf(&w, &b);
    bt_csvw_i64(&w, INT64_MIN);
    bt_csvw_u64(&w, UINT64_MAX);
    bt_csvw_double(&w, 0.1);       /* "%.15g" reads back as 0.1 */
    bt_csvw_double(&w, 0.1 + 0.2); /* needs 17 digits: 0.30000000000000004 */
    bt_csvw_double(&w, NAN);
    bt_csvw_double(&w, -INFINITY);
    bt_csvw_g(&w, 2.0 / 3.0, 15);  /* fixed 15 digits, not round-trip */
    bt_csvw_fixed(&w, -1.5, 6);
    bt_csvw_end_row(&w);
    cr_assert_str_eq(b.data, "-9223372036854775808,18446744073709551615,0.1,"
                             "0.30000000000000004,nan,-inf,0.666666666666667,-1.500000\n");
    /* a huge number is written whole, never cut to a stack buffer: 1e300 with 2
     * decimals is 301 digits + ".00" */
    bt_buf_reset(&b);
    bt_csvw_fixed(&w, 1e300, 2);
    bt_csvw_end_row(&w);
    cr_assert_eq(b.len, 301 + 3 + 1);
    cr_assert_str_eq(b.data + 301, ".00\n");
    bt_buf_fini(&b);
}

Test(csvw, double_reads_back_exactly)
{
    /* a spread of awkward doubles: each must parse back to the same bits */
    const double v[] = {1.0 / 3.0, 1e-310, 5e-324, 1.7976931348623157e308, -0.0, 123456789.123456789,
                        0.1 + 0.7};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char t[40];
        bt_csvw_fmt_double(v[i], t, sizeof t);
        double back = strtod(t, NULL);
        cr_assert_eq(memcmp(&back, &v[i], sizeof back), 0, "%s", t);
    }
}

Test(csvw, errors_are_sticky)
{
    bt_buf_t b;
    bt_buf_init(&b, 8);
    bt_csvw_t w;
    bt_csvw_init_buf(&w, &b);
    cr_assert_eq(bt_csvw_line(&w, "a,b,c"), BT_OK); /* 6 bytes */
    bt_csvw_str(&w, "toolong");                    /* 6 + 7 > 8 */
    cr_assert_eq(bt_csvw_error(&w), BT_ELIMIT);
    bt_csvw_str(&w, "x"); /* would fit, but the row is already broken */
    cr_assert_eq(bt_csvw_end_row(&w), BT_ELIMIT);
    cr_assert_str_eq(b.data, "a,b,c\n");
    bt_buf_fini(&b);
    /* a FILE* that fails: /dev/full takes nothing */
    FILE *f = fopen("/dev/full", "w");
    if (f) {
        setvbuf(f, NULL, _IONBF, 0);
        bt_csvw_init_file(&w, f);
        bt_csvw_str(&w, "x");
        cr_assert_eq(bt_csvw_end_row(&w), BT_EIO);
        fclose(f);
    }
}

Test(csvw, file_target)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cr_assert(f);
    bt_csvw_t w;
    bt_csvw_init_file(&w, f);
    bt_csvw_line(&w, "k,v");
    bt_csvw_str(&w, "x,y");
    bt_csvw_i64(&w, 7);
    cr_assert_eq(bt_csvw_end_row(&w), BT_OK);
    fclose(f);
    cr_assert_str_eq(text, "k,v\n\"x,y\",7\n");
    free(text);
}

/* bt_csvw_fmt_g15 must give printf's "%.15g" byte for byte (glibc is the
 * independent reference): random bit patterns over every exponent, decimal
 * fractions, exact halves at the 16th digit (ties: printf decides), powers
 * of ten and their neighbours, signs and zero. */
static void s_g15_same(double v)
{
    char a[64], b[64];
    bt_csvw_fmt_g15(v, a);
    snprintf(b, sizeof b, "%.15g", v);
    cr_assert_str_eq(a, b, "%.17g: fast \"%s\", printf \"%s\"", v, a, b);
}

Test(csvw, g15_equals_printf)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 400000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
        double v;
        memcpy(&v, &x, sizeof v);
        s_g15_same(v);
        s_g15_same((double)(int64_t)(x >> 20) / 1000.0);  /* money-like values */
        s_g15_same((double)(x >> 11) * 0x1p-53 * 3e5);     /* equity-like values */
    }
    const double fixed[] = {0.0, -0.0, 1.0, -1.0, 0.1, 0.5, 1e-4, 9.9999999999999e-5, 1e-5,
                            1e14, 1e15, 1e16, 999999999999999.0, 999999999999999.5,
                            123456789012345.5, 123456789012344.5, 0.30324858681516387,
                            142813.92596021853, 1e300, 1e-300, 5e-324, 1.7976931348623157e308,
                            NAN, INFINITY, -INFINITY, 100000, 2.5e-7, 1234567.0};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        s_g15_same(fixed[i]);
        s_g15_same(nextafter(fixed[i], INFINITY));
        s_g15_same(nextafter(fixed[i], -INFINITY));
    }
    for (int e = -30; e <= 30; e++) { /* powers of ten and the doubles next to them */
        double p = pow(10.0, e);
        s_g15_same(p);
        s_g15_same(nextafter(p, 0));
        s_g15_same(nextafter(p, INFINITY));
    }
}

/* bt_csvw_fmt_double must give the reference text byte for byte: printf's
 * "%.15g" when strtod reads it back to the same double, else "%.17g" (glibc's
 * printf and strtod are the independent reference; the fast path skips both). */
static void s_double_same(double v)
{
    char a[64], b[64];
    bt_csvw_fmt_double(v, a, sizeof a);
    if (isnan(v))
        snprintf(b, sizeof b, "nan");
    else if (isinf(v))
        snprintf(b, sizeof b, "%s", v > 0 ? "inf" : "-inf");
    else if (snprintf(b, sizeof b, "%.15g", v), strtod(b, NULL) != v)
        snprintf(b, sizeof b, "%.17g", v);
    cr_assert_str_eq(a, b, "%.17g: fast \"%s\", reference \"%s\"", v, a, b);
}

Test(csvw, double_equals_printf_strtod)
{
    uint64_t x = 0x2545f4914f6cdd1dull;
    for (int i = 0; i < 300000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
        double v;
        memcpy(&v, &x, sizeof v);
        s_double_same(v);
        s_double_same((double)(int64_t)(x >> 20) / 1000.0);    /* money-like: 15 digits do */
        s_double_same((double)(x >> 11) * 0x1p-53);             /* metric-like: 17 digits */
        s_double_same((double)(x >> 11) * 0x1p-53 * 3e5 - 1e5); /* equity-like, both signs */
        s_double_same((double)(x >> 40) / 7.0);                 /* repeating fractions */
    }
    const double fixed[] = {0.0, -0.0, 1.0, -1.0, 0.1, 0.2, 0.3, 0.1 + 0.2, 1.0 / 3.0, 2.0 / 3.0,
                            1e-4, 1e-5, 1e14, 1e15, 1e16, 1e17, 1e22, 1e23, 9007199254740993.0,
                            999999999999999.0, 99999999999999999.0, 0.30324858681516387,
                            142813.92596021853, 1e300, 1e-300, 5e-324, 1.7976931348623157e308,
                            NAN, INFINITY, -INFINITY, 2.5e-7, 1234567.0, 4.35e-10, 8.5e-16};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        s_double_same(fixed[i]);
        s_double_same(nextafter(fixed[i], INFINITY));
        s_double_same(nextafter(fixed[i], -INFINITY));
    }
    for (int e = -30; e <= 30; e++) { /* powers of ten and the doubles next to them */
        double p = pow(10.0, e);
        s_double_same(p);
        s_double_same(nextafter(p, 0));
        s_double_same(nextafter(p, INFINITY));
        s_double_same(p * 1.5);
        s_double_same(p / 3.0);
    }
    /* Halves at the 16th digit (17 digits ending in 50: the 15 cannot come
     * from the 17), 15 nines then 5 (the 15 digits round up to the next
     * power of ten), and their neighbours, over many exponents. */
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double q = (double)(100000000000000ull + x % 900000000000000ull);
        int e = (int)(x >> 50) % 40 - 20;
        double half = (q + 0.5) * pow(10.0, e - 14);
        double nines = 9.999999999999995 * pow(10.0, e);
        const double vs[] = {half, nines};
        for (int k = 0; k < 2; k++) {
            s_double_same(vs[k]);
            s_double_same(nextafter(vs[k], INFINITY));
            s_double_same(nextafter(vs[k], -INFINITY));
            s_double_same(-vs[k]);
        }
    }
}
