/* bt data fetch — bars from a REST provider into the HDF5 store (live/bt_rest_fetch). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bt_cmd.h"
#include "bt_parse.h"
#include "bt_fs.h"
#include "bt_log.h"
#include "bt_redis.h"
#include "bt_rest_fetch.h"
#include "bt_series.h"
#include "bt_time.h"

#define S_MAX_SYMBOLS 256

static void s_help(FILE *out)
{
    fprintf(out,
            "usage: bt data fetch PROVIDER SYMBOL... --from DATE [--to DATE] [--interval IV]\n"
            "                     --out STORE.h5 [options]\n"
            "\n"
            "Downloads bars from a REST provider into the bar store. Pages, retries of\n"
            "transient failures, rate limits (429 + Retry-After) and time-outs are handled;\n"
            "bars are validated like CSV imports. A failed fetch leaves the store as it was;\n"
            "run the same command again to continue where it stopped (progress is kept in\n"
            "STORE.partial/). A symbol already in the store is extended from its last bar.\n"
            "\n"
            "providers:\n");
    for (size_t i = 0; bt_provider_at(i); i++)
        fprintf(out, "  %-8s %s\n", bt_provider_at(i)->name, bt_provider_at(i)->about);
    fprintf(out,
            "\n"
            "options:\n"
            "  --from DATE        first bar time, YYYY-MM-DD[ HH:MM[:SS]] UTC (required)\n"
            "  --to DATE          last bar time (a date: through its end)          [now]\n"
            "  --interval IV      1m 5m 15m 30m 1h 4h 1d 1w                        [1d]\n"
            "  --out STORE        the HDF5 bar store (created if missing)\n"
            "  --base-url URL     provider base URL (or BT_YAHOO_BASE_URL / BT_BINANCE_BASE_URL)\n"
            "  --page-bars N      bars per request (Binance at most 1000)          [1000]\n"
            "  --retries N        retries of a transient failure per request       [5]\n"
            "  --backoff-ms MS    first retry back-off, doubled per retry (<= 30 s) [500]\n"
            "  --max-wait S       longest Retry-After to wait out                  [120]\n"
            "  --timeout S        per-request time-out                             [30]\n"
            "  --keys-file FILE   lines NAME=VALUE, e.g. BT_BINANCE_API_KEY=...  (keys are\n"
            "                     read from the environment first; never logged)\n"
            "  --redis ADDR       cache pages in Redis: host:port or unix:/path\n"
            "                     (or BT_REDIS); without it no cache is used\n"
            "  --cache-ttl S      expiry of cached pages                           [86400]\n"
            "  --compress deflate compress the stored symbols\n"
            "\n"
            "exit status: 0 done, 1 the fetch failed (store unchanged), 2 bad usage\n"
            "\n"
            "examples:\n"
            "  bt data fetch yahoo AAPL MSFT --from 2015-01-01 --to 2024-12-31 --out us.h5\n"
            "  bt data fetch binance BTCUSDT --from 2024-01-01 --interval 1h --out crypto.h5\n");
}


/* Looks NAME up in a keys file of NAME=VALUE lines; value into out. */
static bool s_key_from_file(const char *path, const char *name, char *out, size_t cap)
{
    bt_errbuf_t eb;
    size_t len = 0;
    char *t = bt_fs_read_file(path, 1 << 20, &len, &eb);
    if (!t)
        return false;
    bool found = false;
    size_t nl = strlen(name);
    for (char *p = t; p && *p;) {
        char *e = strchr(p, '\n');
        if (e)
            *e = '\0';
        if (strncmp(p, name, nl) == 0 && p[nl] == '=') {
            bt_str_copy(out, cap, p + nl + 1);
            size_t k = strlen(out);
            while (k && (out[k - 1] == '\r' || out[k - 1] == ' '))
                out[--k] = '\0';
            found = true;
        }
        p = e ? e + 1 : NULL;
    }
    free(t);
    return found;
}

