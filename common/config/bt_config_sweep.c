/* bt_config_sweep — the sweep: section (axes as lists or ranges, symbol
 * sets, constraints) and the walk_forward: section. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bt_config_int.h"

/* ---- The walk_forward section (docs/walkforward.md) ---- */

bt_err_t bt_cfg_parse_wf(bt_cfg_loader_t *ld)
{
    bt_wf_spec_t *wf = &ld->c->wf;
    memset(wf, 0, sizeof *wf);
    bool have_train = false, have_test = false, have_step = false;
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(ld->wf, &it)) != NULL) {
        struct fy_node *k = fy_node_pair_key(p), *v = fy_node_pair_value(p);
        size_t klen = 0, vlen = 0;
        const char *ks = bt_cfg_scalar(k, &klen);
        const char *vs = bt_cfg_scalar(v, &vlen);
        bt_cfg_entry_t e = {.line = bt_cfg_node_line(k) ? bt_cfg_node_line(k) : ld->wf_line};
        snprintf(e.key, sizeof e.key, "walk_forward.%.*s", ks ? (int)klen : 0, ks ? ks : "");
        if (!ks)
            return bt_cfg_fail(ld, &e, "expected train, test, step or mode");
        bool is_mode = klen == 4 && memcmp(ks, "mode", 4) == 0;
        if (is_mode) {
            if (vs && vlen == 7 && memcmp(vs, "rolling", 7) == 0)
                wf->anchored = false;
            else if (vs && vlen == 8 && memcmp(vs, "anchored", 8) == 0)
                wf->anchored = true;
            else
                return bt_cfg_fail(ld, &e, "expected rolling or anchored");
            continue;
        }
        bt_wf_len_t *dst = NULL;
        bool *have = NULL;
        if (klen == 5 && memcmp(ks, "train", 5) == 0)
            dst = &wf->train, have = &have_train;
        else if (klen == 4 && memcmp(ks, "test", 4) == 0)
            dst = &wf->test, have = &have_test;
        else if (klen == 4 && memcmp(ks, "step", 4) == 0)
            dst = &wf->step, have = &have_step;
        else
            return bt_cfg_fail(ld, &e,
                               "unknown key; walk_forward: takes train, test, step and mode");
        if (!vs || !bt_wf_parse_len(vs, vlen, dst))
            return bt_cfg_fail(ld, &e,
                               "expected a length: a whole number of bars (500 or 500b) or "
                               "of days, weeks, months, years (20d, 2w, 6m, 3y)");
        *have = true;
    }
    bt_cfg_entry_t top = {.line = ld->wf_line};
    snprintf(top.key, sizeof top.key, "walk_forward");
    if (!have_train || !have_test)
        return bt_cfg_fail(ld, &top,
                           "train and test are required, e.g. walk_forward: {train: 3y, "
                           "test: 6m}");
    if (!have_step)
        wf->step = wf->test;
    wf->enabled = true;
    bt_errbuf_t eb;
    if (bt_wf_check(wf, &eb) != BT_OK)
        return bt_cfg_fail(ld, &top, "%s", eb.msg + strlen("walk_forward: "));
    return BT_OK;
}

/* ---- The sweep section ---- */

void bt_cfg_sweep_free(bt_sweep_spec_t *sw)
{
    for (size_t a = 0; a < sw->naxes; a++) {
        bt_axis_spec_t *ax = &sw->axes[a];
        free(ax->values);
        for (size_t k = 0; k < ax->nsets; k++)
            bt_cfg_free_strv(ax->symsets[k], ax->symset_len[k]);
        free(ax->symsets);
        free(ax->symset_len);
    }
    free(sw->axes);
    bt_cfg_free_strv(sw->constraints, sw->nconstraints);
    free(sw->constraint_lines);
    memset(sw, 0, sizeof *sw);
}

#define S_MAX_AXIS_POINTS 10000000.0

static bt_err_t s_range_num(bt_cfg_loader_t *ld, const bt_cfg_entry_t *e, struct fy_node *map,
                            const char *name, double *out)
{
    struct fy_node *n = fy_node_mapping_lookup_by_string(map, name, strlen(name));
    size_t len = 0;
    const char *s = bt_cfg_scalar(n, &len);
    if (!s)
        return bt_cfg_fail(ld, e, "a range needs '%s' (write {from: A, to: B, step: S})", name);
    if (!bt_cfg_parse_double(s, len, out))
        return bt_cfg_fail(ld, e, "range %s: expected a number, got '%.*s'", name, (int)len, s);
    return BT_OK;
}

