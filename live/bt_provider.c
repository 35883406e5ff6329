/* bt_provider — the provider table and helpers. See bt_provider.h. */
#include "bt_provider.h"

#include <stdlib.h>
#include <string.h>

#include "bt_time.h"

static const bt_provider_t *const s_providers[] = {&bt_provider_yahoo, &bt_provider_binance};
#define S_NPROV (sizeof s_providers / sizeof s_providers[0])

const bt_provider_t *bt_provider_find(const char *name)
{
    for (size_t i = 0; i < S_NPROV; i++)
        if (strcmp(s_providers[i]->name, name) == 0)
            return s_providers[i];
    return NULL;
}

const bt_provider_t *bt_provider_at(size_t i)
{
    return i < S_NPROV ? s_providers[i] : NULL;
}

int64_t bt_interval_ns(const char *iv)
{
    static const struct {
        const char *name;
        int64_t ns;
    } t[] = {{"1m", BT_NS_PER_MIN},       {"5m", 5 * BT_NS_PER_MIN}, {"15m", 15 * BT_NS_PER_MIN},
             {"30m", 30 * BT_NS_PER_MIN}, {"1h", BT_NS_PER_HOUR},    {"4h", 4 * BT_NS_PER_HOUR},
             {"1d", BT_NS_PER_DAY},       {"1w", 7 * BT_NS_PER_DAY}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(t[i].name, iv) == 0)
            return t[i].ns;
    return 0;
}

void bt_page_fini(bt_page_t *p)
{
    free(p->bars);
    memset(p, 0, sizeof *p);
}

bt_err_t bt_page_push(bt_page_t *p, const bt_rawbar_t *b, bt_errbuf_t *eb)
{
    if (p->nbars >= BT_PROVIDER_MAX_PAGE_BARS)
        return bt_errf(eb, BT_ELIMIT, "a page holds more than %d bars; refused",
                       BT_PROVIDER_MAX_PAGE_BARS);
    if (p->nbars == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 64;
        bt_rawbar_t *nb = realloc(p->bars, cap * sizeof *nb);
        if (!nb)
            return bt_errf(eb, BT_ENOMEM, "out of memory for a page of bars");
        p->bars = nb;
        p->cap = cap;
    }
    p->bars[p->nbars++] = *b;
    return BT_OK;
}