int bt_cmd_data_fetch(int argc, char **argv)
{
    bt_fetch_opts_t o;
    bt_fetch_opts_defaults(&o);
    const char *syms[S_MAX_SYMBOLS];
    size_t nsym = 0;
    const char *prov = NULL, *from = NULL, *to = NULL, *keys = getenv("BT_KEYS_FILE");
    const char *redis = getenv("BT_REDIS");
    long ttl = 86400;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            s_help(stdout);
            return 0;
        }
        if (strcmp(a, "--compress") == 0 && i + 1 < argc && strcmp(argv[i + 1], "deflate") == 0) {
            o.deflate = true;
            i++;
            continue;
        }
        if (a[0] == '-' && a[1] == '-') {
            if (i + 1 >= argc) {
                fprintf(stderr, "bt data fetch: %s needs a value; see --help\n", a);
                return 2;
            }
            const char *v = argv[++i];
            long n = 0;
            if (strcmp(a, "--from") == 0)
                from = v;
            else if (strcmp(a, "--to") == 0)
                to = v;
            else if (strcmp(a, "--interval") == 0)
                o.interval = v;
            else if (strcmp(a, "--out") == 0)
                o.store = v;
            else if (strcmp(a, "--base-url") == 0)
                o.base = v;
            else if (strcmp(a, "--keys-file") == 0)
                keys = v;
            else if (strcmp(a, "--redis") == 0)
                redis = v;
            else if (strcmp(a, "--page-bars") == 0 && bt_parse_long(v, 1, 100000, &n))
                o.page_bars = (size_t)n;
            else if (strcmp(a, "--retries") == 0 && bt_parse_long(v, 0, 100, &n))
                o.retries = (int)n;
            else if (strcmp(a, "--backoff-ms") == 0 && bt_parse_long(v, 0, 600000, &n))
                o.backoff_ms = n;
            else if (strcmp(a, "--max-wait") == 0 && bt_parse_long(v, 0, 86400, &n))
                o.max_wait_ms = n * 1000;
            else if (strcmp(a, "--timeout") == 0 && bt_parse_long(v, 1, 3600, &n))
                o.timeout_ms = n * 1000;
            else if (strcmp(a, "--cache-ttl") == 0 && bt_parse_long(v, 1, 365L * 86400, &n))
                ttl = n;
            else {
                fprintf(stderr, "bt data fetch: bad option or value '%s %s'; see --help\n", a, v);
                return 2;
            }
        } else if (!prov) {
            prov = a;
        } else if (nsym < S_MAX_SYMBOLS) {
            syms[nsym++] = a;
        } else {
            fprintf(stderr, "bt data fetch: more than %d symbols\n", S_MAX_SYMBOLS);
            return 2;
        }
    }
    if (!prov || nsym == 0 || !o.store || !from) {
        fprintf(stderr, "bt data fetch: PROVIDER, SYMBOL, --from and --out are required\n\n");
        s_help(stderr);
        return 2;
    }
    o.prov = bt_provider_find(prov);
    if (!o.prov) {
        fprintf(stderr, "bt data fetch: unknown provider '%s' (", prov);
        for (size_t i = 0; bt_provider_at(i); i++)
            fprintf(stderr, "%s%s", i ? ", " : "", bt_provider_at(i)->name);
        fprintf(stderr, ")\n");
        return 2;
    }
    for (size_t i = 0; i < nsym; i++) {
        if (strlen(syms[i]) >= BT_SYMBOL_MAX || strpbrk(syms[i], "/ ") || !syms[i][0]) {
            fprintf(stderr, "bt data fetch: bad symbol '%s' (1..%d characters, no '/' or space)\n",
                    syms[i], BT_SYMBOL_MAX - 1);
            return 2;
        }
    }
    if (!bt_time_parse(from, strlen(from), &o.from)) {
        fprintf(stderr, "bt data fetch: --from %s: expected YYYY-MM-DD[ HH:MM[:SS]]\n", from);
        return 2;
    }
    if (to) {
        if (!bt_time_parse(to, strlen(to), &o.to)) {
            fprintf(stderr, "bt data fetch: --to %s: expected YYYY-MM-DD[ HH:MM[:SS]]\n", to);
            return 2;
        }
        if (strlen(to) == 10)
            o.to += BT_NS_PER_DAY - 1; /* a date: through its end */
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        o.to = (int64_t)ts.tv_sec * BT_NS_PER_SEC;
    }
    if (o.page_bars > o.prov->max_page_bars)
        o.page_bars = o.prov->max_page_bars;
    if (!o.base)
        o.base = getenv(o.prov->base_env);
    if (!o.base || !*o.base)
        o.base = o.prov->base_url;
    char key[256] = "";
    if (o.prov->key_env) {
        const char *k = getenv(o.prov->key_env);
        if (k && *k)
            bt_str_copy(key, sizeof key, k);
        else if (keys)
            s_key_from_file(keys, o.prov->key_env, key, sizeof key);
        if (key[0])
            o.api_key = key;
    }
    o.symbols = syms;
    o.nsym = nsym;

    bt_errbuf_t eb;
    bt_redis_t *rc_cache = NULL;
    bt_fetch_cache_t cache;
    if (redis && *redis) {
        rc_cache = bt_redis_connect(redis, &eb);
        if (!rc_cache) {
            fprintf(stderr, "bt data fetch: %s\n", eb.msg);
            return 1;
        }
        bt_redis_fetch_cache(rc_cache, ttl, &cache);
        o.cache = &cache;
    }
    bt_fetch_report_t rep;
    bt_err_t e = bt_rest_fetch(&o, &rep, &eb);
    bt_redis_destroy(&rc_cache);
    printf("%s: %llu requests, %llu pages from cache, %llu retries, %llu rate limits waited out\n",
           o.prov->name, (unsigned long long)rep.requests, (unsigned long long)rep.cache_hits,
           (unsigned long long)rep.retries, (unsigned long long)rep.rate_limited);
    if (e != BT_OK) {
        fprintf(stderr, "bt data fetch: %s\nbt data fetch: %s is unchanged; run the same command "
                        "again to continue (%zu bars kept in %s.partial/)\n",
                eb.msg, o.store, rep.bars + rep.resumed, o.store);
        return 1;
    }
    printf("%zu new bars (%zu from an earlier run), %zu duplicates dropped, %zu null rows "
           "skipped, %zu gaps -> %s\n",
           rep.bars + rep.resumed, rep.resumed, rep.duplicates, rep.nulls, rep.gaps, o.store);
    return 0;
}
