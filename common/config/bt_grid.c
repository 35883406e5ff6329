/* bt_grid — sweep grid: axes, constraints, size checks, point decoding. */
#include "bt_grid.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_AXES 32

typedef enum { S_LT = 0, S_LE, S_GT, S_GE, S_EQ, S_NE } s_op_t;

/* One side of a constraint: an axis, or a constant (literal or fixed key). */
typedef struct {
    int axis;     /* axis index, or -1 for a constant */
    double value; /* the constant */
} s_operand_t;

typedef struct {
    s_operand_t lhs, rhs;
    s_op_t op;
} s_constraint_t;

struct bt_grid {
    const bt_sweep_spec_t *spec; /* owned by the config */
    size_t naxes;
    size_t len[S_MAX_AXES];      /* values per axis */
    uint64_t size;               /* full product */
    uint64_t count;              /* surviving points */
    s_constraint_t *cons;
    size_t ncons;
};

static double s_axis_value(const bt_axis_spec_t *ax, size_t j)
{
    switch (ax->kind) {
    case BT_AXIS_LIST:
        return ax->values[j];
    case BT_AXIS_RANGE:
        return ax->from + (double)j * ax->step;
    case BT_AXIS_SYMBOLS:
        break;
    }
    return (double)j;
}

static size_t s_axis_len(const bt_axis_spec_t *ax)
{
    return ax->kind == BT_AXIS_SYMBOLS ? ax->nsets : ax->nvalues;
}

/* ---- Constraint parsing ---- */