static bt_err_t s_parse_axis(bt_cfg_loader_t *ld, const bt_cfg_entry_t *e, struct fy_node *v,
                             bt_axis_spec_t *ax)
{
    bt_config_t *c = ld->c;
    snprintf(ax->key, sizeof ax->key, "%s", e->key);
    ax->line = e->line;
    if (strcmp(e->key, "data.symbols") == 0) {
        ax->kind = BT_AXIS_SYMBOLS;
        if (fy_node_get_type(v) != FYNT_SEQUENCE || fy_node_sequence_item_count(v) <= 0)
            return bt_cfg_fail(ld, e, "expected a list of symbol lists, e.g. [[AAA], [AAA, BBB]]");
        size_t n = (size_t)fy_node_sequence_item_count(v);
        ax->symsets = calloc(n, sizeof *ax->symsets);
        ax->symset_len = calloc(n, sizeof *ax->symset_len);
        if (!ax->symsets || !ax->symset_len)
            return bt_errf(ld->eb, BT_ENOMEM, "out of memory");
        void *it = NULL;
        struct fy_node *item;
        while ((item = fy_node_sequence_iterate(v, &it)) != NULL) {
            bt_err_t rc = bt_cfg_parse_symbols(ld, e, item, &ax->symsets[ax->nsets],
                                               &ax->symset_len[ax->nsets]);
            if (rc)
                return rc;
            ax->nsets++;
        }
        return BT_OK;
    }
    bt_cfg_num_t d;
    if (!bt_cfg_numkey(c, e->key, &d)) {
        if (strncmp(e->key, "params.", 7) == 0)
            return bt_cfg_apply_param(ld, e); /* gives the unknown-parameter message */
        if (bt_cfg_find_setting(e->key) >= 0)
            return bt_cfg_fail(ld, e,
                               "is not numeric, so it cannot be a sweep axis (only data.symbols "
                               "among the text keys can)");
        return bt_cfg_unknown_key(ld, e);
    }
    char why[160];
    if (fy_node_get_type(v) == FYNT_SEQUENCE) {
        ax->kind = BT_AXIS_LIST;
        int n = fy_node_sequence_item_count(v);
        if (n <= 0)
            return bt_cfg_fail(ld, e, "the list of values is empty");
        ax->values = calloc((size_t)n, sizeof *ax->values);
        if (!ax->values)
            return bt_errf(ld->eb, BT_ENOMEM, "out of memory");
        void *it = NULL;
        struct fy_node *item;
        while ((item = fy_node_sequence_iterate(v, &it)) != NULL) {
            bt_cfg_entry_t ie = *e;
            if (bt_cfg_node_line(item))
                ie.line = bt_cfg_node_line(item);
            bt_err_t rc = bt_cfg_node_number(ld, &ie, item, &d, &ax->values[ax->nvalues]);
            if (rc)
                return rc;
            ax->nvalues++;
        }
        return BT_OK;
    }
    if (fy_node_get_type(v) == FYNT_MAPPING) {
        ax->kind = BT_AXIS_RANGE;
        void *it = NULL;
        struct fy_node_pair *p;
        while ((p = fy_node_mapping_iterate(v, &it)) != NULL) {
            size_t len = 0;
            const char *k = bt_cfg_scalar(fy_node_pair_key(p), &len);
            if (!k || !((len == 4 && strncmp(k, "from", 4) == 0) ||
                        (len == 2 && strncmp(k, "to", 2) == 0) ||
                        (len == 4 && strncmp(k, "step", 4) == 0)))
                return bt_cfg_fail(ld, e, "a range takes only from, to and step (got '%.*s')",
                                   k ? (int)len : 0, k ? k : "");
        }
        bt_err_t rc;
        if ((rc = s_range_num(ld, e, v, "from", &ax->from)) ||
            (rc = s_range_num(ld, e, v, "to", &ax->to)) ||
            (rc = s_range_num(ld, e, v, "step", &ax->step)))
            return rc;
        if (!(ax->step > 0))
            return bt_cfg_fail(ld, e, "range step must be greater than 0 (got %.15g)", ax->step);
        if (ax->to < ax->from)
            return bt_cfg_fail(ld, e, "range 'to' (%.15g) is below 'from' (%.15g)", ax->to,
                               ax->from);
        double span = (ax->to - ax->from) / ax->step;
        if (span + 1 > S_MAX_AXIS_POINTS)
            return bt_cfg_fail(ld, e, "the range has more than %.0f points; use a larger step",
                               S_MAX_AXIS_POINTS);
        if (!bt_cfg_num_ok(&d, ax->from, why, sizeof why))
            return bt_cfg_fail(ld, e, "range from: %s", why);
        if (d.type != S_REAL && ax->step != floor(ax->step))
            return bt_cfg_fail(ld, e, "range step must be a whole number for this key (got %.15g)",
                               ax->step);
        size_t n = (size_t)floor(span + 1e-9 * (span > 1 ? span : 1)) + 1;
        double last = ax->from + (double)(n - 1) * ax->step;
        if (!bt_cfg_num_ok(&d, last, why, sizeof why))
            return bt_cfg_fail(ld, e, "range to: %s", why);
        ax->nvalues = n;
        return BT_OK;
    }
    return bt_cfg_fail(ld, e,
                       "a sweep axis is a list [a, b, c] or a range {from: A, to: B, step: S}");
}

