/* Provider modules: URLs and the parsing of hand-written pages in each
 * documented shape (Yahoo chart columns, Binance kline rows), with the
 * expected bars written next to each body; errors name provider and symbol. */
#include <criterion/criterion.h>
#include <string.h>

#include "bt_provider.h"
#include "bt_time.h"

static int64_t s_day(int y, int m, int d)
{
    return bt_days_from_civil(y, m, d) * BT_NS_PER_DAY;
}

static bt_page_req_t s_req(const char *sym, int64_t from, int64_t to, size_t page)
{
    return (bt_page_req_t){"http://h", sym, "1d", BT_NS_PER_DAY, from, to, page};
}

Test(provider, table_and_intervals)
{
    cr_assert_eq(bt_provider_find("yahoo"), &bt_provider_yahoo);
    cr_assert_eq(bt_provider_find("binance"), &bt_provider_binance);
    cr_assert_null(bt_provider_find("nope"));
    cr_assert_eq(bt_interval_ns("1h"), 3600 * BT_NS_PER_SEC);
    cr_assert_eq(bt_interval_ns("1w"), 7 * BT_NS_PER_DAY);
    cr_assert_eq(bt_interval_ns("2d"), 0);
    cr_assert_str_eq(bt_provider_yahoo.interval_name("1h"), "60m");
    cr_assert_null(bt_provider_yahoo.interval_name("4h"));
    cr_assert_str_eq(bt_provider_binance.interval_name("4h"), "4h");
}

Test(provider, urls)
{
    bt_buf_t u;
    bt_buf_init(&u, 4096);
    bt_errbuf_t eb;
    /* 2020-01-01 = 1577836800 s; a window of 10 days ends 1578700799 s, period2 exclusive */
    bt_page_req_t q = s_req("BRK B", s_day(2020, 1, 1), s_day(2021, 1, 1), 10);
    cr_assert_eq(bt_provider_yahoo.page_url(&q, &u, &eb), BT_OK);
    cr_assert_str_eq(u.data, "http://h/v8/finance/chart/BRK%20B?period1=1577836800&period2="
                             "1578700800&interval=1d&events=history");
    q = s_req("BTCUSDT", s_day(2020, 1, 1) + 1, s_day(2020, 1, 3), 1000);
    cr_assert_eq(bt_provider_binance.page_url(&q, &u, &eb), BT_OK);
    /* from rounded up to the next ms */
    cr_assert_str_eq(u.data, "http://h/api/v3/klines?symbol=BTCUSDT&interval=1d&startTime="
                             "1577836800001&endTime=1578009600000&limit=1000");
    bt_buf_fini(&u);
}

Test(provider, yahoo_columns)
{
    /* two sessions at 14:30 UTC (09:30 New York, gmtoffset -18000) and a row of nulls */
    const char *body =
        "{\"chart\":{\"result\":[{\"meta\":{\"gmtoffset\":-18000},"
        "\"timestamp\":[1577975400,1578061800,1578321000],"
        "\"indicators\":{\"quote\":[{\"open\":[10.5,11,null],\"high\":[12,11.5,null],"
        "\"low\":[10,10.25,null],\"close\":[11,11.25,null],\"volume\":[100,200,null]}]}}],"
        "\"error\":null}}";
    bt_page_req_t q = s_req("X", s_day(2020, 1, 1), s_day(2020, 1, 31), 1000);
    bt_page_t p = {0};
    bt_errbuf_t eb;
    cr_assert_eq(bt_provider_yahoo.parse(&q, body, strlen(body), &p, &eb), BT_OK, "%s", eb.msg);
    cr_assert_eq(p.nbars, 2);
    cr_assert_eq(p.skipped_null, 1);
    cr_assert_eq(p.bars[0].time, s_day(2020, 1, 2)); /* 1577975400 = 2020-01-02 14:30 UTC */
    cr_assert_eq(p.bars[1].time, s_day(2020, 1, 3));
    cr_assert_eq(p.bars[0].open, 10.5);
    cr_assert_eq(p.bars[1].low, 10.25);
    cr_assert_eq(p.bars[1].volume, 200);
    cr_assert_eq(p.next, INT64_MAX); /* the window reached --to */
    bt_page_fini(&p);

    const char *err = "{\"chart\":{\"result\":null,\"error\":{\"code\":\"Not Found\","
                      "\"description\":\"No data found, symbol may be delisted\"}}}";
    cr_assert_eq(bt_provider_yahoo.parse(&q, err, strlen(err), &p, &eb), BT_EDATA);
    cr_assert(strstr(eb.msg, "yahoo X: the provider answered with an error: No data found"));
    const char *ragged = "{\"chart\":{\"result\":[{\"timestamp\":[1,2],\"indicators\":{\"quote\":"
                         "[{\"open\":[1],\"high\":[1,2],\"low\":[1,2],\"close\":[1,2],"
                         "\"volume\":[1,2]}]}}]}}";
    cr_assert_eq(bt_provider_yahoo.parse(&q, ragged, strlen(ragged), &p, &eb), BT_EPARSE);
    cr_assert(strstr(eb.msg, "quote[0].open is missing or has 1 values for 2 timestamps"),
              "%s", eb.msg);
    bt_page_fini(&p);
}

