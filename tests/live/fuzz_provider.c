/* Fuzz target for the provider page parsers (live/bt_prov_yahoo.c,
 * live/bt_prov_binance.c): bytes from the network.
 *
 * LLVMFuzzerTestOneInput: the first byte picks the provider (even: yahoo,
 * odd: binance), the rest is the page body. A parse may fail, never crash;
 * when it succeeds, the page holds at most BT_PROVIDER_MAX_PAGE_BARS bars and
 * the next page starts after the request's start (or there is none). Any
 * violation aborts.
 *
 * Built two ways (tests/live/CMakeLists.txt):
 *  - always, with BT_FUZZ_REPLAY: fuzz_provider_replay DIR replays the
 *    committed corpus tests/live/corpus/provider: files named
 *    ok-PROVIDER-* must parse, bad-PROVIDER-* must be rejected (the file is
 *    the body; the selector byte comes from the name); others must not crash.
 *  - with -DBT_FUZZ=ON and clang: the libFuzzer binary fuzz_provider. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt_provider.h"
#include "bt_time.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int s_parse(const bt_provider_t *p, const char *body, size_t len)
{
    int64_t from = bt_days_from_civil(2020, 1, 1) * BT_NS_PER_DAY;
    bt_page_req_t q = {"http://x", "SYM", "1d", BT_NS_PER_DAY, from, from + 400 * BT_NS_PER_DAY,
                       100};
    bt_page_t page = {0};
    bt_errbuf_t eb;
    bt_err_t e = p->parse(&q, body, len, &page, &eb);
    if (e == BT_OK) {
        if (page.nbars > BT_PROVIDER_MAX_PAGE_BARS)
            abort();
        if (page.next != INT64_MAX && page.next <= q.from)
            abort();
    } else if (page.nbars != 0 && page.bars == NULL) {
        abort();
    } else if (!eb.msg[0]) {
        abort(); /* every failure explains itself */
    }
    bt_page_fini(&page);
    char msg[128];
    p->error_text(body, len, msg, sizeof msg);
    return e == BT_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const bt_provider_t *p = (data[0] & 1) ? &bt_provider_binance : &bt_provider_yahoo;
    s_parse(p, (const char *)data + 1, size - 1);
    return 0;
}

#ifdef BT_FUZZ_REPLAY
int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_provider_replay CORPUS_DIR\n");
        return 2;
    }
    DIR *d = opendir(argv[1]);
    if (!d) {
        perror(argv[1]);
        return 2;
    }
    int bad = 0, n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[1], de->d_name);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        static char buf[1 << 20];
        size_t len = fread(buf, 1, sizeof buf, f);
        fclose(f);
        const char *nm = de->d_name;
        bool ok = strncmp(nm, "ok-", 3) == 0, rej = strncmp(nm, "bad-", 4) == 0;
        const char *rest = ok ? nm + 3 : rej ? nm + 4 : nm;
        const bt_provider_t *p = strncmp(rest, "binance", 7) == 0 ? &bt_provider_binance
                                                                  : &bt_provider_yahoo;
        int parsed = s_parse(p, buf, len);
        if ((ok && !parsed) || (rej && parsed)) {
            fprintf(stderr, "fuzz_provider_replay: %s: %s\n", nm,
                    ok ? "should parse but was rejected" : "should be rejected but parsed");
            bad++;
        }
        n++;
    }
    closedir(d);
    printf("fuzz_provider_replay: %d files, %d wrong\n", n, bad);
    return bad ? 1 : (n ? 0 : 1);
}
#endif
