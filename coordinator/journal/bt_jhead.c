#include "bt_jhead.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define S_V1 "bt sweep journal 1\n"
#define S_V2 "bt sweep journal 2\n"
#define S_METRICS "metrics "

/* The columns of every version-1 journal (BT_METRICS when version 2 began);
 * frozen: a version-1 journal says nothing else about them. */
static const char *const s_v1_cols[] = {"final_equity",
                                        "total_return",
                                        "cagr",
                                        "volatility",
                                        "sharpe",
                                        "sortino",
                                        "max_drawdown",
                                        "max_drawdown_duration",
                                        "calmar",
                                        "trades",
                                        "win_rate",
                                        "avg_win",
                                        "avg_loss",
                                        "profit_factor",
                                        "expectancy",
                                        "exposure",
                                        "turnover",
                                        "commission",
                                        "rejected_orders",
                                        "benchmark_return",
                                        "skewness",
                                        "kurtosis",
                                        "psr"};
#define S_NV1 (sizeof s_v1_cols / sizeof s_v1_cols[0])

/* Maps column k named name (len bytes). */
static void s_map_col(bt_jhead_t *h, size_t k, const char *name, size_t len)
{
    h->metric_of_col[k] = -1;
    for (size_t i = 0; i < bt_metrics_count(); i++) {
        const char *m = bt_metrics_name(i);
        if (strlen(m) == len && memcmp(m, name, len) == 0) {
            h->metric_of_col[k] = (int)i;
            h->col_of_metric[i] = (int)k;
        }
    }
}

/* Every metric of this build has a column. */
static bt_err_t s_check_cols(const bt_jhead_t *h, const char *dir, bt_errbuf_t *eb)
{
    for (size_t i = 0; i < bt_metrics_count(); i++)
        if (h->col_of_metric[i] < 0)
            return bt_errf(eb, BT_ECONFIG,
                           "%s/%s has no column for the metric %s (it was written by an older "
                           "bt with %zu metrics): finish that sweep with the bt version that "
                           "started it, or start a new sweep into another --out folder",
                           dir, BT_JOURNAL_FILE, bt_metrics_name(i), h->ncols);
    return BT_OK;
}

static void s_reset(bt_jhead_t *h)
{
    memset(h, 0, sizeof *h);
    for (size_t i = 0; i < BT_JOURNAL_MAX_METRICS; i++)
        h->col_of_metric[i] = -1;
}

bt_err_t bt_jhead_make(bt_jhead_t *h, const char *identity, bt_errbuf_t *eb)
{
    s_reset(h);
    size_t nm = bt_metrics_count();
    if (nm > BT_JOURNAL_MAX_METRICS)
        return bt_errf(eb, BT_ELIMIT, "%zu metrics, a journal holds at most %d", nm,
                       BT_JOURNAL_MAX_METRICS);
    int w = snprintf(h->text, sizeof h->text, "%s%s%s", S_V2, identity, S_METRICS);
    size_t n = w > 0 ? (size_t)w : 0;
    for (size_t i = 0; i < nm && n < sizeof h->text; i++) {
        w = snprintf(h->text + n, sizeof h->text - n, "%s%s", i ? "," : "", bt_metrics_name(i));
        n += w > 0 ? (size_t)w : 0;
        s_map_col(h, i, bt_metrics_name(i), strlen(bt_metrics_name(i)));
    }
    if (n + 1 >= sizeof h->text)
        return bt_errf(eb, BT_ELIMIT, "the journal header is longer than %d bytes",
                       BT_JOURNAL_MAX_HEADER);
    h->text[n] = '\n';
    h->text[n + 1] = '\0';
    h->version = 2;
    h->ncols = nm;
    return BT_OK;
}

static bt_err_t s_different(const bt_jhead_t *h, const char *dir, bt_errbuf_t *eb)
{
    char was[512];
    size_t k = strlen(h->text);
    if (k > sizeof was - 1)
        k = sizeof was - 1;
    memcpy(was, h->text, k);
    was[k] = '\0';
    for (size_t i = 0; i < k; i++)
        if (was[i] == '\n')
            was[i] = ' ';
    return bt_errf(eb, BT_ECONFIG,
                   "%s/%s was written for a different sweep (the config or the data changed "
                   "since it started): journal has [%s]; restore the original config and data "
                   "to resume, or run without --resume into a new --out folder",
                   dir, BT_JOURNAL_FILE, was);
}

bt_err_t bt_jhead_load(bt_jhead_t *h, const char *dir, const char *identity, bt_errbuf_t *eb)
{
    s_reset(h);
    bt_err_t rc = bt_journal_read_header(dir, h->text, sizeof h->text, eb);
    if (rc != BT_OK)
        return rc;
    size_t il = strlen(identity);
    if (strncmp(h->text, S_V1, strlen(S_V1)) == 0) {
        if (strcmp(h->text + strlen(S_V1), identity) != 0)
            return s_different(h, dir, eb);
        h->version = 1;
        h->ncols = S_NV1;
        for (size_t k = 0; k < S_NV1; k++)
            s_map_col(h, k, s_v1_cols[k], strlen(s_v1_cols[k]));
        return s_check_cols(h, dir, eb);
    }
    if (strncmp(h->text, S_V2, strlen(S_V2)) != 0) {
        size_t n = strcspn(h->text, "\n");
        return bt_errf(eb, BT_EVERSION,
                       "%s/%s starts with \"%.*s\", not a journal version this bt reads (1 or "
                       "2): resume it with the bt version that wrote it, or start a new sweep",
                       dir, BT_JOURNAL_FILE, (int)(n < 80 ? n : 80), h->text);
    }
    const char *id = h->text + strlen(S_V2);
    const char *cols = id + il;
    if (strncmp(id, identity, il) != 0 || strncmp(cols, S_METRICS, strlen(S_METRICS)) != 0)
        return s_different(h, dir, eb);
    cols += strlen(S_METRICS);
    const char *end = strchr(cols, '\n');
    if (!end || end[1] != '\0')
        return s_different(h, dir, eb);
    h->version = 2;
    while (cols < end) {
        size_t len = strcspn(cols, ",\n");
        if (h->ncols == BT_JOURNAL_MAX_METRICS)
            return bt_errf(eb, BT_EFORMAT, "%s/%s: more than %d metric columns", dir,
                           BT_JOURNAL_FILE, BT_JOURNAL_MAX_METRICS);
        s_map_col(h, h->ncols++, cols, len);
        cols += len + (cols[len] == ',');
    }
    return s_check_cols(h, dir, eb);
}

size_t bt_jhead_to_cols(const bt_jhead_t *h, const bt_metrics_t *m, double *cols)
{
    for (size_t k = 0; k < h->ncols; k++)
        cols[k] = h->metric_of_col[k] >= 0 ? bt_metrics_get(m, (size_t)h->metric_of_col[k]) : NAN;
    return h->ncols;
}

void bt_jhead_from_cols(const bt_jhead_t *h, const double *cols, size_t n, bt_metrics_t *m)
{
    for (size_t i = 0; i < bt_metrics_count(); i++)
        bt_metrics_set(m, i, (size_t)h->col_of_metric[i] < n ? cols[h->col_of_metric[i]] : NAN);
}
