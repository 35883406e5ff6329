/* bt_wf: length parsing and window arithmetic, answers worked out by hand. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "bt_time.h"
#include "bt_wf.h"

static bt_wf_len_t s_len(const char *s)
{
    bt_wf_len_t l;
    cr_assert(bt_wf_parse_len(s, strlen(s), &l), "%s", s);
    return l;
}

Test(wf, parse_lengths)
{
    cr_assert_eq(s_len("500").n, 500);
    cr_assert_eq(s_len("500").unit, BT_WF_BARS);
    cr_assert_eq(s_len("500b").unit, BT_WF_BARS);
    cr_assert_eq(s_len("20d").unit, BT_WF_DAYS);
    cr_assert_eq(s_len("2w").unit, BT_WF_WEEKS);
    cr_assert_eq(s_len("6m").unit, BT_WF_MONTHS);
    cr_assert_eq(s_len("3y").n, 3);
    bt_wf_len_t l;
    const char *bad[] = {"", "0", "0d", "y", "3x", "3yy", "-1", "1.5y", "2000000000"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert(!bt_wf_parse_len(bad[i], strlen(bad[i]), &l), "%s accepted", bad[i]);
}

Test(wf, mixed_units_refused)
{
    bt_wf_spec_t s = {true, s_len("3y"), s_len("100b"), s_len("100b"), false};
    bt_errbuf_t eb;
    cr_assert_eq(bt_wf_check(&s, &eb), BT_ECONFIG);
    cr_assert(strstr(eb.msg, "all be in bars"));
}

/* 10 bars, train 4, test 2, step 2, rolling: windows train [0,4) test [4,6),
 * [2,6)/[6,8), [4,8)/[8,10); the next would train [6,10) with no test bar. */
Test(wf, bars_rolling)
{
    int64_t t[10];
    for (int i = 0; i < 10; i++)
        t[i] = (int64_t)i * BT_NS_PER_DAY;
    bt_wf_spec_t s = {true, s_len("4"), s_len("2"), s_len("2"), false};
    bt_wf_window_t *w = NULL;
    size_t n = 0;
    bt_errbuf_t eb;
    cr_assert_eq(bt_wf_windows(&s, t, 10, &w, &n, &eb), BT_OK, "%s", eb.msg);
    cr_assert_eq(n, 3);
    size_t want[3][4] = {{0, 4, 4, 6}, {2, 6, 6, 8}, {4, 8, 8, 10}};
    for (size_t k = 0; k < 3; k++) {
        cr_assert_eq(w[k].train_i0, want[k][0]);
        cr_assert_eq(w[k].train_i1, want[k][1]);
        cr_assert_eq(w[k].test_i0, want[k][2]);
        cr_assert_eq(w[k].test_i1, want[k][3]);
        cr_assert_eq(w[k].train_last, t[want[k][1] - 1]);
        cr_assert_eq(w[k].test_first, t[want[k][2]]);
    }
    free(w);
}

/* 11 bars, train 4, test 3, anchored: [0,4)/[4,7), [0,7)/[7,10), [0,10)/[10,11)
 * (the last test cut by the data). */
Test(wf, bars_anchored_last_test_cut)
{
    int64_t t[11];
    for (int i = 0; i < 11; i++)
        t[i] = (int64_t)i * BT_NS_PER_DAY;
    bt_wf_spec_t s = {true, s_len("4b"), s_len("3b"), s_len("3b"), true};
    bt_wf_window_t *w = NULL;
    size_t n = 0;
    bt_errbuf_t eb;
    cr_assert_eq(bt_wf_windows(&s, t, 11, &w, &n, &eb), BT_OK, "%s", eb.msg);
    cr_assert_eq(n, 3);
    cr_assert_eq(w[2].train_i0, 0);
    cr_assert_eq(w[2].train_i1, 10);
    cr_assert_eq(w[2].test_i1, 11);
    free(w);
}

/* Daily bars from 2010-01-31; train 1m, test 1m: window 0 trains on
 * [01-31, 02-28) (01-31 + 1m clamps to 02-28) and tests on [02-28, 03-28). */
Test(wf, calendar_month_clamp)
{
    int64_t t0 = bt_days_from_civil(2010, 1, 31) * BT_NS_PER_DAY;
    int64_t t[90];
    for (int i = 0; i < 90; i++)
        t[i] = t0 + (int64_t)i * BT_NS_PER_DAY;
    bt_wf_spec_t s = {true, s_len("1m"), s_len("1m"), s_len("1m"), false};
    bt_wf_window_t *w = NULL;
    size_t n = 0;
    bt_errbuf_t eb;
    cr_assert_eq(bt_wf_windows(&s, t, 90, &w, &n, &eb), BT_OK, "%s", eb.msg);
    cr_assert_geq(n, 2);
    char b[40];
    cr_assert_str_eq(bt_time_format(w[0].train_last, b, sizeof b), "2010-02-27");
    cr_assert_str_eq(bt_time_format(w[0].test_first, b, sizeof b), "2010-02-28");
    cr_assert_str_eq(bt_time_format(w[0].test_last, b, sizeof b), "2010-03-27");
    cr_assert_eq(w[0].train_i1 - w[0].train_i0, 28); /* Jan 31 + 27 Feb days */
    free(w);
}

Test(wf, too_short_is_an_error)
{
    int64_t t[5] = {0, 1, 2, 3, 4};
    bt_wf_spec_t s = {true, s_len("5"), s_len("2"), s_len("2"), false};
    bt_wf_window_t *w = NULL;
    size_t n = 0;
    bt_errbuf_t eb;
    cr_assert_eq(bt_wf_windows(&s, t, 5, &w, &n, &eb), BT_EDATA);
    cr_assert(strstr(eb.msg, "too short"));
}

/* Union timeline: times of two symbols merged, duplicates kept once. */
Test(wf, union_timeline)
{
    int64_t a[3] = {1, 3, 5}, b[3] = {2, 3, 6};
    double z[3] = {0};
    bt_series_t s[2] = {{"A", 3, a, z, z, z, z, z, NULL}, {"B", 3, b, z, z, z, z, z, NULL}};
    int64_t *t = NULL;
    size_t n = 0;
    bt_errbuf_t eb;
    cr_assert_eq(bt_wf_timeline(s, 2, 2, 5, &t, &n, &eb), BT_OK);
    cr_assert_eq(n, 3); /* 2, 3, 5 within [2, 5] */
    cr_assert_eq(t[0], 2);
    cr_assert_eq(t[1], 3);
    cr_assert_eq(t[2], 5);
    free(t);
}
