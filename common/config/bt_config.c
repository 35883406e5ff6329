/* bt_config — loading a YAML config: flattening to dotted keys, --set
 * overrides, applying and validating every key, then the accessors. The
 * settings table is in bt_config_table.c, node reading in bt_config_value.c,
 * the sweep:/walk_forward: sections in bt_config_sweep.c. */
#include "bt_config.h"

#include <errno.h>
#include <libfyaml.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bt_config_int.h"
#include "bt_metrics.h"
#include "bt_sha256.h"
#include "bt_time.h"
#include "bt_yaml.h"

#define S_MAX_FILE (1u << 20) /* a config file larger than 1 MiB is refused */

static void s_param_names(const bt_strategy_t *st, char *buf, size_t cap)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < st->nparams && off < cap; i++)
        off += (size_t)snprintf(buf + off, cap - off, "%s%s", i ? ", " : "", st->params[i].name);
    if (st->nparams == 0)
        snprintf(buf, cap, "(none: %s takes no parameters)", st->name);
}

/* ---- Flattening the YAML tree into dotted keys ---- */

static bool s_is_section(const char *key)
{
    for (size_t i = 0; i < BT_CFG_NSECTIONS; i++)
        if (strcmp(key, bt_cfg_sections[i]) == 0)
            return true;
    return false;
}

static bt_cfg_entry_t *s_find_entry(bt_cfg_loader_t *ld, const char *key)
{
    for (size_t i = 0; i < ld->n; i++)
        if (strcmp(ld->entries[i].key, key) == 0)
            return &ld->entries[i];
    return NULL;
}

static bt_err_t s_add_entry(bt_cfg_loader_t *ld, const char *key, struct fy_node *node, int line,
                            const char *set)
{
    bt_cfg_entry_t probe = {.line = line, .set = set};
    snprintf(probe.key, sizeof probe.key, "%s", key);
    if (strlen(key) >= BT_CFG_KEY_MAX)
        return bt_cfg_fail(ld, &probe, "key is too long");
    bt_cfg_entry_t *old = s_find_entry(ld, key);
    if (old) {
        if (!set && !old->set)
            return bt_cfg_fail(ld, &probe, "given twice (also on line %d); keep one", old->line);
        *old = probe;
        old->node = node;
        return BT_OK;
    }
    if (ld->n == ld->cap) {
        size_t cap = ld->cap ? ld->cap * 2 : 32;
        bt_cfg_entry_t *e = realloc(ld->entries, cap * sizeof *e);
        if (!e)
            return bt_errf(ld->eb, BT_ENOMEM, "out of memory reading %s", ld->name);
        ld->entries = e;
        ld->cap = cap;
    }
    probe.node = node;
    ld->entries[ld->n++] = probe;
    return BT_OK;
}

