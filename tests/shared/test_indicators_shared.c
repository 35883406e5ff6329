/* Indicators on real market data read in place from BT_SHARED_DATA.
 *
 * The expected numbers were computed once, independently, by a short
 * Python 3 script (standard library only) that recomputes each indicator
 * from scratch at the date from the textbook definition:
 *   SMA(n)  = sum(close[t-n+1..t]) / n
 *   EMA(n)  = seed sum(close[0..n-1]) / n, then v += 2/(n+1) * (x - v)
 *   RSI(n)  = Wilder: seed with the simple means of the first n gains and
 *             losses, then avg = (avg*(n-1) + x)/n; 100 - 100/(1 + g/l)
 *   std(n)  = sqrt(sum((x - mean)^2) / n) over the last n closes
 *   Donchian: max(high[t-20..t-1]), min(low[t-10..t-1]) (current excluded)
 *   ROC(n)  = close[t] / close[t-n] - 1
 * printed with %.17g. ORCL SMA(50) at 2008-10-10 was also checked with awk:
 *   awk -F, 'NR>1{c[NR-2]=$5} END{s=0; for(i=3420;i<=3469;i++) s+=c[i]; print s/50}'
 *   -> 20.620199940000
 * The tolerance is 1e-10 relative: the two sides sum in different orders. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt_indicators.h"

#define MAXROWS 6000

typedef struct {
    size_t n;
    char date[MAXROWS][20]; /* first column as text */
    double high[MAXROWS], low[MAXROWS], close[MAXROWS];
} s_file_t;

static s_file_t s_f;

/* Tiny reader for the few columns needed: skips the header, splits on ','.
 * Columns: 0 date, 2 high, 3 low, 4 close (the same in every file used). */
static void s_load(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", BT_SHARED_DATA, name);
    FILE *fp = fopen(path, "r");
    cr_assert_not_null(fp, "cannot open %s (BT_SHARED_DATA)", path);
    char line[512];
    s_f.n = 0;
    cr_assert_not_null(fgets(line, sizeof line, fp), "%s: empty", path);
    while (fgets(line, sizeof line, fp)) {
        cr_assert_lt(s_f.n, MAXROWS);
        char *fields[8] = {0};
        size_t nf = 0;
        char *p = line;
        fields[nf++] = p;
        for (; *p && *p != '\n' && *p != '\r'; p++) {
            if (*p == ',' && nf < 8) {
                *p = '\0';
                fields[nf++] = p + 1;
            }
        }
        *p = '\0';
        cr_assert_geq(nf, 5, "%s: row %zu has %zu fields", path, s_f.n + 2, nf);
        snprintf(s_f.date[s_f.n], sizeof s_f.date[0], "%s", fields[0]);
        s_f.high[s_f.n] = strtod(fields[2], NULL);
        s_f.low[s_f.n] = strtod(fields[3], NULL);
        s_f.close[s_f.n] = strtod(fields[4], NULL);
        s_f.n++;
    }
    fclose(fp);
}

static size_t s_index(const char *date)
{
    for (size_t i = 0; i < s_f.n; i++)
        if (strcmp(s_f.date[i], date) == 0)
            return i;
    cr_assert_fail("date %s not in file", date);
    return 0;
}

typedef struct {
    const char *date;
    double sma50, sma20, ema20, rsi14, std20;
} s_want_t;

static void s_near(double got, double want, const char *what, const char *date)
{
    cr_assert(fabs(got - want) <= 1e-10 * fabs(want), "%s at %s: got %.17g, want %.17g", what, date,
              got, want);
}