static const char *s_skip(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

static bt_err_t s_operand(const bt_config_t *c, const bt_grid_t *g, const char **pp,
                          s_operand_t *out, const char *text, int line, bt_errbuf_t *eb)
{
    const char *p = s_skip(*pp);
    const char *where = bt_config_path(c);
    if (isalpha((unsigned char)*p) || *p == '_') {
        const char *s = p;
        while (isalnum((unsigned char)*p) || *p == '_' || *p == '.')
            p++;
        char key[96];
        if ((size_t)(p - s) >= sizeof key)
            return bt_errf(eb, BT_ECONFIG, "%s:%d: sweep.constraints: '%s': key too long", where,
                           line, text);
        memcpy(key, s, (size_t)(p - s));
        key[p - s] = '\0';
        out->axis = -1;
        for (size_t a = 0; a < g->naxes; a++) {
            if (strcmp(g->spec->axes[a].key, key) == 0) {
                if (g->spec->axes[a].kind == BT_AXIS_SYMBOLS)
                    return bt_errf(eb, BT_ECONFIG,
                                   "%s:%d: sweep.constraints: '%s': data.symbols cannot be compared",
                                   where, line, text);
                out->axis = (int)a;
            }
        }
        if (out->axis < 0) {
            bt_errbuf_t tmp;
            if (bt_config_get(c, key, &out->value, &tmp) != BT_OK)
                return bt_errf(eb, BT_ECONFIG,
                               "%s:%d: sweep.constraints: '%s': '%s' is neither a sweep axis nor "
                               "a numeric key of this config",
                               where, line, text, key);
        }
    } else {
        char *end = NULL;
        double v = strtod(p, &end);
        if (end == p || !isfinite(v))
            return bt_errf(eb, BT_ECONFIG,
                           "%s:%d: sweep.constraints: '%s': expected a key or a number at '%s'",
                           where, line, text, p);
        out->axis = -1;
        out->value = v;
        p = end;
    }
    *pp = p;
    return BT_OK;
}

static bt_err_t s_parse_constraint(const bt_config_t *c, const bt_grid_t *g, const char *text,
                                   int line, s_constraint_t *out, bt_errbuf_t *eb)
{
    const char *p = text;
    bt_err_t rc = s_operand(c, g, &p, &out->lhs, text, line, eb);
    if (rc)
        return rc;
    p = s_skip(p);
    static const struct {
        const char *s;
        s_op_t op;
    } ops[] = {{"<=", S_LE}, {">=", S_GE}, {"==", S_EQ}, {"!=", S_NE}, {"<", S_LT}, {">", S_GT}};
    size_t k;
    for (k = 0; k < sizeof ops / sizeof ops[0]; k++)
        if (strncmp(p, ops[k].s, strlen(ops[k].s)) == 0)
            break;
    if (k == sizeof ops / sizeof ops[0] ||
        (p[strlen(ops[k].s)] && strchr("<>=!", p[strlen(ops[k].s)])))
        return bt_errf(eb, BT_ECONFIG,
                       "%s:%d: sweep.constraints: '%s': expected one of < <= > >= == != at '%s'",
                       bt_config_path(c), line, text, p);
    out->op = ops[k].op;
    p += strlen(ops[k].s);
    if ((rc = s_operand(c, g, &p, &out->rhs, text, line, eb)) != BT_OK)
        return rc;
    p = s_skip(p);
    if (*p)
        return bt_errf(eb, BT_ECONFIG,
                       "%s:%d: sweep.constraints: '%s': unexpected '%s' (one comparison per line)",
                       bt_config_path(c), line, text, p);
    return BT_OK;
}

/* ---- Building ---- */

static bt_grid_t *s_build(const bt_config_t *c, bool allow_huge, bool count, bt_errbuf_t *eb)
{
    const bt_sweep_spec_t *sw = bt_config_sweep(c);
    if (sw->naxes > S_MAX_AXES) {
        bt_errf(eb, BT_ECONFIG, "%s:%d: sweep: %zu axes is more than the limit of %d",
                bt_config_path(c), sw->line, sw->naxes, S_MAX_AXES);
        return NULL;
    }
    bt_grid_t *g = calloc(1, sizeof *g);
    if (!g) {
        bt_errf(eb, BT_ENOMEM, "out of memory");
        return NULL;
    }
    g->spec = sw;
    g->naxes = sw->naxes;
    uint64_t size = 1;
    bool overflow = false;
    for (size_t a = 0; a < g->naxes; a++) {
        g->len[a] = s_axis_len(&sw->axes[a]);
        if (g->len[a] == 0 || size > UINT64_MAX / g->len[a])
            overflow = true;
        else
            size *= g->len[a];
    }
    uint64_t max = allow_huge ? UINT64_MAX : bt_config_max_grid(c);
    if (overflow || size > max) {
        char n[32];
        if (overflow)
            snprintf(n, sizeof n, "more than 2^64");
        else
            snprintf(n, sizeof n, "%llu", (unsigned long long)size);
        bt_errf(eb, BT_ELIMIT,
                "%s:%d: sweep: the grid has %s points, more than max_grid (%llu); narrow the "
                "axes, raise sweep.max_grid, or pass --allow-huge",
                bt_config_path(c), sw->line, n, (unsigned long long)bt_config_max_grid(c));
        bt_grid_destroy(&g);
        return NULL;
    }
    g->size = size;
    if (sw->nconstraints) {
        g->cons = calloc(sw->nconstraints, sizeof *g->cons);
        if (!g->cons) {
            bt_errf(eb, BT_ENOMEM, "out of memory");
            bt_grid_destroy(&g);
            return NULL;
        }
        for (size_t i = 0; i < sw->nconstraints; i++) {
            if (s_parse_constraint(c, g, sw->constraints[i], sw->constraint_lines[i], &g->cons[i],
                                   eb) != BT_OK) {
                bt_grid_destroy(&g);
                return NULL;
            }
            g->ncons++;
        }
    }
    if (g->ncons == 0 || !count) {
        g->count = size;
    } else {
        size_t idx[S_MAX_AXES];
        for (uint64_t r = 0; r < size; r++)
            g->count += bt_grid_point(g, r, idx);
    }
    return g;
}

bt_grid_t *bt_grid_new(const bt_config_t *c, bool allow_huge, bt_errbuf_t *eb)
{
    return s_build(c, allow_huge, true, eb);
}

bt_err_t bt_grid_check(const bt_config_t *c, bt_errbuf_t *eb)
{
    bt_grid_t *g = s_build(c, true, false, eb);
    if (!g)
        return eb ? eb->code : BT_ECONFIG;
    bt_grid_destroy(&g);
    return BT_OK;
}

void bt_grid_destroy(bt_grid_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->cons);
    free(*self_p);
    *self_p = NULL;
}

uint64_t bt_grid_size(const bt_grid_t *g) { return g->size; }
uint64_t bt_grid_count(const bt_grid_t *g) { return g->count; }
size_t bt_grid_naxes(const bt_grid_t *g) { return g->naxes; }
const char *bt_grid_axis_key(const bt_grid_t *g, size_t a) { return g->spec->axes[a].key; }
size_t bt_grid_axis_len(const bt_grid_t *g, size_t a) { return g->len[a]; }