static bt_err_t s_flatten(bt_cfg_loader_t *ld, struct fy_node *map, const char *prefix)
{
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(map, &it)) != NULL) {
        struct fy_node *k = fy_node_pair_key(p), *v = fy_node_pair_value(p);
        size_t klen = 0;
        const char *ks = bt_cfg_scalar(k, &klen);
        int line = bt_cfg_node_line(k);
        if (!ks || klen == 0 || klen >= BT_CFG_KEY_MAX)
            return bt_errf(ld->eb, BT_ECONFIG, "%s:%d: %s: keys must be short plain names",
                           ld->name, line, prefix[0] ? prefix : "(top level)");
        char full[BT_CFG_KEY_MAX * 2];
        snprintf(full, sizeof full, "%s%s%.*s", prefix, prefix[0] ? "." : "", (int)klen, ks);
        bt_cfg_entry_t here = {.line = line};
        snprintf(here.key, sizeof here.key, "%.*s", BT_CFG_KEY_MAX - 1, full);
        if (strcmp(full, "walk_forward") == 0) {
            if (fy_node_get_type(v) != FYNT_MAPPING)
                return bt_cfg_fail(ld, &here,
                                   "expected a mapping, e.g. walk_forward: {train: 3y, "
                                   "test: 6m, step: 6m, mode: rolling}");
            ld->wf = v;
            ld->wf_line = line;
            continue;
        }
        if (strcmp(full, "sweep") == 0) {
            if (fy_node_get_type(v) != FYNT_MAPPING)
                return bt_cfg_fail(ld, &here,
                                   "expected a mapping of dotted keys to lists or ranges, "
                                   "e.g. sweep: {params.fast: [5, 10, 20]}");
            ld->sweep = v;
            ld->sweep_line = line;
            struct fy_node *mg = fy_node_mapping_lookup_by_string(v, "max_grid", 8);
            if (mg) {
                bt_err_t rc = s_add_entry(ld, "sweep.max_grid", mg, line, NULL);
                if (rc)
                    return rc;
                ld->entries[ld->n - 1].line = bt_cfg_node_line(mg) ? bt_cfg_node_line(mg) : line;
            }
            struct fy_node *rm = fy_node_mapping_lookup_by_string(v, "rank_min_trades", 15);
            if (rm) {
                bt_err_t rc = s_add_entry(ld, "sweep.rank_min_trades", rm, line, NULL);
                if (rc)
                    return rc;
                ld->entries[ld->n - 1].line = bt_cfg_node_line(rm) ? bt_cfg_node_line(rm) : line;
            }
            continue;
        }
        if (s_is_section(full)) {
            if (fy_node_get_type(v) != FYNT_MAPPING)
                return bt_cfg_fail(ld, &here, "is a section: expected a mapping of keys below it");
            bt_err_t rc = s_flatten(ld, v, full);
            if (rc)
                return rc;
            continue;
        }
        bt_err_t rc = s_add_entry(ld, full, v, line, NULL);
        if (rc)
            return rc;
    }
    return BT_OK;
}

/* ---- Applying entries ---- */

static const char *const *s_all_keys(size_t *n)
{
    static const char *keys[S_NSETTINGS];
    for (int i = 0; i < S_NSETTINGS; i++)
        keys[i] = bt_cfg_settings[i].key;
    *n = S_NSETTINGS;
    return keys;
}

bt_err_t bt_cfg_unknown_key(bt_cfg_loader_t *ld, const bt_cfg_entry_t *e)
{
    size_t n;
    const char *const *keys = s_all_keys(&n);
    const char *best = bt_config_closest(e->key, keys, n);
    if (!strchr(e->key, '.') && e->node && fy_node_get_type(e->node) == FYNT_MAPPING) {
        const char *sec = bt_config_closest(e->key, bt_cfg_sections, BT_CFG_NSECTIONS);
        if (sec)
            return bt_cfg_fail(
                ld, e, "unknown section; did you mean '%s:'? (keys: configs/README.md)", sec);
    }
    if (best)
        return bt_cfg_fail(ld, e, "unknown key; did you mean '%s'? (keys: configs/README.md)",
                           best);
    return bt_cfg_fail(ld, e, "unknown key; the valid keys are listed in configs/README.md");
}

static bt_err_t s_apply_string(bt_cfg_loader_t *ld, const bt_cfg_entry_t *e, char **dst)
{
    size_t len = 0;
    const char *s = bt_cfg_scalar(e->node, &len);
    if (!s || len == 0)
        return bt_cfg_fail(ld, e, "expected text, got %s",
                           s ? "an empty value" : "no value or a list");
    if (memchr(s, '\0', len))
        return bt_cfg_fail(ld, e, "text must not contain NUL bytes");
    char *d = bt_cfg_strndup(s, len);
    if (!d)
        return bt_errf(ld->eb, BT_ENOMEM, "out of memory");
    free(*dst);
    *dst = d;
    return BT_OK;
}

