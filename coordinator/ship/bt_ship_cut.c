/* bt_ship_cut — the data file a coordinator serves is the store cut to what
 * the sweep reads (bt_ship.h, bt_store_cut), cached by a key in a folder. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bt_log.h"
#include "bt_plan.h"
#include "bt_sha256.h"
#include "bt_ship.h"
#include "bt_store.h"

static int s_cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

const bt_ship_manifest_t *bt_ship_add_cut(bt_ship_t *self, const char *store,
                                          const char *data_hash, const char *const *symbols,
                                          size_t nsym, int64_t start, int64_t end,
                                          const char *dir, bt_errbuf_t *eb)
{
    /* Sorted and unique: the key and the file's layout do not depend on the
     * order the config lists symbols in. */
    const char **sorted = NULL;
    size_t n = 0;
    if (symbols) {
        sorted = malloc((nsym ? nsym : 1) * sizeof *sorted);
        if (!sorted) {
            bt_errf(eb, BT_ENOMEM, "out of memory");
            return NULL;
        }
        memcpy(sorted, symbols, nsym * sizeof *sorted);
        qsort(sorted, nsym, sizeof *sorted, s_cmp_str);
        for (size_t i = 0; i < nsym; i++)
            if (n == 0 || strcmp(sorted[n - 1], sorted[i]) != 0)
                sorted[n++] = sorted[i];
    }
    bt_sha256_t h;
    bt_sha256_init(&h);
    char line[192]; /* 15 + 65 + two int64 of up to 20 digits + 2: 96 was short */
    int w = snprintf(line, sizeof line, "bt_store_cut 1\n%.64s\n%" PRId64 " %" PRId64 "\n",
                     data_hash, start, end);
    bt_sha256_update(&h, line, w > 0 && (size_t)w < sizeof line ? (size_t)w : 0);
    if (!symbols)
        bt_sha256_update(&h, "*\n", 2);
    for (size_t i = 0; i < n; i++) {
        bt_sha256_update(&h, sorted[i], strlen(sorted[i]));
        bt_sha256_update(&h, "\n", 1);
    }
    char key[65], path[4096];
    bt_sha256_final(&h, key);
    w = snprintf(path, sizeof path, "%s/cut-%.32s.h5", dir, key);
    const bt_ship_manifest_t *m = NULL;
    struct stat st;
    if (w < 0 || (size_t)w >= sizeof path) {
        bt_errf(eb, BT_EINVAL, "folder name too long: %s", dir);
    } else if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        bt_errf(eb, BT_EIO, "cannot create %s for the data shipped to workers: %s", dir,
                strerror(errno));
    } else if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
        m = bt_ship_add(self, BT_SHIP_DATA, path, eb);
    } else if (bt_store_cut(store, path, sorted, symbols ? n : 0, start, end, eb) == BT_OK) {
        char what[32] = "all symbols";
        if (symbols)
            snprintf(what, sizeof what, "%zu symbol(s)", n);
        bt_log(BT_LOG_INFO, "cut %s to %s and the dates of the sweep for workers: %s", store,
               what, path);
        m = bt_ship_add(self, BT_SHIP_DATA, path, eb);
    }
    free(sorted);
    return m;
}

const bt_ship_manifest_t *bt_ship_add_plan(bt_ship_t *self, const bt_plan_t *plan,
                                           const char *dir, bt_errbuf_t *eb)
{
    const bt_config_t *cfg = bt_plan_config(plan);
    const bt_grid_t *g = bt_plan_grid(plan);
    const bt_engine_cfg_t *e = bt_config_engine(cfg);
    int64_t start = e->start, end = e->end;
    size_t ns = 0, total = 0;
    const char *const *syms = bt_config_symbols(cfg, &ns);
    for (size_t a = 0; a < bt_grid_naxes(g); a++) {
        if (strncmp(bt_grid_axis_key(g, a), "data.", 5) == 0 && !bt_grid_axis_is_symbols(g, a)) {
            start = INT64_MIN; /* a swept date: the union is simplest kept whole */
            end = INT64_MAX;
        }
        for (size_t j = 0; bt_grid_axis_is_symbols(g, a) && j < bt_grid_axis_len(g, a); j++) {
            size_t k = 0;
            bt_grid_axis_symbols(g, a, j, &k);
            total += k;
        }
    }
    if (!syms && start == INT64_MIN && end == INT64_MAX) /* all of it: the store itself */
        return bt_ship_add(self, BT_SHIP_DATA, bt_plan_store(plan), eb);
    if (!syms) /* every symbol of the store */
        return bt_ship_add_cut(self, bt_plan_store(plan), bt_plan_data_hash(plan), NULL, 0, start,
                               end, dir, eb);
    const char **all = malloc((ns + total) * sizeof *all);
    if (!all) {
        bt_errf(eb, BT_ENOMEM, "out of memory");
        return NULL;
    }
    size_t n = 0;
    for (size_t i = 0; i < ns; i++)
        all[n++] = syms[i];
    for (size_t a = 0; a < bt_grid_naxes(g); a++) {
        for (size_t j = 0; bt_grid_axis_is_symbols(g, a) && j < bt_grid_axis_len(g, a); j++) {
            size_t k = 0;
            const char *const *set = bt_grid_axis_symbols(g, a, j, &k);
            for (size_t i = 0; i < k; i++)
                all[n++] = set[i];
        }
    }
    const bt_ship_manifest_t *m = bt_ship_add_cut(self, bt_plan_store(plan),
                                                  bt_plan_data_hash(plan), all, n, start, end,
                                                  dir, eb);
    free(all);
    return m;
}
