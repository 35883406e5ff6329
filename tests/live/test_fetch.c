/* bt data fetch against the mock REST server: each provider's happy path,
 * pagination, 429 back-off, truncated body, malformed JSON, gaps and
 * duplicates, a provider error, partial failure (store unchanged) and the
 * resumed fetch, a request time-out, Binance's request-weight header. The mock's series: 300 daily bars from 2020-01-01, the
 * first open 100 (mock_http.c s_synth). */
#include <math.h>

#include "bt_store.h"
#include "bt_time.h"
#include "live_fixture.h"

#define FROM "2020-01-01"
#define TO "2020-10-26" /* 2020-01-01 + 299 days: all 300 bars */

static live_t L;

static void setup(void)
{
    live_init(&L, "fetch");
}

static void teardown(void)
{
    live_fini(&L);
}

TestSuite(fetch, .init = setup, .fini = teardown, .timeout = 120);

static bt_dataset_t *s_load(const char *store, const char *sym)
{
    bt_errbuf_t eb;
    const char *one[1] = {sym};
    bt_dataset_t *ds = bt_dataset_load(store, one, 1, &eb);
    cr_assert(ds, "%s", eb.msg);
    return ds;
}

static int s_fetch(const char *prov, const char *sym, const char *store, const char *out,
                   const char *extra1, const char *extra2)
{
    return live_bt(&L, out, "data", "fetch", prov, sym, "--from", FROM, "--to", TO, "--out", store,
                   "--base-url", L.base, "--backoff-ms", "10", "--page-bars", "100", extra1,
                   extra2, NULL);
}

Test(fetch, yahoo_happy_path)
{
    live_mock(&L, NULL);
    char store[400];
    live_path(&L, "y.h5", store, sizeof store);
    int rc = live_bt(&L, "out", "data", "fetch", "yahoo", "SYN", "--from", FROM, "--to", TO,
                     "--out", store, "--base-url", L.base, NULL);
    cr_assert_eq(rc, 0, "%s", live_out(&L, "out"));
    bt_dataset_t *ds = s_load(store, "SYN");
    const bt_series_t *s = &ds->series[0];
    cr_assert_eq(s->n, 300);
    /* session open 14:30 UTC is stamped at the date's midnight */
    cr_assert_eq(s->time[0], bt_days_from_civil(2020, 1, 1) * BT_NS_PER_DAY);
    cr_assert_eq(s->time[299], bt_days_from_civil(2020, 10, 26) * BT_NS_PER_DAY);
    cr_assert_eq(s->open[0], 100.0);
    cr_assert_eq(s->high[0], fmax(s->open[0], s->close[0]) + 0.5);
    cr_assert_eq(live_requests(&L), 1); /* 300 daily bars fit one 1000-bar window */
    bt_dataset_destroy(&ds);
}

Test(fetch, binance_pages_and_same_bars_as_yahoo)
{
    live_mock(&L, NULL);
    char yst[400], bst[400];
    live_path(&L, "y.h5", yst, sizeof yst);
    live_path(&L, "b.h5", bst, sizeof bst);
    cr_assert_eq(s_fetch("binance", "SYN", bst, "out", NULL, NULL), 0, "%s", live_out(&L, "out"));
    /* 100 per page: 3 full pages and an empty fourth that ends it */
    cr_assert_eq(live_requests(&L), 4);
    cr_assert_eq(s_fetch("yahoo", "SYN", yst, "out2", NULL, NULL), 0, "%s", live_out(&L, "out2"));
    /* yahoo windows of 100 days: 3 requests */
    cr_assert_eq(live_requests(&L), 7);
    bt_dataset_t *a = s_load(yst, "SYN"), *b = s_load(bst, "SYN");
    cr_assert_eq(b->series[0].n, 300);
    /* two shapes (columns in seconds vs rows of strings in ms), the same bars */
    cr_assert_str_eq(a->hash, b->hash);
    bt_dataset_destroy(&a);
    bt_dataset_destroy(&b);
}

Test(fetch, rate_limit_429_is_waited_out)
{
    live_mock(&L, "--fault", "429@2", NULL);
    char st[400];
    live_path(&L, "b.h5", st, sizeof st);
    int64_t t0 = bt_proc_now_ms();
    cr_assert_eq(s_fetch("binance", "SYN", st, "out", NULL, NULL), 0, "%s", live_out(&L, "out"));
    int64_t dt = bt_proc_now_ms() - t0;
    char *o = live_out(&L, "out");
    cr_assert(strstr(o, "1 rate limits waited out"), "%s", o);
    cr_assert(strstr(o, "rate limited (HTTP 429); waiting 1.0 s"), "%s", o);
    cr_assert_eq(live_requests(&L), 5);
    cr_assert_geq(dt, 1000); /* Retry-After: 1 was honoured (not a speed check) */
    free(o);
}