static bt_err_t s_apply_date(bt_cfg_loader_t *ld, const bt_cfg_entry_t *e, bool is_end,
                             int64_t *dst)
{
    size_t len = 0;
    const char *s = bt_cfg_scalar(e->node, &len);
    int64_t t = 0;
    if (!s || !bt_time_parse(s, len, &t))
        return bt_cfg_fail(ld, e,
                           "expected a date YYYY-MM-DD (optionally ' HH:MM[:SS]'), got '%.*s'",
                           s ? (int)len : 0, s ? s : "");
    if (is_end && len == 10)
        t += BT_NS_PER_DAY - 1; /* a bare end date includes that whole day */
    *dst = t;
    return BT_OK;
}

static bt_err_t s_apply_entry(bt_cfg_loader_t *ld, const bt_cfg_entry_t *e)
{
    bt_config_t *c = ld->c;
    int i = bt_cfg_find_setting(e->key);
    if (i < 0)
        return bt_cfg_unknown_key(ld, e);
    const bt_cfg_setting_t *s = &bt_cfg_settings[i];
    bt_err_t rc = BT_OK;
    switch (s->type) {
    case S_STRING: {
        char *tmp = NULL;
        rc = s_apply_string(ld, e, &tmp);
        if (rc)
            return rc;
        if (i == S_STORE) {
            free(c->store);
            c->store = tmp;
        } else if (i == S_LIBRARY || i == S_PYTHON) {
            if (c->library && c->python != (i == S_PYTHON)) {
                free(tmp);
                return bt_cfg_fail(ld, e, "give strategy_library or strategy_python, not both");
            }
            free(c->library);
            c->library = tmp;
            c->python = i == S_PYTHON;
        } else if (i == S_RANK_BY) {
            int m = bt_metrics_find(tmp);
            if (m < 0) {
                const char *names[64];
                size_t nm = bt_metrics_count() < 64 ? bt_metrics_count() : 64;
                for (size_t k = 0; k < nm; k++)
                    names[k] = bt_metrics_name(k);
                const char *best = bt_config_closest(tmp, names, nm);
                rc =
                    bt_cfg_fail(ld, e, "'%s' is not a metric%s%s%s (see docs/metrics.md)", tmp,
                                best ? "; did you mean '" : "", best ? best : "", best ? "'?" : "");
                free(tmp);
                return rc;
            }
            c->rank_by = m;
            free(tmp);
        } else { /* strategy: resolved by the loader */
            free(tmp);
        }
        break;
    }
    case S_DATE:
        rc = s_apply_date(ld, e, i == S_END, i == S_END ? &c->end : &c->start);
        break;
    case S_STRLIST: {
        char **v = NULL;
        size_t n = 0;
        rc = bt_cfg_parse_symbols(ld, e, e->node, &v, &n);
        if (rc)
            return rc;
        bt_cfg_free_strv(c->symbols, c->nsymbols);
        c->symbols = v;
        c->nsymbols = n;
        break;
    }
    default: {
        bt_cfg_num_t d;
        if (!bt_cfg_numkey(c, e->key, &d)) {
            /* rank_order: an enum that is not a sweep axis */
            d = (bt_cfg_num_t){S_ENUM, 0, 1, s->choices, &c->values[i], i};
        }
        rc = bt_cfg_node_number(ld, e, e->node, &d, d.slot);
        break;
    }
    }
    if (rc == BT_OK)
        c->set[i] = true;
    return rc;
}

bt_err_t bt_cfg_apply_param(bt_cfg_loader_t *ld, const bt_cfg_entry_t *e)
{
    bt_config_t *c = ld->c;
    const char *name = e->key + 7;
    bt_cfg_num_t d;
    if (strchr(name, '.') || !bt_cfg_numkey(c, e->key, &d)) {
        char list[512];
        s_param_names(c->strategy, list, sizeof list);
        const char *cand[BT_MAX_PARAMS];
        for (size_t k = 0; k < c->strategy->nparams; k++)
            cand[k] = c->strategy->params[k].name;
        const char *best = bt_config_closest(name, cand, c->strategy->nparams);
        return bt_cfg_fail(ld, e, "%s has no parameter '%s'%s%s%s; valid parameters: %s",
                           c->strategy->name, name, best ? " (did you mean '" : "",
                           best ? best : "", best ? "'?)" : "", list);
    }
    return bt_cfg_node_number(ld, e, e->node, &d, d.slot);
}

