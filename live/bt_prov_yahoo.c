/* bt_prov_yahoo — a Yahoo-style chart API: column arrays.
 *
 *   GET {base}/v8/finance/chart/{SYMBOL}?period1=S&period2=S&interval=1d&events=history
 *   {"chart":{"result":[{"meta":{"gmtoffset":-18000,...},
 *                        "timestamp":[t0,t1,...],
 *                        "indicators":{"quote":[{"open":[..],"high":[..],"low":[..],
 *                                                "close":[..],"volume":[..]}]}}],
 *             "error":null}}
 *
 * The API has no page size; bt asks for windows of page_bars intervals, so a
 * long intraday range is several requests. Timestamps are seconds (the
 * session open for daily bars); daily and weekly bars are stamped at midnight
 * of their exchange-local date, as bt's store does. null quotes are skipped. */
#include <stdlib.h>
#include <string.h>

#include "bt_prov_util.h"
#include "bt_provider.h"
#include "bt_time.h"

static const char *s_interval(const char *iv)
{
    static const char *const map[][2] = {{"1m", "1m"},   {"5m", "5m"}, {"15m", "15m"},
                                         {"30m", "30m"}, {"1h", "60m"}, {"1d", "1d"},
                                         {"1w", "1wk"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i][0], iv) == 0)
            return map[i][1];
    return NULL;
}

/* Last time the page starting at q->from covers. */
static int64_t s_page_end(const bt_page_req_t *q)
{
    int64_t span = (int64_t)q->page_bars * q->interval_ns;
    if (q->to - q->from < span)
        return q->to;
    return q->from + span - 1;
}

static bt_err_t s_url(const bt_page_req_t *q, bt_buf_t *url, bt_errbuf_t *eb)
{
    bt_buf_reset(url);
    bt_err_t e = bt_buf_printf(url, "%s/v8/finance/chart/", q->base);
    if (e == BT_OK)
        e = bt_prov_escape(url, q->symbol);
    if (e == BT_OK)
        e = bt_buf_printf(url, "?period1=%lld&period2=%lld&interval=%s&events=history",
                          (long long)bt_prov_ceil_div(q->from, BT_NS_PER_SEC),
                          (long long)(s_page_end(q) / BT_NS_PER_SEC + 1), s_interval(q->interval));
    if (e != BT_OK)
        return bt_errf(eb, e, "yahoo %s: URL too long", q->symbol);
    return BT_OK;
}

static json_t *s_col(json_t *quote, const char *name)
{
    json_t *a = json_object_get(quote, name);
    return json_is_array(a) ? a : NULL;
}

static bt_err_t s_parse(const bt_page_req_t *q, const char *body, size_t len, bt_page_t *out,
                        bt_errbuf_t *eb)
{
    json_t *root = bt_prov_json("yahoo", q->symbol, body, len, eb);
    if (!root)
        return BT_EPARSE;
    bt_err_t rc = BT_OK;
    json_t *chart = json_object_get(root, "chart");
    json_t *err = json_object_get(chart, "error");
    json_t *res = json_array_get(json_object_get(chart, "result"), 0);
    if (err && !json_is_null(err)) {
        const char *d = json_string_value(json_object_get(err, "description"));
        rc = bt_errf(eb, BT_EDATA, "yahoo %s: the provider answered with an error: %s", q->symbol,
                     d ? d : "(no description)");
        goto done;
    }
    if (!json_is_object(res)) {
        rc = bt_errf(eb, BT_EPARSE, "yahoo %s: the response has no chart.result[0] object",
                     q->symbol);
        goto done;
    }
    int64_t off = json_integer_value(json_object_get(json_object_get(res, "meta"), "gmtoffset"));
    json_t *ts = json_object_get(res, "timestamp");
    json_t *quote = json_array_get(json_object_get(json_object_get(res, "indicators"), "quote"), 0);
    size_t n = json_is_array(ts) ? json_array_size(ts) : 0;
    json_t *col[5] = {s_col(quote, "open"), s_col(quote, "high"), s_col(quote, "low"),
                      s_col(quote, "close"), s_col(quote, "volume")};
    static const char *const names[5] = {"open", "high", "low", "close", "volume"};
    bool daily = q->interval_ns >= BT_NS_PER_DAY;
    for (size_t k = 0; k < 5 && n > 0; k++) {
        if (!col[k] || json_array_size(col[k]) != n) {
            rc = bt_errf(eb, BT_EPARSE,
                         "yahoo %s: indicators.quote[0].%s is missing or has %zu values for %zu "
                         "timestamps",
                         q->symbol, names[k], col[k] ? json_array_size(col[k]) : 0, n);
            goto done;
        }
    }
    for (size_t i = 0; i < n; i++) {
        json_t *t = json_array_get(ts, i);
        if (!json_is_integer(t)) {
            rc = bt_errf(eb, BT_EPARSE, "yahoo %s: timestamp[%zu] is not a whole number",
                         q->symbol, i);
            goto done;
        }
        int64_t sec = json_integer_value(t);
        if (sec < -(INT64_C(1) << 40) || sec > (INT64_C(1) << 40)) {
            rc = bt_errf(eb, BT_EPARSE, "yahoo %s: timestamp[%zu] = %lld is out of range",
                         q->symbol, i, (long long)sec);
            goto done;
        }
        double v[5];
        bool null_row = false;
        for (size_t k = 0; k < 5; k++) {
            json_t *x = json_array_get(col[k], i);
            if (json_is_null(x)) {
                null_row = true;
                break;
            }
            if (!json_is_number(x)) {
                rc = bt_errf(eb, BT_EPARSE, "yahoo %s: quote %s[%zu] is not a number", q->symbol,
                             names[k], i);
                goto done;
            }
            v[k] = json_number_value(x);
        }
        if (null_row) {
            out->skipped_null++;
            continue;
        }
        if (daily) {
            int64_t local = sec + off;
            sec = (local >= 0 ? local / 86400 : (local - 86399) / 86400) * 86400;
        }
        bt_rawbar_t b = {sec * BT_NS_PER_SEC, v[0], v[1], v[2], v[3], v[4]};
        if ((rc = bt_page_push(out, &b, eb)) != BT_OK)
            goto done;
    }
    int64_t end = s_page_end(q);
    out->next = end < q->to ? end + 1 : INT64_MAX;
done:
    json_decref(root);
    return rc;
}

static void s_error_text(const char *body, size_t len, char *msg, size_t cap)
{
    msg[0] = '\0';
    json_t *root = json_loadb(body, len, 0, NULL);
    const char *d = json_string_value(
        json_object_get(json_object_get(json_object_get(root, "chart"), "error"), "description"));
    if (d)
        bt_str_copy(msg, cap, d);
    json_decref(root);
}

const bt_provider_t bt_provider_yahoo = {
    .name = "yahoo",
    .about = "Yahoo-style chart API (v8/finance/chart, column arrays), equities, no key",
    .base_url = "https://query1.finance.yahoo.com",
    .base_env = "BT_YAHOO_BASE_URL",
    .key_env = NULL,
    .key_header = NULL,
    .max_page_bars = 20000,
    .interval_name = s_interval,
    .page_url = s_url,
    .parse = s_parse,
    .error_text = s_error_text,
};