Test(provider, binance_rows_and_paging)
{
    /* 2020-01-01 00:00 UTC = 1577836800000 ms; prices as strings, read exactly */
    const char *body = "[[1577836800000,\"7195.24\",\"7255.00\",\"7175.15\",\"7200.85\","
                       "\"16792.388165\",1577923199999,\"0\",1,\"0\",\"0\",\"0\"],"
                       "[1577923200000,\"7200.77\",\"7212.50\",\"6924.74\",\"6965.71\","
                       "\"31951.483932\",1578009599999,\"0\",1,\"0\",\"0\",\"0\"]]";
    bt_page_req_t q = s_req("BTCUSDT", s_day(2020, 1, 1), s_day(2020, 12, 31), 2);
    bt_page_t p = {0};
    bt_errbuf_t eb;
    cr_assert_eq(bt_provider_binance.parse(&q, body, strlen(body), &p, &eb), BT_OK, "%s", eb.msg);
    cr_assert_eq(p.nbars, 2);
    cr_assert_eq(p.bars[1].time, s_day(2020, 1, 2));
    cr_assert_eq(p.bars[0].open, 7195.24);
    cr_assert_eq(p.bars[1].close, 6965.71);
    cr_assert_eq(p.bars[1].volume, 31951.483932);
    /* a full page (limit 2): the next starts 1 ms after the last open */
    cr_assert_eq(p.next, s_day(2020, 1, 2) + 1000000);
    bt_page_fini(&p);
    q.page_bars = 1000; /* not full: the last page */
    cr_assert_eq(bt_provider_binance.parse(&q, body, strlen(body), &p, &eb), BT_OK);
    cr_assert_eq(p.next, INT64_MAX);
    bt_page_fini(&p);

    const char *err = "{\"code\":-1121,\"msg\":\"Invalid symbol.\"}";
    cr_assert_eq(bt_provider_binance.parse(&q, err, strlen(err), &p, &eb), BT_EDATA);
    cr_assert(strstr(eb.msg, "binance BTCUSDT: the provider answered with an error: Invalid "
                             "symbol. (code -1121)"));
    char msg[128];
    bt_provider_binance.error_text(err, strlen(err), msg, sizeof msg);
    cr_assert_str_eq(msg, "Invalid symbol.");
    const char *bad = "[[1577836800000,\"x\",\"1\",\"1\",\"1\",\"1\"]]";
    cr_assert_eq(bt_provider_binance.parse(&q, bad, strlen(bad), &p, &eb), BT_EPARSE);
    cr_assert(strstr(eb.msg, "kline 0 field open is not a number"), "%s", eb.msg);
    const char *cut = "[[1577836800000,\"1\",\"1\"";
    cr_assert_eq(bt_provider_binance.parse(&q, cut, strlen(cut), &p, &eb), BT_EPARSE);
    cr_assert(strstr(eb.msg, "binance BTCUSDT: the response is not valid JSON"), "%s", eb.msg);
    bt_page_fini(&p);
}