/* ---- Derived values ---- */

static void s_finish(bt_config_t *c)
{
    bt_engine_cfg_t *eng = &c->eng;
    for (int i = 0; i < S_NSETTINGS; i++) {
        const bt_cfg_setting_t *s = &bt_cfg_settings[i];
        char *dst = (char *)eng + s->offset;
        double v = c->values[i] * s->scale;
        switch (s->land) {
        case S_L_DOUBLE:
            memcpy(dst, &v, sizeof v);
            break;
        case S_L_INT: {
            int iv = (int)c->values[i];
            memcpy(dst, &iv, sizeof iv);
            break;
        }
        case S_L_BOOL: {
            bool b = c->values[i] != 0;
            memcpy(dst, &b, sizeof b);
            break;
        }
        case S_L_ENUM: {
            int ev = (int)c->values[i]; /* enums are int-sized (checked below) */
            memcpy(dst, &ev, sizeof ev);
            break;
        }
        case S_L_NONE:
            break;
        }
    }
    eng->size_value =
        eng->sizing == BT_SIZE_FIXED ? c->values[S_SIZE_QTY] : c->values[S_SIZE_PCT] * 0.01;
    eng->start = c->start;
    eng->end = c->end;
    eng->trade_start = INT64_MIN; /* no warm-up unless a caller sets it (walk-forward tests) */
}

_Static_assert(sizeof(bt_fill_at_t) == sizeof(int) && sizeof(bt_sizing_t) == sizeof(int) &&
                   sizeof(bt_rebalance_t) == sizeof(int) && sizeof(bt_size_at_t) == sizeof(int) &&
                   sizeof(bt_risk_scope_t) == sizeof(int),
               "enums of bt_engine_cfg_t are written as int");

static bt_config_t *s_config_new(const char *name)
{
    bt_config_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->path = bt_cfg_strdup(name);
    if (!c->path) {
        free(c);
        return NULL;
    }
    for (int i = 0; i < S_NSETTINGS; i++)
        c->values[i] = bt_cfg_settings[i].def;
    c->start = INT64_MIN;
    c->end = INT64_MAX;
    c->rank_by = bt_metrics_find("sharpe");
    return c;
}

void bt_config_destroy(bt_config_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bt_config_t *c = *self_p;
    free(c->path);
    free(c->store);
    free(c->library);
    bt_cfg_free_strv(c->symbols, c->nsymbols);
    bt_cfg_sweep_free(&c->sweep);
    free(c);
    *self_p = NULL;
}

/* ---- Loading ---- */

/* strategy_library: loads it and checks it provides the strategy named by
 * strategy:. A relative path is made "./path" so dlopen takes it from the
 * current directory rather than searching the library path. */