bool bt_grid_axis_is_symbols(const bt_grid_t *g, size_t a)
{
    return g->spec->axes[a].kind == BT_AXIS_SYMBOLS;
}

double bt_grid_axis_value(const bt_grid_t *g, size_t a, size_t j)
{
    return s_axis_value(&g->spec->axes[a], j);
}

const char *const *bt_grid_axis_symbols(const bt_grid_t *g, size_t a, size_t j, size_t *n)
{
    const bt_axis_spec_t *ax = &g->spec->axes[a];
    *n = ax->symset_len[j];
    return (const char *const *)ax->symsets[j];
}

static double s_eval(const bt_grid_t *g, const s_operand_t *o, const size_t *idx)
{
    return o->axis < 0 ? o->value : s_axis_value(&g->spec->axes[o->axis], idx[o->axis]);
}

bool bt_grid_point(const bt_grid_t *g, uint64_t raw, size_t *idx)
{
    for (size_t a = g->naxes; a-- > 0;) {
        idx[a] = (size_t)(raw % g->len[a]);
        raw /= g->len[a];
    }
    for (size_t i = 0; i < g->ncons; i++) {
        double l = s_eval(g, &g->cons[i].lhs, idx), r = s_eval(g, &g->cons[i].rhs, idx);
        bool ok = false;
        switch (g->cons[i].op) {
        case S_LT: ok = l < r; break;
        case S_LE: ok = l <= r; break;
        case S_GT: ok = l > r; break;
        case S_GE: ok = l >= r; break;
        case S_EQ: ok = l == r; break;
        case S_NE: ok = l != r; break;
        }
        if (!ok)
            return false;
    }
    return true;
}

bool bt_grid_next(const bt_grid_t *g, uint64_t *raw)
{
    size_t idx[S_MAX_AXES];
    for (uint64_t r = *raw; r < g->size; r++) {
        if (bt_grid_point(g, r, idx)) {
            *raw = r;
            return true;
        }
    }
    return false;
}

bt_err_t bt_grid_apply(const bt_grid_t *g, uint64_t raw, bt_config_t *c, bt_errbuf_t *eb)
{
    if (raw >= g->size)
        return bt_errf(eb, BT_EINVAL, "grid point %llu is beyond the grid (%llu points)",
                       (unsigned long long)raw, (unsigned long long)g->size);
    size_t idx[S_MAX_AXES];
    bt_grid_point(g, raw, idx);
    for (size_t a = 0; a < g->naxes; a++) {
        const bt_axis_spec_t *ax = &g->spec->axes[a];
        bt_err_t rc;
        if (ax->kind == BT_AXIS_SYMBOLS)
            rc = bt_config_set_symbols(c, (const char *const *)ax->symsets[idx[a]],
                                       ax->symset_len[idx[a]], eb);
        else
            rc = bt_config_set(c, ax->key, s_axis_value(ax, idx[a]), eb);
        if (rc)
            return rc;
    }
    return BT_OK;
}

char *bt_grid_label(const bt_grid_t *g, uint64_t raw, char *buf, size_t cap)
{
    size_t idx[S_MAX_AXES], off = 0;
    buf[0] = '\0';
    if (raw >= g->size)
        return buf;
    bt_grid_point(g, raw, idx);
    for (size_t a = 0; a < g->naxes && off < cap; a++) {
        const bt_axis_spec_t *ax = &g->spec->axes[a];
        if (ax->kind == BT_AXIS_SYMBOLS) {
            off += (size_t)snprintf(buf + off, cap - off, "%s%s=[", a ? " " : "", ax->key);
            for (size_t k = 0; k < ax->symset_len[idx[a]] && off < cap; k++)
                off += (size_t)snprintf(buf + off, cap - off, "%s%s", k ? "," : "",
                                        ax->symsets[idx[a]][k]);
            if (off < cap)
                off += (size_t)snprintf(buf + off, cap - off, "]");
        } else {
            off += (size_t)snprintf(buf + off, cap - off, "%s%s=%.10g", a ? " " : "", ax->key,
                                    s_axis_value(ax, idx[a]));
        }
    }
    return buf;
}
