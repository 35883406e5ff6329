/* bt_config_value — reading YAML nodes as the settings table's types:
 * numbers with bounds, bools, enum choices, symbol lists; the error format. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bt_config_int.h"

char *bt_cfg_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

char *bt_cfg_strndup(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

int bt_cfg_node_line(struct fy_node *n)
{
    struct fy_token *t = n ? fy_node_get_scalar_token(n) : NULL;
    const struct fy_mark *m = t ? fy_token_start_mark(t) : NULL;
    return m ? m->line + 1 : 0;
}

/* "FILE:LINE: KEY" or "--set K=V: KEY" into buf. */
static const char *s_where(const bt_cfg_loader_t *ld, const bt_cfg_entry_t *e, char *buf,
                           size_t cap)
{
    if (e->set)
        snprintf(buf, cap, "--set %s: %s", e->set, e->key);
    else
        snprintf(buf, cap, "%s:%d: %s", ld->name, e->line, e->key);
    return buf;
}

bt_err_t bt_cfg_fail(bt_cfg_loader_t *ld, const bt_cfg_entry_t *e, const char *fmt, ...)
{
    char where[512], what[640];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return bt_errf(ld->eb, BT_ECONFIG, "%s: %s", s_where(ld, e, where, sizeof where), what);
}

/* Scalar text of a node, or NULL if it is not a (non-null) scalar. */
const char *bt_cfg_scalar(struct fy_node *n, size_t *len)
{
    if (!n || fy_node_get_type(n) != FYNT_SCALAR || fy_node_is_null(n))
        return NULL;
    return fy_node_get_scalar(n, len);
}

bool bt_cfg_parse_double(const char *s, size_t len, double *out)
{
    char buf[64];
    if (len == 0 || len >= sizeof buf)
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end = NULL;
    errno = 0;
    double v = strtod(buf, &end);
    if (end == buf || *end != '\0' || errno == ERANGE || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static void s_list_choices(const char *const *choices, char *buf, size_t cap)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; choices[i] && off < cap; i++)
        off += (size_t)snprintf(buf + off, cap - off, "%s%s", i ? ", " : "", choices[i]);
}

static int s_find_param(const bt_strategy_t *st, const char *name)
{
    for (size_t i = 0; st && i < st->nparams; i++)
        if (strcmp(st->params[i].name, name) == 0)
            return (int)i;
    return -1;
}

bool bt_cfg_numkey(bt_config_t *c, const char *key, bt_cfg_num_t *d)
{
    if (strncmp(key, "params.", 7) == 0) {
        int p = s_find_param(c->strategy, key + 7);
        if (p < 0)
            return false;
        const bt_param_spec_t *ps = &c->strategy->params[p];
        *d = (bt_cfg_num_t){
            ps->type == BT_PARAM_INT ? S_INT : S_REAL, ps->min, ps->max, NULL, &c->params[p], -1};
        return true;
    }
    int i = bt_cfg_find_setting(key);
    if (i < 0)
        return false;
    const bt_cfg_setting_t *s = &bt_cfg_settings[i];
    if (s->type != S_REAL && s->type != S_INT && s->type != S_BOOL && s->type != S_ENUM)
        return false;
    if (i == S_RANK_ORDER)
        return false; /* derived from rank_by; not a sweep axis */
    double max = s->max;
    if (s->type == S_ENUM) {
        size_t k = 0;
        while (s->choices[k])
            k++;
        max = (double)k - 1;
    }
    *d = (bt_cfg_num_t){s->type, s->type == S_ENUM ? 0 : s->min, max, s->choices, &c->values[i], i};
    return true;
}

/* Checks v against d; fills why on failure. */
bool bt_cfg_num_ok(const bt_cfg_num_t *d, double v, char *why, size_t cap)
{
    if (!isfinite(v)) {
        snprintf(why, cap, "must be a finite number");
        return false;
    }
    if ((d->type == S_INT || d->type == S_BOOL || d->type == S_ENUM) && v != floor(v)) {
        snprintf(why, cap, "must be a whole number (got %.15g)", v);
        return false;
    }
    if (v < d->min || v > d->max) {
        snprintf(why, cap, "%.15g is out of bounds: allowed %.15g to %.15g", v, d->min, d->max);
        return false;
    }
    if (d->setting == S_PBO_BLOCKS && (v == 1 || fmod(v, 2.0) != 0.0)) {
        snprintf(why, cap, "must be 0 (off) or an even number from 2 to 32 (got %.15g)", v);
        return false;
    }
    return true;
}

