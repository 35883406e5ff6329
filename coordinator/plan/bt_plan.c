#define _XOPEN_SOURCE 700 /* realpath */
#include "bt_plan.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt_build.h"
#include "bt_sha256.h"
#include "bt_store.h"

struct bt_plan {
    const bt_config_t *cfg; /* borrowed */
    bt_grid_t *grid;        /* the sweep: section */
    uint64_t npoints;       /* grid points that pass the constraints */
    uint64_t *raw;          /* point -> raw grid index */
    size_t *idx;            /* scratch: grid axis indices */
    size_t off;             /* 1 when wf.window leads the axes, else 0 */
    size_t naxes;           /* off + grid axes */
    const char **keys;      /* naxes axis keys */
    bt_wf_window_t *win;    /* walk-forward windows, NULL for a plain sweep */
    size_t nwin;
    char store[PATH_MAX]; /* realpath of data.store */
    char data_hash[65];
};

/* data.start .. data.end must hold a bar of the symbols (and of each symbol
 * set of a data.symbols axis): a run over no bar would report all-zero
 * metrics as "ok". Checked before any work, naming both ranges. */
static bt_err_t s_check_range_of(const bt_plan_t *p, const bt_dataset_t *ds,
                                 const char *const *names, size_t n, bt_errbuf_t *eb)
{
    bt_series_t *ser = NULL;
    size_t nser = 0;
    bt_err_t rc = bt_dataset_pick(ds, names, n, &ser, &nser, eb);
    if (rc != BT_OK)
        return rc;
    const bt_engine_cfg_t *e = bt_config_engine(p->cfg);
    bt_errbuf_t reb;
    bt_errbuf_clear(&reb);
    rc = bt_dataset_check_range(ser, nser, e->start, e->end, &reb);
    free(ser);
    if (rc != BT_OK)
        return bt_errf(eb, rc, "%s: data.start / data.end: %s; every job would run over no bar",
                       bt_config_path(p->cfg), reb.msg);
    return BT_OK;
}

static bt_err_t s_check_range(const bt_plan_t *p, const bt_dataset_t *ds, const char *const *syms,
                              size_t ns, bt_errbuf_t *eb)
{
    if (bt_config_walk_forward(p->cfg))
        return BT_OK; /* windows come from the data itself (s_windows) */
    bt_err_t rc = s_check_range_of(p, ds, syms, syms ? ns : 0, eb);
    for (size_t a = 0; rc == BT_OK && a < bt_grid_naxes(p->grid); a++) {
        if (!bt_grid_axis_is_symbols(p->grid, a))
            continue;
        for (size_t j = 0; rc == BT_OK && j < bt_grid_axis_len(p->grid, a); j++) {
            size_t n = 0;
            const char *const *set = bt_grid_axis_symbols(p->grid, a, j, &n);
            rc = s_check_range_of(p, ds, set, n, eb);
        }
    }
    return rc;
}

/* The data hash of the whole store as a worker loads it (every symbol,
 * sorted: bt_store_data_hash), after checking that the config's symbols are
 * there. */
static bt_err_t s_data_hash(bt_plan_t *p, bt_errbuf_t *eb)
{
    char **names = NULL;
    size_t n = 0;
    bt_err_t rc = bt_store_names(p->store, &names, &n, eb);
    if (rc != BT_OK)
        return rc;
    size_t ns = 0;
    const char *const *syms = bt_config_symbols(p->cfg, &ns);
    for (size_t i = 0; rc == BT_OK && syms && i < ns; i++) {
        bool found = false;
        for (size_t k = 0; k < n && !found; k++)
            found = strcmp(names[k], syms[i]) == 0;
        if (!found)
            rc = bt_errf(eb, BT_ENOTFOUND,
                         "%s: data.symbols: %s is not in %s (%zu symbols there; see 'bt data "
                         "info %s')",
                         bt_config_path(p->cfg), syms[i], p->store, n, p->store);
    }
    bt_store_names_free(names, n);
    if (rc != BT_OK)
        return rc;
    /* Loaded, not just labelled: the hash of the bars as read, each symbol
     * checked against its stored content_sha256 (as every worker does), so a
     * store edited in place refuses the sweep and its --resume up front. */
    bt_dataset_t *ds = bt_dataset_load(p->store, NULL, 0, eb);
    if (!ds)
        return eb->code;
    bt_str_copy(p->data_hash, sizeof p->data_hash, ds->hash);
    rc = s_check_range(p, ds, syms, ns, eb);
    bt_dataset_destroy(&ds);
    return rc;
}