/* The mock answers request 2 after 2 s; --timeout 1 gives up on it and
 * asks again: one retry, every bar. */
Test(fetch, request_timeout_is_retried)
{
    live_mock(&L, "--fault", "slow@2", NULL);
    char st[400];
    live_path(&L, "b.h5", st, sizeof st);
    cr_assert_eq(s_fetch("binance", "SYN", st, "out", "--timeout", "1"), 0, "%s",
                 live_out(&L, "out"));
    char *o = live_out(&L, "out");
    cr_assert(strstr(o, "1 retries"), "%s", o);
    bt_dataset_t *ds = s_load(st, "SYN");
    cr_assert_eq(ds->series[0].n, 300);
    bt_dataset_destroy(&ds);
    free(o);
}

/* X-MBX-USED-WEIGHT-1M above 5000 of Binance's 6000 a minute: bt pauses
 * before it would get a 429, and says so. */
Test(fetch, binance_request_weight_pauses)
{
    live_mock(&L, "--fault", "weight@1", NULL);
    char st[400];
    live_path(&L, "b.h5", st, sizeof st);
    cr_assert_eq(s_fetch("binance", "SYN", st, "out", NULL, NULL), 0, "%s", live_out(&L, "out"));
    char *o = live_out(&L, "out");
    cr_assert(strstr(o, "request weight 5500 of 6000 used this minute; pausing 5 s"), "%s", o);
    cr_assert(strstr(o, "0 rate limits waited out"), "%s", o);
    free(o);
}

Test(fetch, truncated_body_and_reset_are_retried)
{
    live_mock(&L, "--fault", "truncate@1", "--fault", "reset@3", NULL);
    char st[400];
    live_path(&L, "b.h5", st, sizeof st);
    cr_assert_eq(s_fetch("binance", "SYN", st, "out", NULL, NULL), 0, "%s", live_out(&L, "out"));
    char *o = live_out(&L, "out");
    cr_assert(strstr(o, "2 retries"), "%s", o);
    bt_dataset_t *ds = s_load(st, "SYN");
    cr_assert_eq(ds->series[0].n, 300);
    bt_dataset_destroy(&ds);
    free(o);
}

Test(fetch, malformed_json_fails_cleanly_after_retries)
{
    live_mock(&L, "--fault", "malformed@2", "--fault", "malformed@3", NULL);
    char st[400];
    live_path(&L, "b.h5", st, sizeof st);
    cr_assert_eq(s_fetch("binance", "SYN", st, "out", "--retries", "1"), 1);
    char *o = live_out(&L, "out");
    cr_assert(strstr(o, "binance SYN: the response is not valid JSON"), "%s", o);
    cr_assert(strstr(o, "gave up after 2 attempts"), "%s", o);
    cr_assert(access(st, F_OK) != 0, "no store may be created by a failed fetch");
    free(o);
}

Test(fetch, gaps_and_identical_duplicates_are_kept_or_dropped)
{
    live_mock(&L, "--fault", "gap", "--fault", "dupbar", NULL);
    char st[400];
    live_path(&L, "b.h5", st, sizeof st);
    cr_assert_eq(s_fetch("binance", "SYN", st, "out", NULL, NULL), 0, "%s", live_out(&L, "out"));
    char *o = live_out(&L, "out");
    cr_assert(strstr(o, "1 duplicates dropped"), "%s", o);
    cr_assert(strstr(o, "1 gaps"), "%s", o);
    cr_assert(strstr(o, "gap from 2020-01-20 to 2020-01-31"), "%s", o);
    bt_dataset_t *ds = s_load(st, "SYN");
    cr_assert_eq(ds->series[0].n, 290);
    bt_dataset_destroy(&ds);
    free(o);
}

Test(fetch, conflicting_duplicate_and_disorder_are_errors)
{
    live_mock(&L, "--fault", "conflict", NULL);
    char st[400];
    live_path(&L, "b.h5", st, sizeof st);
    cr_assert_eq(s_fetch("yahoo", "SYN", st, "out", NULL, NULL), 1);
    char *o = live_out(&L, "out");
    cr_assert(strstr(o, "yahoo SYN 2020-02-20: duplicate timestamp with different values"), "%s",
              o);
    free(o);
    live_mock_stop(&L);
    live_mock(&L, "--fault", "disorder", NULL);
    cr_assert_eq(s_fetch("binance", "SYN", st, "out", NULL, NULL), 1);
    o = live_out(&L, "out");
    cr_assert(strstr(o, "binance SYN 2020-02-10: timestamp earlier than the previous row"), "%s",
              o);
    free(o);
}

