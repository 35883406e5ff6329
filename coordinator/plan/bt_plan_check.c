/* bt_plan_check — grid points the strategy refuses, found before any work
 * (see bt_plan.h). Each point is applied to a copy of the config and handed
 * to the strategy's own init, exactly what a worker does first, so a point
 * refused here would fail every attempt on every worker. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt_alloc.h"
#include "bt_plan.h"
#include "bt_store.h"

#define S_CHECK_MAX 1000000 /* points checked up front; beyond, failures show at run time */

/* Whether value a op b, op 0..4 = < <= > >= != */
static bool s_holds(double a, int op, double b)
{
    switch (op) {
    case 0:
        return a < b;
    case 1:
        return a <= b;
    case 2:
        return a > b;
    case 3:
        return a >= b;
    default:
        return a != b;
    }
}

/* A constraint "A op B" over two numeric axes that every refused point
 * breaks and every accepted one keeps, into buf; false if none. */
static bool s_suggest(const bt_grid_t *g, const double *vals, const bool *bad, uint64_t n,
                      char *buf, size_t cap)
{
    static const char *const ops[] = {"<", "<=", ">", ">=", "!="};
    size_t na = bt_grid_naxes(g);
    for (size_t a = 0; a < na; a++)
        for (size_t b = 0; b < na; b++) {
            if (a == b || bt_grid_axis_is_symbols(g, a) || bt_grid_axis_is_symbols(g, b))
                continue;
            for (int op = 0; op < 5; op++) {
                bool fits = true;
                for (uint64_t i = 0; fits && i < n; i++)
                    fits = s_holds(vals[i * na + a], op, vals[i * na + b]) == !bad[i];
                if (fits) {
                    snprintf(buf, cap, "%s %s %s", bt_grid_axis_key(g, a), ops[op],
                             bt_grid_axis_key(g, b));
                    return true;
                }
            }
        }
    return false;
}

/* The strategy's verdict on one configuration: BT_OK or its error. */
static bt_err_t s_try(const bt_config_t *c, size_t nsym, bt_errbuf_t *eb)
{
    const bt_strategy_t *st = bt_config_strategy(c);
    const double *params = bt_config_params(c);
    size_t sz = st->state_size ? st->state_size(params, nsym) : 0;
    void *state = bt_aligned_alloc(sz ? sz : 64);
    if (!state)
        return bt_errf(eb, BT_ENOMEM, "out of memory checking the grid");
    bt_err_t rc = st->init ? st->init(state, params, nsym, eb) : BT_OK;
    bt_aligned_free(state);
    return rc;
}

bt_err_t bt_plan_check_points(const bt_plan_t *p, bt_errbuf_t *eb)
{
    const bt_config_t *cfg = bt_plan_config(p);
    const bt_grid_t *g = bt_plan_grid(p);
    uint64_t n = bt_plan_points(p);
    if (n > S_CHECK_MAX)
        n = S_CHECK_MAX;
    size_t na = bt_grid_naxes(g);
    size_t nsym = 0;
    if (!bt_config_symbols(cfg, &nsym)) { /* "all": the store's symbols */
        char **names = NULL;
        if (bt_store_names(bt_plan_store(p), &names, &nsym, eb) != BT_OK)
            return eb->code;
        bt_store_names_free(names, nsym);
    }
    bt_config_t *c = bt_config_dup(cfg);
    double *vals = calloc((size_t)n * na + 1, sizeof *vals);
    bool *bad = calloc((size_t)n + 1, sizeof *bad);
    size_t *idx = calloc(na + 1, sizeof *idx);
    if (!c || !vals || !bad || !idx) {
        bt_config_destroy(&c);
        free(vals);
        free(bad);
        free(idx);
        return bt_errf(eb, BT_ENOMEM, "out of memory checking the grid");
    }
    uint64_t nbad = 0, first = 0, raw = 0;
    char first_label[512] = "", first_err[512] = "";
    bt_err_t rc = BT_OK;
    for (uint64_t i = 0; i < n && rc == BT_OK; i++, raw++) {
        if (!bt_grid_next(g, &raw))
            break;
        bt_grid_point(g, raw, idx);
        size_t ns = nsym;
        bt_errbuf_t peb;
        bt_errbuf_clear(&peb);
        bt_err_t prc = BT_OK;
        for (size_t a = 0; a < na && prc == BT_OK; a++) {
            if (bt_grid_axis_is_symbols(g, a)) {
                bt_grid_axis_symbols(g, a, idx[a], &ns);
                vals[i * na + a] = (double)idx[a];
                continue;
            }
            double v = bt_grid_axis_value(g, a, idx[a]);
            vals[i * na + a] = v;
            prc = bt_config_set(c, bt_grid_axis_key(g, a), v, &peb);
        }
        if (prc == BT_OK)
            prc = s_try(c, ns, &peb);
        if (prc == BT_ENOMEM)
            rc = bt_errf(eb, BT_ENOMEM, "%s", peb.msg);
        else if (prc != BT_OK) {
            bad[i] = true;
            if (nbad++ == 0) {
                first = i;
                bt_grid_label(g, raw, first_label, sizeof first_label);
                bt_str_copy(first_err, sizeof first_err, peb.msg);
            }
        }
    }
    if (rc == BT_OK && nbad) {
        char sug[300];
        if (s_suggest(g, vals, bad, n, sug, sizeof sug))
            rc = bt_errf(eb, BT_ECONFIG,
                         "%s: %llu of %llu grid points would fail before any work, e.g. point "
                         "%llu (%s): %s; prune them with the constraint that separates them "
                         "exactly, under sweep:  constraints: [\"%s\"]  (or run them anyway "
                         "with --keep-invalid: they fail and are listed)",
                         bt_config_path(cfg), (unsigned long long)nbad, (unsigned long long)n,
                         (unsigned long long)first, first_label, first_err, sug);
        else
            rc = bt_errf(eb, BT_ECONFIG,
                         "%s: %llu of %llu grid points would fail before any work, e.g. point "
                         "%llu (%s): %s; add sweep: constraints: [...] that prune them (or run "
                         "them anyway with --keep-invalid: they fail and are listed)",
                         bt_config_path(cfg), (unsigned long long)nbad, (unsigned long long)n,
                         (unsigned long long)first, first_label, first_err);
    }
    bt_config_destroy(&c);
    free(vals);
    free(bad);
    free(idx);
    return rc;
}