/* Converts a YAML node to the number d expects (bool and enum words too). */
bt_err_t bt_cfg_node_number(bt_cfg_loader_t *ld, const bt_cfg_entry_t *e, struct fy_node *n,
                            const bt_cfg_num_t *d, double *out)
{
    size_t len = 0;
    const char *s = bt_cfg_scalar(n, &len);
    if (!s)
        return bt_cfg_fail(ld, e, "expected a %s, got %s", bt_cfg_type_name(d->type),
                           n && fy_node_get_type(n) != FYNT_SCALAR ? "a list or mapping"
                                                                   : "nothing");
    double v = 0;
    if (d->type == S_BOOL) {
        static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no",
                                                                               "off"};
        for (int i = 0; i < 3; i++) {
            if (strlen(yes[i]) == len && strncasecmp(s, yes[i], len) == 0) {
                *out = 1;
                return BT_OK;
            }
            if (strlen(no[i]) == len && strncasecmp(s, no[i], len) == 0) {
                *out = 0;
                return BT_OK;
            }
        }
        return bt_cfg_fail(ld, e, "expected true or false, got '%.*s'", (int)len, s);
    }
    if (d->type == S_ENUM) {
        for (size_t i = 0; d->choices[i]; i++) {
            if (strlen(d->choices[i]) == len && strncmp(s, d->choices[i], len) == 0) {
                *out = (double)i;
                return BT_OK;
            }
        }
        char list[256];
        s_list_choices(d->choices, list, sizeof list);
        return bt_cfg_fail(ld, e, "'%.*s' is not a valid choice; choose one of: %s", (int)len, s,
                           list);
    }
    if (!bt_cfg_parse_double(s, len, &v))
        return bt_cfg_fail(ld, e, "expected a %s, got '%.*s'", bt_cfg_type_name(d->type), (int)len,
                           s);
    char why[160];
    if (!bt_cfg_num_ok(d, v, why, sizeof why))
        return bt_cfg_fail(ld, e, "%s", why);
    *out = v;
    return BT_OK;
}

void bt_cfg_free_strv(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

/* Parses a symbol list node (sequence of names) into a new array. */
bt_err_t bt_cfg_parse_symbols(bt_cfg_loader_t *ld, const bt_cfg_entry_t *e, struct fy_node *n,
                              char ***out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    size_t len = 0;
    const char *s = bt_cfg_scalar(n, &len);
    if (s && len == 3 && strncmp(s, "all", 3) == 0)
        return BT_OK;
    if (!n || fy_node_get_type(n) != FYNT_SEQUENCE)
        return bt_cfg_fail(ld, e, "expected a list of symbols like [AAA, BBB] or the word all");
    int cnt = fy_node_sequence_item_count(n);
    if (cnt <= 0)
        return bt_cfg_fail(ld, e, "the symbol list is empty; list symbols or write all");
    if (cnt > BT_CONFIG_MAX_SYMBOLS)
        return bt_cfg_fail(ld, e, "%d symbols is more than the limit of %d", cnt,
                           BT_CONFIG_MAX_SYMBOLS);
    char **v = calloc((size_t)cnt, sizeof *v);
    if (!v)
        return bt_errf(ld->eb, BT_ENOMEM, "out of memory");
    void *it = NULL;
    struct fy_node *item;
    size_t k = 0;
    while ((item = fy_node_sequence_iterate(n, &it)) != NULL) {
        const char *sym = bt_cfg_scalar(item, &len);
        if (!sym || len == 0 || len >= BT_SYMBOL_MAX || memchr(sym, '\0', len)) {
            bt_cfg_free_strv(v, k);
            return bt_cfg_fail(ld, e, "symbol %zu must be a name of 1 to %d characters", k + 1,
                               BT_SYMBOL_MAX - 1);
        }
        for (size_t j = 0; j < k; j++) {
            if (strlen(v[j]) == len && strncmp(v[j], sym, len) == 0) {
                bt_cfg_free_strv(v, k);
                return bt_cfg_fail(ld, e, "symbol '%.*s' is listed twice", (int)len, sym);
            }
        }
        v[k] = bt_cfg_strndup(sym, len);
        if (!v[k]) {
            bt_cfg_free_strv(v, k);
            return bt_errf(ld->eb, BT_ENOMEM, "out of memory");
        }
        k++;
    }
    *out = v;
    *nout = k;
    return BT_OK;
}

char **bt_cfg_strv_dup(char *const *v, size_t n)
{
    char **d = calloc(n ? n : 1, sizeof *d);
    if (!d)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        d[i] = bt_cfg_strdup(v[i]);
        if (!d[i]) {
            bt_cfg_free_strv(d, i);
            return NULL;
        }
    }
    return d;
}