static bt_err_t s_load_library(bt_cfg_loader_t *ld, const bt_cfg_entry_t *se, const char *sn,
                               size_t snlen, bt_config_lib_fn load_lib)
{
    bt_config_t *c = ld->c;
    const bt_cfg_entry_t *le =
        s_find_entry(ld, c->python ? "strategy_python" : "strategy_library");
    if (!load_lib)
        return bt_cfg_fail(ld, le,
                           "this program cannot load strategy libraries; use 'bt run' or "
                           "'bt sweep'");
    if (c->library[0] == '\0')
        return bt_cfg_fail(ld, le, "is empty; give the path of a %s file",
                           c->python ? ".py" : ".so");
    char path[4500];
    if (c->python) /* the loader's "python:CLASS:PATH" (bt_pystrat.h) */
        snprintf(path, sizeof path, "python:%.*s:%s", sn ? (int)(snlen < 200 ? snlen : 200) : 0,
                 sn ? sn : "", c->library);
    else if (strchr(c->library, '/') == NULL)
        snprintf(path, sizeof path, "./%s", c->library);
    else
        snprintf(path, sizeof path, "%s", c->library);
    bt_errbuf_t leb;
    bt_errbuf_clear(&leb);
    const bt_strategy_t *st = load_lib(path, &leb);
    if (!st)
        return bt_cfg_fail(ld, le, "%s", leb.msg);
    if (!sn || strlen(st->name) != snlen || strncmp(st->name, sn, snlen) != 0)
        return bt_cfg_fail(ld, se,
                           "'%.*s' is not the strategy in strategy_library %s, which is "
                           "'%s'; write 'strategy: %s'",
                           sn ? (int)snlen : 0, sn ? sn : "", c->library, st->name, st->name);
    c->strategy = st;
    return BT_OK;
}

