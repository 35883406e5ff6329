/* bt_wf — walk-forward windows, computed from a config's walk_forward:
 * section and a dataset's union timeline. Pure: only times in, windows out,
 * so the coordinator and every worker compute exactly the same windows.
 *
 * Lengths are a whole number and a unit: bars ("500b", or a bare 500) or
 * calendar days, weeks, months, years ("20d", "2w", "6m", "3y"). Calendar
 * lengths move a boundary in civil time (UTC) from the first bar: month and
 * year steps keep the day of month, clamped to the month's last day
 * (2010-01-31 + 1m = 2010-02-28). Bar lengths count bars of the union
 * timeline (every distinct time of the traded symbols).
 *
 * Window k (0-based), with T0 the first bar and `+` the length arithmetic:
 *   rolling:  train = [T0 + k*step, T0 + k*step + train)
 *   anchored: train = [T0,          T0 + k*step + train)
 *   test      = [train end, train end + test)      (half-open ranges)
 * In bar mode the same formulas apply to bar indices. A window exists while
 * its test range holds at least one bar; the last test range may be cut short
 * by the end of the data. Every training range must hold at least 2 bars. */
#ifndef BT_WF_H
#define BT_WF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bt_err.h"
#include "bt_series.h"

#define BT_WF_MAX_WINDOWS 100000 /* cap on windows of one run */
/* Job override naming the window whose training range a job runs on (the
 * value is the window index, never a timestamp: ns times exceed 2^53). */
#define BT_WF_WINDOW_KEY "wf.window"
/* Job overrides of a walk-forward test job (docs/walkforward.md): run on
 * window `value`'s test range, warmed up on its training range, recording
 * the equity segment; and the account's starting cash (capital carried over). */
#define BT_WF_TEST_KEY "wf.test"
#define BT_WF_CASH_KEY "wf.cash"

typedef enum { BT_WF_BARS = 0, BT_WF_DAYS, BT_WF_WEEKS, BT_WF_MONTHS, BT_WF_YEARS } bt_wf_unit_t;

typedef struct bt_wf_len {
    int64_t n;          /* > 0 */
    bt_wf_unit_t unit;
} bt_wf_len_t;

typedef struct bt_wf_spec {
    bool enabled;       /* the config has a walk_forward: section */
    bt_wf_len_t train;  /* training length */
    bt_wf_len_t test;   /* test length */
    bt_wf_len_t step;   /* shift between windows (default: test) */
    bool anchored;      /* true: every training range starts at the first bar */
} bt_wf_spec_t;

typedef struct bt_wf_window {
    size_t train_i0, train_i1; /* bar indices [i0, i1) into the timeline */
    size_t test_i0, test_i1;
    int64_t train_first, train_last; /* times of the first and last bar (inclusive) */
    int64_t test_first, test_last;
} bt_wf_window_t;

/* Parses "500", "500b", "20d", "2w", "6m", "3y" (exactly len bytes). false if
 * it is not one of these or the number is not in 1..10^9. */
bool bt_wf_parse_len(const char *s, size_t len, bt_wf_len_t *out);
/* "500b", "6m", ... into buf (cap >= 24). Returns buf. */
char *bt_wf_format_len(const bt_wf_len_t *l, char *buf, size_t cap);
/* Checks a spec: train, test and step all in bars or all in calendar units
 * (BT_ECONFIG naming the keys otherwise). */
bt_err_t bt_wf_check(const bt_wf_spec_t *spec, bt_errbuf_t *eb);

/* The union timeline: every distinct bar time of the nsym series with
 * start <= t <= end, sorted. *times is malloc'd (caller frees). */
bt_err_t bt_wf_timeline(const bt_series_t *series, size_t nsym, int64_t start, int64_t end,
                        int64_t **times, size_t *n, bt_errbuf_t *eb);

/* The windows of spec over times[0..n). *out is malloc'd (caller frees).
 * BT_EDATA with a message when there is no complete window or a training
 * range has fewer than 2 bars. */
bt_err_t bt_wf_windows(const bt_wf_spec_t *spec, const int64_t *times, size_t n,
                       bt_wf_window_t **out, size_t *nout, bt_errbuf_t *eb);

#endif