/* The walk-forward windows over the union timeline of the config's symbols. */
static bt_err_t s_windows(bt_plan_t *p, bool allow_huge, bt_errbuf_t *eb)
{
    const bt_config_t *cfg = p->cfg;
    size_t n = 0, nser = 0, ntimes = 0;
    const char *const *names = bt_config_symbols(cfg, &n);
    bt_dataset_t *ds = bt_dataset_load(p->store, names, names ? n : 0, eb);
    bt_series_t *ser = NULL;
    int64_t *times = NULL;
    const bt_engine_cfg_t *ec = bt_config_engine(cfg);
    bt_err_t rc = ds ? bt_dataset_pick(ds, NULL, 0, &ser, &nser, eb) : eb->code;
    if (rc == BT_OK)
        rc = bt_wf_timeline(ser, nser, ec->start, ec->end, &times, &ntimes, eb);
    if (rc == BT_OK)
        rc = bt_wf_windows(bt_config_walk_forward(cfg), times, ntimes, &p->win, &p->nwin, eb);
    if (rc != BT_OK && rc != BT_ENOMEM) {
        char msg[sizeof eb->msg];
        bt_str_copy(msg, sizeof msg, eb->msg);
        bt_errf(eb, rc, "%s: %s", bt_config_path(cfg), msg);
    }
    free(times);
    free(ser);
    bt_dataset_destroy(&ds);
    uint64_t njobs;
    if (rc == BT_OK && (__builtin_mul_overflow(p->npoints, (uint64_t)p->nwin, &njobs) ||
                        (!allow_huge && njobs > bt_config_max_grid(cfg))))
        rc = bt_errf(eb, BT_ELIMIT,
                     "%s: %zu windows x %llu points is more than sweep.max_grid (%llu); pass "
                     "--allow-huge or use fewer windows",
                     bt_config_path(cfg), p->nwin, (unsigned long long)p->npoints,
                     (unsigned long long)bt_config_max_grid(cfg));
    return rc;
}

void bt_plan_destroy(bt_plan_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bt_plan_t *p = *self_p;
    bt_grid_destroy(&p->grid);
    free(p->raw);
    free(p->idx);
    free(p->keys);
    free(p->win);
    free(p);
    *self_p = NULL;
}

bt_plan_t *bt_plan_new(const bt_config_t *cfg, bool allow_huge, bt_errbuf_t *eb)
{
    bt_plan_t *p = calloc(1, sizeof *p);
    if (!p) {
        bt_errf(eb, BT_ENOMEM, "out of memory");
        return NULL;
    }
    p->cfg = cfg;
    const char *path = bt_config_path(cfg);
    bool wf = bt_config_walk_forward(cfg) != NULL;
    p->grid = bt_grid_new(cfg, allow_huge, eb);
    if (!p->grid)
        goto fail;
    p->npoints = bt_grid_count(p->grid);
    p->off = wf ? 1 : 0;
    p->naxes = p->off + bt_grid_naxes(p->grid);
    if (p->npoints == 0) {
        bt_errf(eb, BT_ECONFIG, "%s: the constraints leave no grid point to run", path);
        goto fail;
    }
    if (p->naxes > BT_PLAN_MAX_AXES) {
        bt_errf(eb, BT_ELIMIT, "%s: %zu swept keys, at most %d", path, p->naxes, BT_PLAN_MAX_AXES);
        goto fail;
    }
    p->raw = malloc(p->npoints * sizeof *p->raw);
    p->idx = calloc(p->naxes + 1, sizeof *p->idx);
    p->keys = calloc(p->naxes + 1, sizeof *p->keys);
    if (!p->raw || !p->idx || !p->keys) {
        bt_errf(eb, BT_ENOMEM, "out of memory for %llu grid points",
                (unsigned long long)p->npoints);
        goto fail;
    }
    uint64_t r = 0, k = 0;
    while (k < p->npoints && bt_grid_next(p->grid, &r))
        p->raw[k++] = r++;
    p->npoints = k;
    if (wf)
        p->keys[0] = BT_WF_WINDOW_KEY;
    for (size_t a = p->off; a < p->naxes; a++)
        p->keys[a] = bt_grid_axis_key(p->grid, a - p->off);
    if (!realpath(bt_config_store(cfg), p->store)) {
        bt_errf(eb, BT_ENOTFOUND,
                "%s: data.store %s: %s (make it with 'bt data import' or 'bt data synth')", path,
                bt_config_store(cfg), strerror(errno));
        goto fail;
    }
    if (s_data_hash(p, eb) != BT_OK || (wf && s_windows(p, allow_huge, eb) != BT_OK))
        goto fail;
    return p;
fail:
    bt_plan_destroy(&p);
    return NULL;
}

uint64_t bt_plan_jobs(const bt_plan_t *p)
{
    return p->nwin ? p->npoints * p->nwin : p->npoints;
}

uint64_t bt_plan_points(const bt_plan_t *p)
{
    return p->npoints;
}

size_t bt_plan_windows(const bt_plan_t *p)
{
    return p->nwin;
}