static bt_config_t *s_load(const char *text, size_t len, const char *name,
                           const char *const *overrides, size_t noverrides,
                           const bt_strategy_t *const *strategies, size_t nstrategies,
                           bt_config_lib_fn load_lib, bt_errbuf_t *eb)
{
    bt_errbuf_clear(eb);
    if (noverrides > BT_CONFIG_MAX_OVERRIDES) {
        bt_errf(eb, BT_ECONFIG, "too many --set options (%zu; the limit is %d)", noverrides,
                BT_CONFIG_MAX_OVERRIDES);
        return NULL;
    }
    bt_config_t *c = s_config_new(name);
    if (!c) {
        bt_errf(eb, BT_ENOMEM, "out of memory");
        return NULL;
    }
    bt_cfg_loader_t ld = {.name = name, .c = c, .eb = eb};
    struct fy_document *ovdocs[BT_CONFIG_MAX_OVERRIDES] = {0};
    bt_err_t rc = BT_OK;

    /* hash = sha256(file bytes, then "\n--set " + each override) */
    bt_sha256_t h;
    bt_sha256_init(&h);
    bt_sha256_update(&h, text, len);
    for (size_t i = 0; i < noverrides; i++) {
        bt_sha256_update(&h, "\n--set ", 7);
        bt_sha256_update(&h, overrides[i], strlen(overrides[i]));
    }
    bt_sha256_final(&h, c->hash);

    struct fy_document *doc = bt_yaml_parse(text, len, name, eb);
    if (!doc)
        goto fail;
    struct fy_node *root = fy_document_root(doc);
    if (!root || fy_node_get_type(root) != FYNT_MAPPING) {
        rc = bt_errf(eb, BT_ECONFIG,
                     "%s:1: the top level must be a mapping of keys "
                     "(strategy:, data:, ...)",
                     name);
        goto fail;
    }
    if ((rc = s_flatten(&ld, root, "")) != BT_OK)
        goto fail;

    /* --set key=value: value parsed as YAML, replaces the file's value */
    for (size_t i = 0; i < noverrides; i++) {
        const char *o = overrides[i];
        const char *eq = strchr(o, '=');
        bt_cfg_entry_t oe = {.set = o};
        snprintf(oe.key, sizeof oe.key, "%.*s", eq ? (int)(eq - o) : (int)strlen(o), o);
        if (!eq || eq == o) {
            rc = bt_errf(eb, BT_ECONFIG, "--set %s: expected key=value, e.g. --set params.fast=12",
                         o);
            goto fail;
        }
        if (strncmp(oe.key, "sweep.", 6) == 0 && strcmp(oe.key, "sweep.max_grid") != 0 &&
            strcmp(oe.key, "sweep.rank_min_trades") != 0) {
            rc = bt_cfg_fail(&ld, &oe,
                             "sweep axes cannot be set with --set; edit the sweep: section");
            goto fail;
        }
        if (strcmp(oe.key, "walk_forward") == 0 || strncmp(oe.key, "walk_forward.", 13) == 0) {
            rc = bt_cfg_fail(&ld, &oe,
                             "walk_forward cannot be set with --set; edit the "
                             "walk_forward: section of the file");
            goto fail;
        }
        char where[512];
        snprintf(where, sizeof where, "--set %s", o);
        ovdocs[i] = bt_yaml_parse(eq + 1, strlen(eq + 1), where, eb);
        if (!ovdocs[i]) {
            if (eq[1] == '\0')
                rc = bt_cfg_fail(&ld, &oe, "has no value after '='");
            else
                rc = BT_ECONFIG;
            goto fail;
        }
        if ((rc = s_add_entry(&ld, oe.key, fy_document_root(ovdocs[i]), 0, o)) != BT_OK)
            goto fail;
    }

    /* every key but the strategy parameters, which need the strategy */
    for (size_t i = 0; i < ld.n; i++) {
        if (strncmp(ld.entries[i].key, "params.", 7) == 0)
            continue;
        if ((rc = s_apply_entry(&ld, &ld.entries[i])) != BT_OK)
            goto fail;
    }
    const bt_cfg_entry_t *se = s_find_entry(&ld, "strategy");
    char names[1024];
    size_t off = 0;
    names[0] = '\0';
    for (size_t i = 0; i < nstrategies && off < sizeof names; i++)
        off += (size_t)snprintf(names + off, sizeof names - off, "%s%s", i ? ", " : "",
                                strategies[i]->name);
    if (!se) {
        rc = bt_errf(eb, BT_ECONFIG,
                     "%s: strategy: missing required key; add e.g. "
                     "'strategy: sma_cross' (built-in: %s)",
                     name, names);
        goto fail;
    }
    if (!s_find_entry(&ld, "data.store")) {
        rc = bt_errf(eb, BT_ECONFIG,
                     "%s: data.store: missing required key; add "
                     "'data: {store: path/to/bars.h5}'",
                     name);
        goto fail;
    }
    {
        size_t len0 = 0;
        const char *sn = bt_cfg_scalar(se->node, &len0);
        if (c->library && (rc = s_load_library(&ld, se, sn, len0, load_lib)) != BT_OK)
            goto fail;
        for (size_t i = 0; sn && !c->library && i < nstrategies; i++) {
            if (strlen(strategies[i]->name) == len0 && strncmp(strategies[i]->name, sn, len0) == 0)
                c->strategy = strategies[i];
        }
        if (!c->strategy) {
            rc = bt_cfg_fail(&ld, se,
                             "unknown strategy '%.*s'; built-in: %s (a user strategy also "
                             "needs 'strategy_library: path/to/lib.so')",
                             sn ? (int)len0 : 0, sn ? sn : "", names);
            goto fail;
        }
        if (c->strategy->nparams > BT_MAX_PARAMS) {
            rc = bt_cfg_fail(&ld, se, "strategy declares %zu parameters, more than %d",
                             c->strategy->nparams, BT_MAX_PARAMS);
            goto fail;
        }
    }
    for (size_t i = 0; i < c->strategy->nparams; i++)
        c->params[i] = c->strategy->params[i].def;
    for (size_t i = 0; i < ld.n; i++) {
        if (strncmp(ld.entries[i].key, "params.", 7) != 0)
            continue;
        if ((rc = bt_cfg_apply_param(&ld, &ld.entries[i])) != BT_OK)
            goto fail;
    }
    if (c->start != INT64_MIN && c->end != INT64_MAX && c->start > c->end) {
        const bt_cfg_entry_t *ee = s_find_entry(&ld, "data.end");
        rc = bt_cfg_fail(&ld, ee, "the end date is before data.start");
        goto fail;
    }
    if (!c->set[S_RANK_ORDER])
        c->values[S_RANK_ORDER] = bt_metrics_higher_is_better((size_t)c->rank_by) ? 0 : 1;
    if (ld.sweep && (rc = bt_cfg_parse_sweep(&ld)) != BT_OK)
        goto fail;
    if (ld.wf && (rc = bt_cfg_parse_wf(&ld)) != BT_OK)
        goto fail;
    s_finish(c);

    for (size_t i = 0; i < noverrides; i++)
        fy_document_destroy(ovdocs[i]);
    fy_document_destroy(doc);
    free(ld.entries);
    return c;
fail:
    (void)rc;
    for (size_t i = 0; i < noverrides; i++)
        fy_document_destroy(ovdocs[i]);
    fy_document_destroy(doc);
    free(ld.entries);
    bt_config_destroy(&c);
    return NULL;
}

