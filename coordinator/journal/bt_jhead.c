#include "bt_jhead.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "bt_log.h"

#define S_V1 "bt sweep journal 1\n"
#define S_V2 "bt sweep journal 2\n"
#define S_V3 "bt sweep journal 3\n" /* version 2's header; records in compressed groups */
#define S_V4 "bt sweep journal 4\n" /* version 3 with version-4 groups (bt_jgroup.c) */
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
    int w = snprintf(h->text, sizeof h->text, "%s%s%s", S_V4, identity, S_METRICS);
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
    h->version = 4;
    h->ncols = nm;
    return BT_OK;
}

/* Identity lines about the code (engine build, strategy library bytes):
 * journals written before they existed lack them. */
static bool s_is_code_line(const char *line)
{
    return strncmp(line, "engine_build ", 13) == 0 || strncmp(line, "strategy_code ", 14) == 0;
}

/* identity without its code lines, into out (cap > strlen(identity)). */
static void s_strip_code(const char *identity, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *l = identity; *l;) {
        size_t len = strcspn(l, "\n");
        len += l[len] == '\n';
        if (!s_is_code_line(l) && n + len < cap) {
            memcpy(out + n, l, len);
            n += len;
        }
        l += len;
    }
    out[n] = '\0';
}

/* What a line of the identity stands for, to say what changed. */
static const char *s_what(const char *line)
{
    if (strncmp(line, "config_sha256 ", 14) == 0)
        return "the config changed (its bytes or the --set overrides)";
    if (strncmp(line, "data_hash ", 10) == 0)
        return "the data changed (the bars as read)";
    if (strncmp(line, "engine_build ", 13) == 0)
        return "the engine build changed (bt was rebuilt from other sources or flags)";
    if (strncmp(line, "strategy_code ", 14) == 0)
        return "the strategy code changed (the strategy library's bytes)";
    return "the grid changed";
}

/* BT_ECONFIG naming the first identity line that differs between the
 * journal's (was, wl bytes) and now. */
static bt_err_t s_different(const char *dir, const char *was, size_t wl, const char *now,
                            bt_errbuf_t *eb)
{
    const char *w = was, *n = now, *wend = was + wl;
    for (;;) {
        size_t a = w < wend ? strcspn(w, "\n") : 0, b = strcspn(n, "\n");
        if (w + a > wend)
            a = (size_t)(wend - w);
        if (a != b || memcmp(w, n, a) != 0) {
            const char *line = a ? w : n;
            return bt_errf(eb, BT_ECONFIG,
                           "%s/%s was written for a different sweep: %s since it started "
                           "(journal: \"%.*s\", now: \"%.*s\"); restore what changed to "
                           "resume, or run without --resume into a new --out folder",
                           dir, BT_JOURNAL_FILE, s_what(line), (int)(a < 120 ? a : 120),
                           a ? w : "(nothing)", (int)(b < 120 ? b : 120), b ? n : "(nothing)");
        }
        if (a == 0 && b == 0)
            return bt_errf(eb, BT_ECONFIG, "%s/%s was written for a different sweep", dir,
                           BT_JOURNAL_FILE);
        w += a + (w + a < wend);
        n += b + (n[b] == '\n');
    }
}

/* Compares the journal's identity region (id, il bytes) with identity. A
 * journal without code lines (written before they existed) is compared
 * without them, with a warning: the code cannot be checked. */
static bt_err_t s_check_identity(const char *dir, const char *id, size_t il, const char *identity,
                                 bt_errbuf_t *eb)
{
    bool has_code = false;
    for (const char *l = id; l < id + il; l += strcspn(l, "\n") + 1)
        has_code = has_code || s_is_code_line(l);
    char bare[BT_JOURNAL_MAX_HEADER + 1];
    const char *want = identity;
    if (!has_code) {
        s_strip_code(identity, bare, sizeof bare);
        want = bare;
    }
    if (strlen(want) != il || memcmp(id, want, il) != 0)
        return s_different(dir, id, il, want, eb);
    if (!has_code && want != identity && strcmp(want, identity) != 0)
        bt_log(BT_LOG_WARN,
               "%s/%s predates the engine-build and strategy-code lines: resuming without "
               "checking that the code is the one that started the sweep",
               dir, BT_JOURNAL_FILE);
    return BT_OK;
}

bt_err_t bt_jhead_load(bt_jhead_t *h, const char *dir, const char *identity, bt_errbuf_t *eb)
{
    s_reset(h);
    bt_err_t rc = bt_journal_read_header(dir, h->text, sizeof h->text, eb);
    if (rc != BT_OK)
        return rc;
    if (strncmp(h->text, S_V1, strlen(S_V1)) == 0) {
        const char *id = h->text + strlen(S_V1);
        rc = s_check_identity(dir, id, strlen(id), identity, eb);
        if (rc != BT_OK)
            return rc;
        h->version = 1;
        h->ncols = S_NV1;
        for (size_t k = 0; k < S_NV1; k++)
            s_map_col(h, k, s_v1_cols[k], strlen(s_v1_cols[k]));
        return s_check_cols(h, dir, eb);
    }
    unsigned version = strncmp(h->text, S_V4, strlen(S_V4)) == 0   ? 4
                       : strncmp(h->text, S_V3, strlen(S_V3)) == 0 ? 3
                                                                   : 2;
    if (version == 2 && strncmp(h->text, S_V2, strlen(S_V2)) != 0) {
        size_t n = strcspn(h->text, "\n");
        return bt_errf(eb, BT_EVERSION,
                       "%s/%s starts with \"%.*s\", not a journal version this bt reads (1, 2, "
                       "3 or 4): resume it with the bt version that wrote it, or start a new sweep",
                       dir, BT_JOURNAL_FILE, (int)(n < 80 ? n : 80), h->text);
    }
    const char *id = h->text + strlen(S_V2); /* S_V3 and S_V4 have the same length */
    const char *cols = id;
    while (*cols && strncmp(cols, S_METRICS, strlen(S_METRICS)) != 0) {
        const char *nl = strchr(cols, '\n');
        cols = nl ? nl + 1 : cols + strlen(cols);
    }
    rc = s_check_identity(dir, id, (size_t)(cols - id), identity, eb);
    if (rc != BT_OK)
        return rc;
    if (!*cols)
        return bt_errf(eb, BT_EFORMAT, "%s/%s: the journal header has no metrics line", dir,
                       BT_JOURNAL_FILE);
    cols += strlen(S_METRICS);
    const char *end = strchr(cols, '\n');
    if (!end || end[1] != '\0')
        return bt_errf(eb, BT_EFORMAT, "%s/%s: the journal header's metrics line is damaged", dir,
                       BT_JOURNAL_FILE);
    h->version = version;
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