/* Runs the indicators over the whole file and checks them at each date. */
static void s_check(const char *file, const s_want_t *want, size_t nwant)
{
    s_load(file);
    static double b50[50], b20[20], bs[20];
    bt_sma_t sma50, sma20;
    bt_ema_t ema20;
    bt_rsi_t rsi14;
    bt_rstd_t std20;
    bt_sma_init(&sma50, 50, b50);
    bt_sma_init(&sma20, 20, b20);
    bt_ema_init(&ema20, 20);
    bt_rsi_init(&rsi14, 14);
    bt_rstd_init(&std20, 20, bs);
    size_t at[8], w = 0;
    cr_assert_leq(nwant, 8);
    for (size_t i = 0; i < nwant; i++)
        at[i] = s_index(want[i].date);
    for (size_t t = 0; t < s_f.n; t++) {
        double c = s_f.close[t];
        bt_sma_update(&sma50, c);
        bt_sma_update(&sma20, c);
        bt_ema_update(&ema20, c);
        bt_rsi_update(&rsi14, c);
        bt_rstd_update(&std20, c);
        if (w < nwant && t == at[w]) {
            cr_assert(sma50.ready && ema20.ready && rsi14.ready && std20.ready);
            s_near(sma50.value, want[w].sma50, "SMA(50)", want[w].date);
            s_near(sma20.value, want[w].sma20, "SMA(20)", want[w].date);
            s_near(ema20.value, want[w].ema20, "EMA(20)", want[w].date);
            s_near(rsi14.value, want[w].rsi14, "RSI(14)", want[w].date);
            s_near(std20.std, want[w].std20, "std(20)", want[w].date);
            w++;
        }
    }
    cr_assert_eq(w, nwant, "only %zu of %zu dates were checked", w, nwant);
}

Test(shared, orcl_daily)
{
    /* orcl-1995-2014.txt, Close column (split- not dividend-adjusted) */
    static const s_want_t want[] = {
        {"2001-09-17", 16.343599919999999, 13.423999999999998, 13.250710062294715,
         28.456571170487621, 1.5950905930385271},
        {"2008-10-10", 20.620199940000003, 18.906499950000001, 18.725695418086111,
         34.086640257585799, 1.315846958293611},
        {"2014-12-31", 41.353399940000003, 43.245499750000008, 43.784259829120479,
         62.255047625347913, 2.2806434606820041},
    };
    s_check("orcl-1995-2014.txt", want, 3);
}

Test(shared, goog_daily)
{
    static const s_want_t want[] = {
        {"2008-11-20", 364.82060000000007, 325.66150000000005, 319.13074541195522,
         29.152639529626455, 29.696223375203793},
        {"2013-03-01", 751.36579999999969, 786.95800000000008, 784.96168733580828,
         67.497982802348247, 12.941300011977168},
    };
    s_check("GOOG.csv", want, 2);
}

Test(shared, eurusd_hourly)
{
    /* small prices (about 1.2) and a small std: relative accuracy still holds */
    static const s_want_t want[] = {
        {"2017-12-29 16:00:00", 1.1940277999999998, 1.19662, 1.1973946483545415, 79.705597995121352,
         0.0025349911242448266},
        {"2018-02-07 15:00:00", 1.2377333999999995, 1.236707, 1.2358440828483861,
         26.876380031645525, 0.0025966461060375726},
    };
    s_check("EURUSD.csv", want, 2);
}

Test(shared, orcl_donchian_and_roc)
{
    s_load("orcl-1995-2014.txt");
    static unsigned char bh[20 * 16], bl[10 * 16];
    static double br[127];
    bt_rext_t hi, lo;
    bt_roc_t roc;
    bt_rmax_init(&hi, 20, bh);
    bt_rmin_init(&lo, 10, bl);
    bt_roc_init(&roc, 126, br);
    size_t t1 = s_index("2008-10-10"), t2 = s_index("2014-12-31");
    for (size_t t = 0; t < s_f.n; t++) {
        /* query the channels before pushing bar t: previous bars only */
        if (t == t1) {
            cr_assert_eq(hi.value, 21.0); /* max(high[t-20..t-1]) */
            cr_assert_eq(lo.value, 16.0); /* min(low[t-10..t-1]) */
        }
        if (t == t2) {
            cr_assert_eq(hi.value, 46.709999000000003);
            cr_assert_eq(lo.value, 40.610000999999997);
        }
        bt_rext_update(&hi, s_f.high[t]);
        bt_rext_update(&lo, s_f.low[t]);
        bt_roc_update(&roc, s_f.close[t]);
        if (t == t1)
            s_near(roc.value, -0.16012088821143566, "ROC(126)", "2008-10-10");
        if (t == t2)
            s_near(roc.value, 0.09816849577122122, "ROC(126)", "2014-12-31");
    }
}