bt_config_t *bt_config_load_string(const char *yaml, const char *name, const char *const *overrides,
                                   size_t noverrides, const bt_strategy_t *const *strategies,
                                   size_t nstrategies, bt_errbuf_t *eb)
{
    return bt_config_load_string_lib(yaml, name, overrides, noverrides, strategies, nstrategies,
                                     NULL, eb);
}

bt_config_t *bt_config_load_string_lib(const char *yaml, const char *name,
                                       const char *const *overrides, size_t noverrides,
                                       const bt_strategy_t *const *strategies, size_t nstrategies,
                                       bt_config_lib_fn load_lib, bt_errbuf_t *eb)
{
    return s_load(yaml, strlen(yaml), name ? name : "<config>", overrides, noverrides, strategies,
                  nstrategies, load_lib, eb);
}

bt_config_t *bt_config_load(const char *path, const char *const *overrides, size_t noverrides,
                            const bt_strategy_t *const *strategies, size_t nstrategies,
                            bt_errbuf_t *eb)
{
    return bt_config_load_lib(path, overrides, noverrides, strategies, nstrategies, NULL, eb);
}

bt_config_t *bt_config_load_lib(const char *path, const char *const *overrides, size_t noverrides,
                                const bt_strategy_t *const *strategies, size_t nstrategies,
                                bt_config_lib_fn load_lib, bt_errbuf_t *eb)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        bt_errf(eb, BT_EIO, "%s: cannot open config: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(S_MAX_FILE + 1);
    if (!buf) {
        fclose(f);
        bt_errf(eb, BT_ENOMEM, "out of memory");
        return NULL;
    }
    size_t n = fread(buf, 1, S_MAX_FILE + 1, f);
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        bt_errf(eb, BT_EIO, "%s: cannot read config", path);
        return NULL;
    }
    if (n > S_MAX_FILE) {
        free(buf);
        bt_errf(eb, BT_ELIMIT, "%s: config is larger than %u bytes; is this the right file?", path,
                S_MAX_FILE);
        return NULL;
    }
    buf[n] = '\0';
    bt_config_t *c =
        s_load(buf, n, path, overrides, noverrides, strategies, nstrategies, load_lib, eb);
    free(buf);
    return c;
}

/* ---- Copy, accessors, set/get ---- */

bt_config_t *bt_config_dup(const bt_config_t *src)
{
    bt_config_t *c = malloc(sizeof *c);
    if (!c)
        return NULL;
    *c = *src;
    c->path = NULL;
    c->store = NULL;
    c->library = NULL;
    c->symbols = NULL;
    c->nsymbols = 0;
    memset(&c->sweep, 0, sizeof c->sweep);
    bool ok = (c->path = bt_cfg_strdup(src->path)) != NULL &&
              (!src->store || (c->store = bt_cfg_strdup(src->store)) != NULL) &&
              (!src->library || (c->library = bt_cfg_strdup(src->library)) != NULL);
    if (ok && src->symbols) {
        c->symbols = bt_cfg_strv_dup(src->symbols, src->nsymbols);
        ok = c->symbols != NULL;
        if (ok)
            c->nsymbols = src->nsymbols;
    }
    if (ok)
        ok = bt_cfg_sweep_dup(&c->sweep, &src->sweep);
    if (!ok)
        bt_config_destroy(&c);
    return c;
}