const bt_wf_window_t *bt_plan_window(const bt_plan_t *p, size_t w)
{
    return w < p->nwin ? &p->win[w] : NULL;
}

const bt_config_t *bt_plan_config(const bt_plan_t *p)
{
    return p->cfg;
}

const bt_grid_t *bt_plan_grid(const bt_plan_t *p)
{
    return p->grid;
}

size_t bt_plan_naxes(const bt_plan_t *p)
{
    return p->naxes;
}

const char *const *bt_plan_axis_keys(const bt_plan_t *p)
{
    return p->keys;
}

size_t bt_plan_axis_len(const bt_plan_t *p, size_t axis)
{
    return axis < p->off ? p->nwin : bt_grid_axis_len(p->grid, axis - p->off);
}

bool bt_plan_axis_is_symbols(const bt_plan_t *p, size_t axis)
{
    return axis >= p->off && bt_grid_axis_is_symbols(p->grid, axis - p->off);
}

const char *bt_plan_label(const bt_plan_t *p, size_t axis, size_t j, char *buf, size_t cap)
{
    size_t ns = 0, off = 0;
    const char *const *s = bt_grid_axis_symbols(p->grid, axis - p->off, j, &ns);
    buf[0] = '\0';
    for (size_t k = 0; k < ns && off + 1 < cap; k++) {
        int w = snprintf(buf + off, cap - off, "%s%s", k ? "+" : "", s[k]);
        if (w < 0)
            break;
        off += (size_t)w;
    }
    return buf;
}

void bt_plan_values(const bt_plan_t *p, uint64_t job, double *values)
{
    uint64_t pt = job % p->npoints;
    if (p->off)
        values[0] = (double)(job / p->npoints);
    bt_grid_point(p->grid, p->raw[pt], p->idx);
    for (size_t a = p->off; a < p->naxes; a++) {
        size_t g = a - p->off;
        values[a] = bt_grid_axis_is_symbols(p->grid, g) ? (double)p->idx[g]
                                                        : bt_grid_axis_value(p->grid, g, p->idx[g]);
    }
}

uint64_t bt_plan_trial_set_size(const bt_plan_t *p)
{
    return p->nwin ? p->npoints : 0;
}

const char *bt_plan_store(const bt_plan_t *p)
{
    return p->store;
}

const char *bt_plan_data_hash(const bt_plan_t *p)
{
    return p->data_hash;
}

bt_err_t bt_plan_journal_id(const bt_plan_t *p, char *buf, size_t cap, bt_errbuf_t *eb)
{
    size_t n = 0;
    int w = snprintf(buf, cap, "config_sha256 %s\ndata_hash %s\njobs %llu\n",
                     bt_config_hash(p->cfg), p->data_hash, (unsigned long long)bt_plan_jobs(p));
    if (w > 0)
        n = (size_t)w;
    if (p->nwin && n < cap) {
        const bt_wf_spec_t *s = bt_config_walk_forward(p->cfg);
        char l1[24], l2[24], l3[24];
        w = snprintf(buf + n, cap - n, "walk_forward train %s test %s step %s %s windows %zu\n",
                     bt_wf_format_len(&s->train, l1, sizeof l1),
                     bt_wf_format_len(&s->test, l2, sizeof l2),
                     bt_wf_format_len(&s->step, l3, sizeof l3),
                     s->anchored ? "anchored" : "rolling", p->nwin);
        n += w > 0 ? (size_t)w : 0;
    }
    for (size_t a = 0; a < p->naxes && n < cap; a++) {
        w = snprintf(buf + n, cap - n, "axis %s %zu\n", p->keys[a], bt_plan_axis_len(p, a));
        n += w > 0 ? (size_t)w : 0;
    }
    /* The code that computes the results: this engine build, and the
     * strategy library's bytes (a built-in strategy is part of the build). */
    if (n < cap) {
        w = snprintf(buf + n, cap - n, "engine_build %s\n", bt_build_id());
        n += w > 0 ? (size_t)w : 0;
    }
    const char *lib = bt_config_library(p->cfg);
    if (lib && n < cap) {
        char path[PATH_MAX + 2], hex[65];
        snprintf(path, sizeof path, "%s%s", strchr(lib, '/') ? "" : "./", lib);
        bt_err_t rc = bt_sha256_file(path, hex, eb);
        if (rc != BT_OK)
            return rc;
        w = snprintf(buf + n, cap - n, "strategy_code sha256 %s %s\n", hex, lib);
        n += w > 0 ? (size_t)w : 0;
    }
    if (n >= cap)
        return bt_errf(eb, BT_ELIMIT,
                       "the journal header is longer than %zu bytes (too many "
                       "swept keys?)",
                       cap - 1);
    return BT_OK;
}