bt_err_t bt_cfg_parse_sweep(bt_cfg_loader_t *ld)
{
    bt_sweep_spec_t *sw = &ld->c->sweep;
    sw->line = ld->sweep_line;
    int cnt = fy_node_mapping_item_count(ld->sweep);
    if (cnt <= 0)
        return BT_OK;
    sw->axes = calloc((size_t)cnt, sizeof *sw->axes);
    if (!sw->axes)
        return bt_errf(ld->eb, BT_ENOMEM, "out of memory");
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(ld->sweep, &it)) != NULL) {
        struct fy_node *k = fy_node_pair_key(p), *v = fy_node_pair_value(p);
        size_t len = 0;
        const char *ks = bt_cfg_scalar(k, &len);
        bt_cfg_entry_t e = {.line = bt_cfg_node_line(k)};
        snprintf(e.key, sizeof e.key, "sweep.%.*s", ks ? (int)len : 0, ks ? ks : "");
        if (!ks || len == 0 || len >= BT_CFG_KEY_MAX - 8)
            return bt_cfg_fail(ld, &e, "sweep keys are dotted setting names like params.fast");
        if ((len == 8 && strncmp(ks, "max_grid", 8) == 0) ||
            (len == 15 && strncmp(ks, "rank_min_trades", 15) == 0))
            continue;
        if (len == 11 && strncmp(ks, "constraints", 11) == 0) {
            if (fy_node_get_type(v) != FYNT_SEQUENCE)
                return bt_cfg_fail(ld, &e,
                                   "expected a list of comparisons like "
                                   "[\"params.fast < params.slow\"]");
            size_t n = (size_t)fy_node_sequence_item_count(v);
            sw->constraints = calloc(n ? n : 1, sizeof *sw->constraints);
            sw->constraint_lines = calloc(n ? n : 1, sizeof *sw->constraint_lines);
            if (!sw->constraints || !sw->constraint_lines)
                return bt_errf(ld->eb, BT_ENOMEM, "out of memory");
            void *it2 = NULL;
            struct fy_node *item;
            while ((item = fy_node_sequence_iterate(v, &it2)) != NULL) {
                const char *cs = bt_cfg_scalar(item, &len);
                if (!cs)
                    return bt_cfg_fail(ld, &e, "each constraint is one comparison in quotes");
                sw->constraints[sw->nconstraints] = bt_cfg_strndup(cs, len);
                if (!sw->constraints[sw->nconstraints])
                    return bt_errf(ld->eb, BT_ENOMEM, "out of memory");
                sw->constraint_lines[sw->nconstraints++] =
                    bt_cfg_node_line(item) ? bt_cfg_node_line(item) : e.line;
            }
            continue;
        }
        snprintf(e.key, sizeof e.key, "%.*s", (int)len, ks);
        bt_err_t rc = s_parse_axis(ld, &e, v, &sw->axes[sw->naxes]);
        sw->naxes++; /* counted even on failure so that bt_cfg_sweep_free frees it */
        if (rc)
            return rc;
    }
    return BT_OK;
}

bool bt_cfg_sweep_dup(bt_sweep_spec_t *d, const bt_sweep_spec_t *s)
{
    memset(d, 0, sizeof *d);
    d->line = s->line;
    if (s->naxes) {
        d->axes = calloc(s->naxes, sizeof *d->axes);
        if (!d->axes)
            return false;
        for (size_t a = 0; a < s->naxes; a++) {
            const bt_axis_spec_t *sa = &s->axes[a];
            bt_axis_spec_t *da = &d->axes[a];
            *da = *sa;
            da->values = NULL;
            da->symsets = NULL;
            da->symset_len = NULL;
            da->nsets = 0;
            d->naxes = a + 1;
            if (sa->kind == BT_AXIS_LIST) {
                da->values = malloc(sa->nvalues * sizeof *da->values);
                if (!da->values)
                    return false;
                memcpy(da->values, sa->values, sa->nvalues * sizeof *da->values);
            }
            if (sa->kind == BT_AXIS_SYMBOLS) {
                da->symsets = calloc(sa->nsets, sizeof *da->symsets);
                da->symset_len = calloc(sa->nsets, sizeof *da->symset_len);
                if (!da->symsets || !da->symset_len)
                    return false;
                for (size_t k = 0; k < sa->nsets; k++) {
                    da->symsets[k] = bt_cfg_strv_dup(sa->symsets[k], sa->symset_len[k]);
                    if (!da->symsets[k])
                        return false;
                    da->symset_len[k] = sa->symset_len[k];
                    da->nsets = k + 1;
                }
            }
        }
    }
    if (s->nconstraints) {
        d->constraints = bt_cfg_strv_dup(s->constraints, s->nconstraints);
        d->constraint_lines = malloc(s->nconstraints * sizeof *d->constraint_lines);
        if (!d->constraints || !d->constraint_lines)
            return false;
        d->nconstraints = s->nconstraints;
        memcpy(d->constraint_lines, s->constraint_lines, s->nconstraints * sizeof(int));
    }
    return true;
}