const char *bt_config_path(const bt_config_t *c)
{
    return c->path;
}
const char *bt_config_hash(const bt_config_t *c)
{
    return c->hash;
}
const bt_engine_cfg_t *bt_config_engine(const bt_config_t *c)
{
    return &c->eng;
}
const bt_strategy_t *bt_config_strategy(const bt_config_t *c)
{
    return c->strategy;
}
const double *bt_config_params(const bt_config_t *c)
{
    return c->params;
}
const char *bt_config_store(const bt_config_t *c)
{
    return c->store;
}
const char *bt_config_library(const bt_config_t *c)
{
    return c->library;
}
const bt_sweep_spec_t *bt_config_sweep(const bt_config_t *c)
{
    return &c->sweep;
}
const bt_wf_spec_t *bt_config_walk_forward(const bt_config_t *c)
{
    return c->wf.enabled ? &c->wf : NULL;
}

void bt_config_set_range(bt_config_t *c, int64_t start, int64_t end)
{
    c->start = start;
    c->end = end;
    c->eng.start = start;
    c->eng.end = end;
}
int bt_config_rank_by(const bt_config_t *c)
{
    return c->rank_by;
}
bool bt_config_rank_desc(const bt_config_t *c)
{
    return c->values[S_RANK_ORDER] == 0;
}
int bt_config_top(const bt_config_t *c)
{
    return (int)c->values[S_TOP];
}
uint64_t bt_config_max_grid(const bt_config_t *c)
{
    return (uint64_t)c->values[S_MAX_GRID];
}
int bt_config_rank_min_trades(const bt_config_t *c)
{
    return (int)c->values[S_RANK_MIN_TRADES];
}

const char *const *bt_config_symbols(const bt_config_t *c, size_t *n)
{
    *n = c->nsymbols;
    return (const char *const *)c->symbols;
}

bool bt_config_key_is_numeric(const bt_config_t *c, const char *key)
{
    bt_cfg_num_t d;
    return bt_cfg_numkey((bt_config_t *)c, key, &d);
}

bt_err_t bt_config_set(bt_config_t *c, const char *key, double value, bt_errbuf_t *eb)
{
    bt_cfg_num_t d;
    if (!bt_cfg_numkey(c, key, &d))
        return bt_errf(eb, BT_ECONFIG, "%s: %s is not a numeric key of this config", c->path, key);
    char why[160];
    if (!bt_cfg_num_ok(&d, value, why, sizeof why))
        return bt_errf(eb, BT_ECONFIG, "%s: %s: %s", c->path, key, why);
    *d.slot = value;
    if (d.setting >= 0)
        c->set[d.setting] = true;
    s_finish(c);
    return BT_OK;
}

bt_err_t bt_config_get(const bt_config_t *c, const char *key, double *value, bt_errbuf_t *eb)
{
    bt_cfg_num_t d;
    if (!bt_cfg_numkey((bt_config_t *)c, key, &d))
        return bt_errf(eb, BT_ECONFIG, "%s: %s is not a numeric key of this config", c->path, key);
    *value = *d.slot;
    return BT_OK;
}

bt_err_t bt_config_set_symbols(bt_config_t *c, const char *const *symbols, size_t n,
                               bt_errbuf_t *eb)
{
    char **v = NULL;
    if (n) {
        v = bt_cfg_strv_dup((char *const *)symbols, n);
        if (!v)
            return bt_errf(eb, BT_ENOMEM, "out of memory");
    }
    bt_cfg_free_strv(c->symbols, c->nsymbols);
    c->symbols = v;
    c->nsymbols = n;
    return BT_OK;
}
