/* Unit tests for common/data/bt_resample. Every expected bar below is worked out by hand from the
 * six 5-minute bars of s_five (first open, max high, min low, last close, summed volume), with the
 * bins written next to each case. 2020-01-06 is a Monday (`date -d 2020-01-06 +%A`). */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "bt_bars.h"
#include "bt_resample.h"
#include "bt_time.h"

static int64_t s_t(const char *iso)
{
    int64_t t;
    cr_assert(bt_time_parse(iso, strlen(iso), &t), "%s", iso);
    return t;
}

/* 2020-01-02, labelled by end time:
 *   09:05 o10 h12 l9  c11 v1 | 09:10 o11 h15 l10 c12 v2 | 09:15 o12 h13 l8 c9 v3
 *   09:20 o9  h10 l7  c8  v4 | 09:25 o8  h14 l8  c13 v5 | 09:30 o13 h13 l11 c12 v6 */
static bt_bars_t *s_five(void)
{
    static const char *const ts[] = {"2020-01-02 09:05", "2020-01-02 09:10", "2020-01-02 09:15",
                                     "2020-01-02 09:20", "2020-01-02 09:25", "2020-01-02 09:30"};
    static const double o[] = {10, 11, 12, 9, 8, 13}, h[] = {12, 15, 13, 10, 14, 13},
                        l[] = {9, 10, 8, 7, 8, 11}, c[] = {11, 12, 9, 8, 13, 12};
    bt_bars_t *b = bt_bars_new("X", 0);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(bt_bars_push(b, s_t(ts[i]), o[i], h[i], l[i], c[i], i + 1, c[i] * 0.5), BT_OK);
    return b;
}

typedef struct {
    const char *t;
    double o, h, l, c, v;
} s_want_t;

static void s_check(const bt_bars_t *out, const s_want_t *w, size_t n)
{
    bt_series_t s = bt_bars_view(out);
    cr_assert_eq(s.n, n, "%zu bars, expected %zu", s.n, n);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(s.time[i], s_t(w[i].t), "bar %zu time", i);
        cr_assert(s.open[i] == w[i].o && s.high[i] == w[i].h && s.low[i] == w[i].l &&
                      s.close[i] == w[i].c && s.volume[i] == w[i].v,
                  "bar %zu: %g %g %g %g %g", i, s.open[i], s.high[i], s.low[i], s.close[i],
                  s.volume[i]);
        cr_assert_not_null(s.adj_close);
        cr_assert_eq(s.adj_close[i], w[i].c * 0.5); /* the last adj_close of the bin */
    }
}

static bt_bars_t *s_run(const bt_bars_t *in, bt_resample_opts_t o, bt_err_t want)
{
    bt_series_t s = bt_bars_view(in);
    bt_bars_t *out = bt_bars_new("Y", 0);
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    cr_assert_eq(bt_resample(&s, &o, out, &eb), want, "%s", eb.msg);
    return out;
}

Test(resample, fifteen_minutes_end_label)
{
    /* bins (09:00, 09:15] and (09:15, 09:30], stamped at their end */
    bt_bars_t *in = s_five();
    bt_bars_t *out =
        s_run(in, (bt_resample_opts_t){.period = 15 * BT_NS_PER_MIN, .label = BT_LABEL_END}, BT_OK);
    s_want_t w[] = {{"2020-01-02 09:15", 10, 15, 8, 9, 6}, {"2020-01-02 09:30", 9, 14, 7, 12, 15}};
    s_check(out, w, 2);
    bt_bars_destroy(&out);
    bt_bars_destroy(&in);
}

Test(resample, fifteen_minutes_start_label)
{
    /* bins [09:00, 09:15), [09:15, 09:30), [09:30, 09:45), stamped at their start */
    bt_bars_t *in = s_five();
    bt_bars_t *out = s_run(in, (bt_resample_opts_t){.period = 15 * BT_NS_PER_MIN}, BT_OK);
    s_want_t w[] = {{"2020-01-02 09:00", 10, 15, 9, 12, 3},
                    {"2020-01-02 09:15", 12, 14, 7, 13, 12},
                    {"2020-01-02 09:30", 13, 13, 11, 12, 6}};
    s_check(out, w, 3);
    bt_bars_destroy(&out);
    bt_bars_destroy(&in);
}

Test(resample, daily_with_a_session)
{
    /* session 09:10-09:25 keeps bars 2..5 of the day (09:10, 09:15, 09:20, 09:25) */
    bt_bars_t *in = s_five();
    bt_resample_opts_t o = {.period = BT_NS_PER_DAY, .label = BT_LABEL_END, .session = true};
    cr_assert_eq(bt_resample_session_parse("09:10-09:25", &o.session_open, &o.session_close),
                 BT_OK);
    bt_bars_t *out = s_run(in, o, BT_OK);
    s_want_t w[] = {{"2020-01-02", 11, 15, 7, 13, 14}};
    s_check(out, w, 1);
    bt_bars_destroy(&out);
    /* a session no bar falls in */
    cr_assert_eq(bt_resample_session_parse("18:00-19:00", &o.session_open, &o.session_close),
                 BT_OK);
    out = s_run(in, o, BT_EDATA);
    bt_bars_destroy(&out);
    bt_bars_destroy(&in);
}