Test(fetch, provider_error_is_named)
{
    live_mock(&L, NULL);
    char st[400];
    live_path(&L, "b.h5", st, sizeof st);
    cr_assert_eq(s_fetch("binance", "NOPE", st, "out", NULL, NULL), 1);
    char *o = live_out(&L, "out");
    cr_assert(strstr(o, "binance NOPE: HTTP 400: Invalid symbol."), "%s", o);
    free(o);
}

Test(fetch, partial_failure_leaves_store_unchanged_and_rerun_resumes)
{
    char st[400], ref[400], part[480];
    live_path(&L, "b.h5", st, sizeof st);
    live_path(&L, "ref.h5", ref, sizeof ref);
    snprintf(part, sizeof part, "%s.partial/binance_SYN_1d.bars", st);
    /* a store that already holds another symbol */
    live_mock(&L, NULL);
    cr_assert_eq(s_fetch("yahoo", "OTHER", st, "out0", NULL, NULL), 0, "%s",
                 live_out(&L, "out0"));
    cr_assert_eq(s_fetch("binance", "SYN", ref, "out1", NULL, NULL), 0);
    live_mock_stop(&L);
    char h0[65], h1[65];
    live_sha(st, h0);

    /* the provider goes down from the third request on: two pages were verified */
    live_mock(&L, "--fault", "down@3", NULL);
    cr_assert_eq(s_fetch("binance", "SYN", st, "out2", "--retries", "2"), 1);
    char *o = live_out(&L, "out2");
    cr_assert(strstr(o, "gave up after 3 attempts: HTTP 500"), "%s", o);
    cr_assert(strstr(o, "is unchanged; run the same command again"), "%s", o);
    free(o);
    live_sha(st, h1);
    cr_assert_str_eq(h0, h1, "a failed fetch changed the store");
    cr_assert(access(part, F_OK) == 0, "no progress file %s", part);
    live_mock_stop(&L);

    /* healthy again: only the missing pages are asked for (page 3 and the empty 4th) */
    live_mock(&L, NULL);
    cr_assert_eq(s_fetch("binance", "SYN", st, "out3", NULL, NULL), 0, "%s",
                 live_out(&L, "out3"));
    cr_assert_eq(live_requests(&L), 2);
    o = live_out(&L, "out3");
    cr_assert(strstr(o, "(200 from an earlier run)"), "%s", o);
    free(o);
    cr_assert(access(part, F_OK) != 0, "progress file left behind");
    bt_dataset_t *a = s_load(st, "SYN"), *b = s_load(ref, "SYN");
    cr_assert_str_eq(a->hash, b->hash, "resumed fetch differs from a clean one");
    bt_dataset_destroy(&a);
    bt_dataset_destroy(&b);
    a = s_load(st, "OTHER");
    cr_assert_eq(a->series[0].n, 300);
    bt_dataset_destroy(&a);

    /* run again: the store already holds everything; one request finds nothing new */
    cr_assert_eq(s_fetch("binance", "SYN", st, "out4", NULL, NULL), 0, "%s",
                 live_out(&L, "out4"));
    cr_assert_eq(live_requests(&L), 3);
}

Test(fetch, api_key_is_sent_and_never_logged)
{
    live_mock(&L, "--fault", "500@1", "--fault", "malformed@2", NULL);
    char st[400], keys[400];
    live_path(&L, "b.h5", st, sizeof st);
    live_path(&L, "keys.txt", keys, sizeof keys);
    FILE *f = fopen(keys, "w");
    fprintf(f, "BT_BINANCE_API_KEY=k3y-from-file-7Q\n");
    fclose(f);
    unsetenv("BT_BINANCE_API_KEY");
    cr_assert_eq(s_fetch("binance", "SYN", st, "out", "--keys-file", keys), 0, "%s",
                 live_out(&L, "out"));
    char *o = live_out(&L, "out");
    char *log = bt_proc_slurp(L.log, NULL);
    cr_assert(strstr(o, "retry 1 of 5"), "%s", o); /* failures were logged */
    cr_assert_null(strstr(o, "k3y-from-file-7Q"), "the key was logged: %s", o);
    cr_assert(strstr(log, "request 3 carries an X-MBX-APIKEY header"), "%s", log);
    free(o);
    free(log);
    /* the environment wins over the file */
    setenv("BT_BINANCE_API_KEY", "env-k3y-9Z", 1);
    live_path(&L, "c.h5", st, sizeof st);
    cr_assert_eq(s_fetch("binance", "SYN", st, "out2", "--keys-file", keys), 0);
    o = live_out(&L, "out2");
    cr_assert_null(strstr(o, "env-k3y-9Z"));
    free(o);
    unsetenv("BT_BINANCE_API_KEY");
}
