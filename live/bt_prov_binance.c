/* bt_prov_binance — Binance spot klines: rows.
 *
 *   GET {base}/api/v3/klines?symbol=BTCUSDT&interval=1d&startTime=MS&endTime=MS&limit=1000
 *   [[openTime, "open", "high", "low", "close", "volume", closeTime, ...], ...]
 *
 * At most 1000 rows per request: a full page means there may be more, and
 * the next page starts 1 ms after the last open time. Prices are strings,
 * read exactly as strtod would. Errors come as {"code": -1121, "msg": "..."};
 * rate limits as 429 (or 418 after ignoring them) with Retry-After and the
 * X-MBX-USED-WEIGHT-1M header (bt_http). An API key, when given, goes in
 * X-MBX-APIKEY (public market data needs none). */
#include <stdlib.h>
#include <string.h>

#include "bt_csv.h"
#include "bt_prov_util.h"
#include "bt_provider.h"
#include "bt_time.h"

#define S_NS_PER_MS INT64_C(1000000)

static const char *s_interval(const char *iv)
{
    static const char *const ok[] = {"1m", "5m", "15m", "30m", "1h", "4h", "1d", "1w"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (strcmp(ok[i], iv) == 0)
            return ok[i];
    return NULL;
}

static bt_err_t s_url(const bt_page_req_t *q, bt_buf_t *url, bt_errbuf_t *eb)
{
    bt_buf_reset(url);
    bt_err_t e = bt_buf_printf(url, "%s/api/v3/klines?symbol=", q->base);
    if (e == BT_OK)
        e = bt_prov_escape(url, q->symbol);
    if (e == BT_OK)
        e = bt_buf_printf(url, "&interval=%s&startTime=%lld&endTime=%lld&limit=%zu", q->interval,
                          (long long)bt_prov_ceil_div(q->from, S_NS_PER_MS),
                          (long long)(q->to / S_NS_PER_MS), q->page_bars);
    if (e != BT_OK)
        return bt_errf(eb, e, "binance %s: URL too long", q->symbol);
    return BT_OK;
}

/* A price field: a decimal string (or, leniently, a JSON number). */
static bool s_num(json_t *x, double *out)
{
    if (json_is_string(x))
        return bt_csv_parse_double(json_string_value(x), json_string_length(x), out);
    if (json_is_number(x)) {
        *out = json_number_value(x);
        return true;
    }
    return false;
}

static bt_err_t s_parse(const bt_page_req_t *q, const char *body, size_t len, bt_page_t *out,
                        bt_errbuf_t *eb)
{
    json_t *root = bt_prov_json("binance", q->symbol, body, len, eb);
    if (!root)
        return BT_EPARSE;
    bt_err_t rc = BT_OK;
    if (json_is_object(root)) {
        const char *m = json_string_value(json_object_get(root, "msg"));
        rc = bt_errf(eb, BT_EDATA, "binance %s: the provider answered with an error: %s (code %lld)",
                     q->symbol, m ? m : "(no msg)",
                     (long long)json_integer_value(json_object_get(root, "code")));
        goto done;
    }
    if (!json_is_array(root)) {
        rc = bt_errf(eb, BT_EPARSE, "binance %s: expected an array of klines", q->symbol);
        goto done;
    }
    static const char *const names[5] = {"open", "high", "low", "close", "volume"};
    size_t n = json_array_size(root);
    for (size_t i = 0; i < n; i++) {
        json_t *row = json_array_get(root, i);
        if (!json_is_array(row) || json_array_size(row) < 6 ||
            !json_is_integer(json_array_get(row, 0))) {
            rc = bt_errf(eb, BT_EPARSE,
                         "binance %s: kline %zu is not [openTime, open, high, low, close, "
                         "volume, ...]",
                         q->symbol, i);
            goto done;
        }
        int64_t ms = json_integer_value(json_array_get(row, 0));
        if (ms < -(INT64_C(1) << 50) || ms > (INT64_C(1) << 50)) {
            rc = bt_errf(eb, BT_EPARSE, "binance %s: kline %zu open time %lld is out of range",
                         q->symbol, i, (long long)ms);
            goto done;
        }
        double v[5];
        for (size_t k = 0; k < 5; k++) {
            if (!s_num(json_array_get(row, k + 1), &v[k])) {
                rc = bt_errf(eb, BT_EPARSE, "binance %s: kline %zu field %s is not a number",
                             q->symbol, i, names[k]);
                goto done;
            }
        }
        bt_rawbar_t b = {ms * S_NS_PER_MS, v[0], v[1], v[2], v[3], v[4]};
        if ((rc = bt_page_push(out, &b, eb)) != BT_OK)
            goto done;
    }
    out->next = INT64_MAX;
    if (n >= q->page_bars && n > 0) {
        int64_t last = out->bars[out->nbars - 1].time;
        if (last < q->to)
            out->next = last + S_NS_PER_MS;
    }
done:
    json_decref(root);
    return rc;
}

static void s_error_text(const char *body, size_t len, char *msg, size_t cap)
{
    msg[0] = '\0';
    json_t *root = json_loadb(body, len, 0, NULL);
    const char *m = json_string_value(json_object_get(root, "msg"));
    if (m)
        bt_str_copy(msg, cap, m);
    json_decref(root);
}

const bt_provider_t bt_provider_binance = {
    .name = "binance",
    .about = "Binance spot klines (api/v3/klines, rows, 1000 per page), crypto; key optional",
    .base_url = "https://api.binance.com",
    .base_env = "BT_BINANCE_BASE_URL",
    .key_env = "BT_BINANCE_API_KEY",
    .key_header = "X-MBX-APIKEY",
    .max_page_bars = 1000,
    .interval_name = s_interval,
    .page_url = s_url,
    .parse = s_parse,
    .error_text = s_error_text,
};