Test(resample, overnight_session_counts_the_evening_to_the_next_day)
{
    /* session 21:00-20:00: 01-02 22:00 and 01-03 08:00 make 01-03; 01-03 22:00 makes 01-04 */
    bt_bars_t *in = bt_bars_new("FX", 0);
    bt_bars_push(in, s_t("2020-01-02 22:00"), 10, 11, 9, 10, 1, 10 * 0.5);
    bt_bars_push(in, s_t("2020-01-03 08:00"), 10, 12, 8, 11, 2, 11 * 0.5);
    bt_bars_push(in, s_t("2020-01-03 22:00"), 11, 11, 10, 10, 4, 10 * 0.5);
    bt_resample_opts_t o = {.period = BT_NS_PER_DAY, .session = true};
    cr_assert_eq(bt_resample_session_parse("21:00-20:00", &o.session_open, &o.session_close),
                 BT_OK);
    bt_bars_t *out = s_run(in, o, BT_OK);
    s_want_t w[] = {{"2020-01-03", 10, 12, 8, 11, 3}, {"2020-01-04", 11, 11, 10, 10, 4}};
    s_check(out, w, 2);
    bt_bars_destroy(&out);
    bt_bars_destroy(&in);
}

Test(resample, weekly_bins_start_on_monday)
{
    /* Fri 01-03 -> week of Mon 2019-12-30; Mon 01-06 and Tue 01-07 -> 01-06; Mon 01-13 */
    bt_bars_t *in = bt_bars_new("D", 0);
    bt_bars_push(in, s_t("2020-01-03"), 10, 11, 9, 10, 1, 5);
    bt_bars_push(in, s_t("2020-01-06"), 10, 13, 9, 12, 2, 6);
    bt_bars_push(in, s_t("2020-01-07"), 12, 12, 8, 9, 3, 4.5);
    bt_bars_push(in, s_t("2020-01-13"), 9, 10, 9, 10, 4, 5);
    bt_bars_t *out = s_run(in, (bt_resample_opts_t){.period = 7 * BT_NS_PER_DAY}, BT_OK);
    s_want_t w[] = {{"2019-12-30", 10, 11, 9, 10, 1},
                    {"2020-01-06", 10, 13, 8, 9, 5},
                    {"2020-01-13", 9, 10, 9, 10, 4}};
    s_check(out, w, 3);
    bt_bars_destroy(&out);
    /* daily bars are stamped at the start of their day: --label end must not move Monday's bar
     * into the week before */
    out = s_run(in, (bt_resample_opts_t){.period = 7 * BT_NS_PER_DAY, .label = BT_LABEL_END},
                BT_OK);
    s_check(out, w, 3);
    bt_bars_destroy(&out);
    bt_bars_destroy(&in);
}

Test(resample, refuses_a_finer_target)
{
    bt_bars_t *in = bt_bars_new("D", 0);
    for (int i = 0; i < 5; i++)
        bt_bars_push(in, s_t("2020-01-06") + i * BT_NS_PER_DAY, 10, 11, 9, 10, 1, NAN);
    bt_series_t s = bt_bars_view(in);
    bt_bars_t *out = bt_bars_new("Y", 0);
    bt_errbuf_t eb;
    bt_resample_opts_t o = {.period = BT_NS_PER_HOUR};
    cr_assert_eq(bt_resample(&s, &o, out, &eb), BT_EINVAL);
    cr_assert(strstr(eb.msg, "1d apart") && strstr(eb.msg, "--to"), "%s", eb.msg);
    bt_bars_destroy(&out);
    bt_bars_destroy(&in);
}

Test(resample, period_and_session_parsing)
{
    int64_t p, a, b;
    cr_assert_eq(bt_resample_period_parse("5m", &p), BT_OK);
    cr_assert_eq(p, 5 * BT_NS_PER_MIN);
    cr_assert_eq(bt_resample_period_parse("90m", &p), BT_OK); /* 16 bins a day */
    cr_assert_eq(bt_resample_period_parse("4h", &p), BT_OK);
    cr_assert_eq(p, 4 * BT_NS_PER_HOUR);
    cr_assert_eq(bt_resample_period_parse("30s", &p), BT_OK);
    cr_assert_eq(bt_resample_period_parse("1d", &p), BT_OK);
    cr_assert_eq(p, BT_NS_PER_DAY);
    cr_assert_eq(bt_resample_period_parse("1w", &p), BT_OK);
    cr_assert_eq(p, 7 * BT_NS_PER_DAY);
    const char *bad[] = {"7m", "0m", "25h", "2d", "1mo", "m", "5", "5x", "", "-5m"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(bt_resample_period_parse(bad[i], &p), BT_EINVAL, "%s", bad[i]);
    cr_assert_eq(bt_resample_session_parse("09:00-17:30", &a, &b), BT_OK);
    cr_assert_eq(a, 9 * BT_NS_PER_HOUR);
    cr_assert_eq(b, 17 * BT_NS_PER_HOUR + 30 * BT_NS_PER_MIN);
    cr_assert_eq(bt_resample_session_parse("9-17", &a, &b), BT_EINVAL);
    cr_assert_eq(bt_resample_session_parse("10:00-10:00", &a, &b), BT_EINVAL);
    cr_assert_eq(bt_resample_session_parse("10:00", &a, &b), BT_EINVAL);
}
