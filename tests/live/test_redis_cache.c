/* The Redis history cache of bt data fetch, on a private redis-server (unix
 * socket in a temp dir, no persistence, killed after). Without redis-server
 * the program exits 77: ctest reports it skipped, never passed. */
#include <hiredis/hiredis.h>

#include "bt_store.h"
#include "live_fixture.h"

static live_t L;
static pid_t s_redis;
static char s_addr[400];

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
    (void)set;
    if (access("/usr/bin/redis-server", X_OK) != 0) {
        printf("SKIPPED: redis-server is not installed (apt-get install redis-server); the Redis "
               "cache tests were not run\n");
        exit(77);
    }
}

static void setup(void)
{
    live_init(&L, "rcache");
    cr_assert(live_redis(&L, &s_redis, s_addr, sizeof s_addr), "cannot start redis-server");
}

static void teardown(void)
{
    live_fini(&L);
}

TestSuite(rcache, .init = setup, .fini = teardown, .timeout = 120);

static int s_fetch(const char *store, const char *out, const char *redis)
{
    return live_bt(&L, out, "data", "fetch", "binance", "SYN", "--from", "2020-01-01", "--to",
                   "2020-10-26", "--out", store, "--base-url", L.base, "--page-bars", "100",
                   "--redis", redis, "--cache-ttl", "600", NULL);
}

Test(rcache, second_fetch_makes_no_http_request)
{
    live_mock(&L, NULL);
    char a[400], b[400];
    live_path(&L, "a.h5", a, sizeof a);
    live_path(&L, "b.h5", b, sizeof b);
    cr_assert_eq(s_fetch(a, "out1", s_addr), 0, "%s", live_out(&L, "out1"));
    cr_assert_eq(live_requests(&L), 4);
    cr_assert_eq(s_fetch(b, "out2", s_addr), 0, "%s", live_out(&L, "out2"));
    cr_assert_eq(live_requests(&L), 4, "the second fetch went to the network");
    char *o = live_out(&L, "out2");
    cr_assert(strstr(o, "0 requests, 4 pages from cache"), "%s", o);
    free(o);
    bt_errbuf_t eb;
    char ha[65], hb[65];
    cr_assert(bt_store_data_hash(a, NULL, 0, ha, &eb) == BT_OK, "%s", eb.msg);
    cr_assert(bt_store_data_hash(b, NULL, 0, hb, &eb) == BT_OK, "%s", eb.msg);
    cr_assert_str_eq(ha, hb);

    /* the documented key layout, each page with its expiry */
    redisContext *c = redisConnectUnix(s_addr + 5);
    cr_assert(c && !c->err);
    redisReply *r = redisCommand(c, "TTL bt:fetch:binance:SYN:1d:1577836800000:1603756799999:100");
    cr_assert(r && r->type == REDIS_REPLY_INTEGER && r->integer > 0 && r->integer <= 600,
              "first page not cached with an expiry");
    freeReplyObject(r);
    r = redisCommand(c, "KEYS bt:fetch:*");
    cr_assert_eq(r->elements, 4);
    freeReplyObject(r);
    redisFree(c);
}

Test(rcache, redis_down_names_the_address_and_how_to_start_it)
{
    live_mock(&L, NULL);
    char a[400], bad[400];
    live_path(&L, "a.h5", a, sizeof a);
    snprintf(bad, sizeof bad, "unix:%s/nothing.sock", L.dir);
    cr_assert_eq(s_fetch(a, "out", bad), 1);
    char *o = live_out(&L, "out");
    cr_assert(strstr(o, "cannot reach Redis at unix:"), "%s", o);
    cr_assert(strstr(o, "nothing.sock"), "%s", o);
    cr_assert(strstr(o, "redis-server --port 6379"), "%s", o);
    free(o);
    cr_assert_eq(live_requests(&L), 0);
    cr_assert_eq(s_fetch(a, "out", "127.0.0.1:1"), 1);
    o = live_out(&L, "out");
    cr_assert(strstr(o, "cannot reach Redis at 127.0.0.1:1 "), "%s", o);
    free(o);
}
