/* bt_config — YAML config loading, the settings table and validation. */
#include "bt_config.h"

#include <errno.h>
#include <libfyaml.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bt_metrics.h"
#include "bt_sha256.h"
#include "bt_time.h"
#include "bt_yaml.h"

#define S_MAX_FILE (1u << 20) /* a config file larger than 1 MiB is refused */
#define S_KEY_MAX 96

/* ---- The settings table ---- */

typedef enum { S_REAL = 0, S_INT, S_BOOL, S_ENUM, S_STRING, S_DATE, S_STRLIST } s_type_t;
/* Where a numeric setting lands in bt_engine_cfg_t (value * scale), or
 * S_L_NONE when s_finish handles it. */
typedef enum { S_L_NONE = 0, S_L_DOUBLE, S_L_INT, S_L_BOOL, S_L_ENUM } s_land_t;

typedef struct {
    const char *key;             /* dotted key */
    s_type_t type;
    double min, max;             /* inclusive bounds in user units (REAL, INT) */
    double def;                  /* default in user units (REAL, INT, BOOL, ENUM index) */
    const char *def_text;        /* default as written in YAML (for the reference) */
    const char *unit;            /* user unit, "" if none */
    double scale;                /* engine value = user value * scale */
    s_land_t land;
    size_t offset;               /* offsetof(bt_engine_cfg_t, field) when land != NONE */
    const char *const *choices;  /* ENUM: NULL-terminated */
    const char *help;            /* one line */
} s_setting_t;

static const char *const s_fill_choices[] = {"next_open", "same_close", NULL};
static const char *const s_sizing_choices[] = {"percent_equity", "percent_cash", "fixed",
                                               "target_weight", NULL};
static const char *const s_rebal_choices[] = {"none", "daily", "weekly", "monthly", NULL};
static const char *const s_order_choices[] = {"desc", "asc", NULL};

#define S_E(f) S_L_DOUBLE, offsetof(bt_engine_cfg_t, f)
#define S_EI(f) S_L_INT, offsetof(bt_engine_cfg_t, f)
#define S_EB(f) S_L_BOOL, offsetof(bt_engine_cfg_t, f)
#define S_EE(f) S_L_ENUM, offsetof(bt_engine_cfg_t, f)
#define S_NONE S_L_NONE, 0

/* Indices of the entries s_finish and the loader refer to by name. */
enum {
    S_STRATEGY = 0, S_LIBRARY, S_CAPITAL, S_RANK_BY, S_RANK_ORDER, S_TOP,
    S_STORE, S_SYMBOLS, S_START, S_END,
    S_FILL, S_SLIP, S_COMM_PCT, S_COMM_SHARE, S_COMM_MIN, S_VOLCAP, S_SHORT, S_MARGIN, S_MARGIN_REQ,
    S_SIZE_MODE, S_SIZE_PCT, S_SIZE_QTY, S_FRACTIONAL,
    S_MAX_POS, S_MAX_LEV, S_MAX_POSITIONS, S_STOP, S_TAKE, S_TRAIL, S_MAX_DD, S_REBAL,
    S_RF, S_CLOSE_END, S_PBO_BLOCKS, S_MAX_GRID,
    S_NSETTINGS
};

static const s_setting_t s_settings[S_NSETTINGS] = {
    [S_STRATEGY] = {"strategy", S_STRING, 0, 0, 0, "(required)", "", 1, S_NONE, NULL,
                    "strategy name: a built-in (see `bt strategies`) or the one in strategy_library"},
    [S_LIBRARY] = {"strategy_library", S_STRING, 0, 0, 0, "(none)", "path", 1, S_NONE, NULL,
                   "user strategy shared library (.so, strategies/README.md); a relative path is "
                   "taken from the current directory; sweep workers load the same path"},
    [S_STORE] = {"data.store", S_STRING, 0, 0, 0, "(required)", "path", 1, S_NONE, NULL,
                 "HDF5 bar store; a relative path is taken from the current directory"},
    [S_SYMBOLS] = {"data.symbols", S_STRLIST, 0, 0, 0, "all", "", 1, S_NONE, NULL,
                   "list of symbols to trade, or `all` (every symbol in the store, sorted)"},
    [S_START] = {"data.start", S_DATE, 0, 0, 0, "(first bar)", "date", 1, S_NONE, NULL,
                 "first bar time used, inclusive (YYYY-MM-DD[ HH:MM[:SS]])"},
    [S_END] = {"data.end", S_DATE, 0, 0, 0, "(last bar)", "date", 1, S_NONE, NULL,
               "last bar time used, inclusive; a bare date includes that whole day"},
    [S_CAPITAL] = {"capital", S_REAL, 1e-6, 1e15, 100000, "100000", "currency", 1,
                   S_E(initial_cash), NULL,
                   "starting cash of the whole account (single-symbol sleeves share it equally)"},
    [S_FILL] = {"execution.fill", S_ENUM, 0, 0, 0, "next_open", "", 1, S_EE(fill_at),
                s_fill_choices,
                "market orders decided at a bar's close fill at the next bar's open, or at that close"},
    [S_SLIP] = {"execution.slippage_bps", S_REAL, 0, 9999, 0, "0", "bps", 1, S_E(slippage_bps),
                NULL, "adverse price move applied to every fill"},
    [S_COMM_PCT] = {"execution.commission_pct", S_REAL, 0, 99.99, 0, "0", "percent", 0.01,
                    S_E(commission_rate), NULL, "commission as a percentage of traded value"},
    [S_COMM_SHARE] = {"execution.commission_per_share", S_REAL, 0, 1e6, 0, "0", "currency/unit",
                      1, S_E(commission_per_share), NULL, "commission per share/unit traded"},
    [S_COMM_MIN] = {"execution.commission_min", S_REAL, 0, 1e9, 0, "0", "currency", 1,
                    S_E(commission_min), NULL, "minimum commission per order"},
    [S_VOLCAP] = {"execution.volume_cap_pct", S_REAL, 0, 100, 0, "0", "percent", 0.01,
                  S_E(volume_cap), NULL,
                  "an order fills at most this percentage of a bar's volume (partial fills); 0 = off"},
    [S_SHORT] = {"execution.allow_short", S_BOOL, 0, 1, 0, "false", "", 1, S_EB(allow_short), NULL,
                 "sells below zero open short positions"},
    [S_MARGIN] = {"execution.allow_margin", S_BOOL, 0, 1, 0, "false", "", 1, S_EB(allow_margin),
                  NULL, "buys may cost more than the cash available"},
    [S_MARGIN_REQ] = {"execution.margin_requirement_pct", S_REAL, 0, 1000, 50, "50", "percent",
                      0.01, S_E(margin_requirement), NULL,
                      "equity that must cover short market value"},
    [S_SIZE_MODE] = {"sizing.mode", S_ENUM, 0, 0, 0, "percent_equity", "", 1, S_EE(sizing),
                     s_sizing_choices,
                     "what a signal of 1 means: a percentage of equity or cash, a fixed quantity, or the "
                     "signal is itself the target weight"},
    [S_SIZE_PCT] = {"sizing.value_pct", S_REAL, 0, 10000, 95, "95", "percent", 0.01, S_NONE, NULL,
                    "percent_equity / percent_cash: size of a signal of 1 (95 leaves room for a "
                    "gap up to the fill); target_weight ignores it"},
    [S_SIZE_QTY] = {"sizing.quantity", S_REAL, 0, 1e12, 1, "1", "units", 1, S_NONE, NULL,
                    "fixed: quantity for a signal of 1"},
    [S_FRACTIONAL] = {"sizing.fractional", S_BOOL, 0, 1, 0, "false", "", 1, S_EB(fractional), NULL,
                      "allow fractional quantities; otherwise whole units, rounded down"},
    [S_MAX_POS] = {"risk.max_position_pct", S_REAL, 0, 10000, 0, "0", "percent", 0.01,
                   S_E(max_position), NULL, "max absolute position value per symbol, % of equity; 0 = off"},
    [S_MAX_LEV] = {"risk.max_leverage", S_REAL, 0, 100, 0, "0", "ratio", 1, S_E(max_leverage),
                   NULL, "max gross exposure / equity; 0 = off"},
    [S_MAX_POSITIONS] = {"risk.max_positions", S_INT, 0, 1000000, 0, "0", "count", 1,
                         S_EI(max_positions), NULL, "max symbols held at once; 0 = off"},
    [S_STOP] = {"risk.stop_loss_pct", S_REAL, 0, 99.99, 0, "0", "percent", 0.01, S_E(stop_loss), NULL,
                "exit when price moves this far against the entry; 0 = off"},
    [S_TAKE] = {"risk.take_profit_pct", S_REAL, 0, 100000, 0, "0", "percent", 0.01,
                S_E(take_profit), NULL, "exit when price moves this far in favour; 0 = off"},
    [S_TRAIL] = {"risk.trailing_stop_pct", S_REAL, 0, 99.99, 0, "0", "percent", 0.01,
                 S_E(trailing_stop), NULL, "exit this far below the high-water mark; 0 = off"},
    [S_MAX_DD] = {"risk.max_drawdown_pct", S_REAL, 0, 99.99, 0, "0", "percent", 0.01,
                  S_E(max_drawdown), NULL,
                  "kill switch: flatten and stop trading at this drawdown; 0 = off"},
    [S_REBAL] = {"risk.rebalance", S_ENUM, 0, 0, 0, "none", "", 1, S_EE(rebalance), s_rebal_choices,
                 "re-apply the last target weights on this calendar"},
    [S_RF] = {"report.risk_free_rate_pct", S_REAL, -99.99, 100, 0, "0", "percent/year", 0.01,
              S_E(risk_free_rate), NULL, "annual risk-free rate for Sharpe and Sortino"},
    [S_CLOSE_END] = {"report.close_at_end", S_BOOL, 0, 1, 1, "true", "", 1, S_EB(close_at_end), NULL,
                     "close open positions at the last bar's close so every trade is counted"},
    [S_PBO_BLOCKS] = {"report.pbo_blocks", S_INT, 0, 32, 16, "16", "blocks", 1, S_EI(pbo_blocks),
                      NULL, "blocks for the probability of backtest overfitting (CSCV), even; "
                      "0 = off (docs/overfitting.md)"},
    [S_RANK_BY] = {"rank_by", S_STRING, 0, 0, 0, "sharpe", "metric", 1, S_NONE, NULL,
                   "metric that ranks sweep results (any name in docs/metrics.md)"},
    [S_RANK_ORDER] = {"rank_order", S_ENUM, 0, 0, 0, "(by metric)", "", 1, S_NONE, s_order_choices,
                      "desc = larger is better; default: desc, or asc for max_drawdown-like metrics"},
    [S_TOP] = {"top", S_INT, 0, 1000000, 20, "20", "rows", 1, S_NONE, NULL,
               "rows written to a sweep's ranking.csv, best first; 0 = all"},
    [S_MAX_GRID] = {"sweep.max_grid", S_INT, 1, 1e15, 1e7, "10000000", "points", 1,
                    S_NONE, NULL, "refuse a sweep grid larger than this (before pruning)"},
};

static const char *const s_sections[] = {"data", "execution", "sizing", "risk", "report", "params",
                                         "sweep", "walk_forward"};
#define S_NSECTIONS (sizeof s_sections / sizeof s_sections[0])

/* ---- The config ---- */

struct bt_config {
    char *path;                        /* as given (or the name of a string source) */
    char hash[65];                     /* sha256 of file bytes + overrides */
    double values[S_NSETTINGS];        /* numeric settings in user units */
    bool set[S_NSETTINGS];             /* given in the file or by --set */
    const bt_strategy_t *strategy;
    double params[BT_MAX_PARAMS];      /* strategy->nparams values */
    char *store;                       /* data.store */
    char *library;                     /* strategy_library as written, or NULL */
    char **symbols;                    /* data.symbols, NULL = all */
    size_t nsymbols;
    int64_t start, end;                /* data.start / data.end, INT64_MIN/MAX = open */
    int rank_by;                       /* metric index */
    bt_sweep_spec_t sweep;             /* parsed sweep: section */
    bt_wf_spec_t wf;                   /* parsed walk_forward: section (enabled = false if none) */
    bt_engine_cfg_t eng;               /* derived by s_finish */
};

/* One flattened key of the file or an override, with where it came from. */
typedef struct {
    char key[S_KEY_MAX];
    struct fy_node *node;
    int line;          /* 1-based line in the file; 0 for --set */
    const char *set;   /* the --set argument, or NULL */
} s_entry_t;

typedef struct {
    const char *name;      /* file name for messages */
    bt_config_t *c;
    s_entry_t *entries;
    size_t n, cap;
    struct fy_node *sweep; /* the sweep: mapping, if any */
    int sweep_line;
    struct fy_node *wf;    /* the walk_forward: mapping, if any */
    int wf_line;
    bt_errbuf_t *eb;
} s_loader_t;

/* ---- Small helpers ---- */

static char *s_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static char *s_strndup(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static int s_node_line(struct fy_node *n)
{
    struct fy_token *t = n ? fy_node_get_scalar_token(n) : NULL;
    const struct fy_mark *m = t ? fy_token_start_mark(t) : NULL;
    return m ? m->line + 1 : 0;
}

/* "FILE:LINE: KEY" or "--set K=V: KEY" into buf. */
static const char *s_where(const s_loader_t *ld, const s_entry_t *e, char *buf, size_t cap)
{
    if (e->set)
        snprintf(buf, cap, "--set %s: %s", e->set, e->key);
    else
        snprintf(buf, cap, "%s:%d: %s", ld->name, e->line, e->key);
    return buf;
}

static bt_err_t s_fail(s_loader_t *ld, const s_entry_t *e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bt_err_t s_fail(s_loader_t *ld, const s_entry_t *e, const char *fmt, ...)
{
    char where[512], what[640];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return bt_errf(ld->eb, BT_ECONFIG, "%s: %s", s_where(ld, e, where, sizeof where), what);
}

static size_t s_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 127 || lb > 127)
        return 1000;
    size_t row[128];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = diag + cost;
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static const char *s_last_part(const char *key)
{
    const char *dot = strrchr(key, '.');
    return dot ? dot + 1 : key;
}

const char *bt_config_closest(const char *word, const char *const *cands, size_t n)
{
    const char *best = NULL;
    size_t bestd = (size_t)-1;
    for (size_t i = 0; i < n; i++) {
        /* The same last part in another section ("commission_pct" for
         * "execution.commission_pct") is the best hint there is. */
        if (strcmp(s_last_part(word), s_last_part(cands[i])) == 0)
            return cands[i];
        size_t d = s_edit_distance(word, cands[i]);
        size_t d2 = s_edit_distance(s_last_part(word), s_last_part(cands[i])) + 1;
        if (d2 < d)
            d = d2;
        if (d < bestd) {
            bestd = d;
            best = cands[i];
        }
    }
    size_t len = strlen(word);
    size_t limit = len / 3 > 2 ? len / 3 : 2;
    return bestd <= limit ? best : NULL;
}

/* Scalar text of a node, or NULL if it is not a (non-null) scalar. */
static const char *s_scalar(struct fy_node *n, size_t *len)
{
    if (!n || fy_node_get_type(n) != FYNT_SCALAR || fy_node_is_null(n))
        return NULL;
    return fy_node_get_scalar(n, len);
}

static bool s_parse_double(const char *s, size_t len, double *out)
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

static const char *s_type_name(s_type_t t)
{
    static const char *const names[] = {"number", "whole number", "true or false", "choice",
                                        "text", "date", "list of names"};
    return names[t];
}

static void s_list_choices(const char *const *choices, char *buf, size_t cap)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; choices[i] && off < cap; i++)
        off += (size_t)snprintf(buf + off, cap - off, "%s%s", i ? ", " : "", choices[i]);
}

static int s_find_setting(const char *key)
{
    for (int i = 0; i < S_NSETTINGS; i++)
        if (strcmp(s_settings[i].key, key) == 0)
            return i;
    return -1;
}

static int s_find_param(const bt_strategy_t *st, const char *name)
{
    for (size_t i = 0; st && i < st->nparams; i++)
        if (strcmp(st->params[i].name, name) == 0)
            return (int)i;
    return -1;
}

static void s_param_names(const bt_strategy_t *st, char *buf, size_t cap)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < st->nparams && off < cap; i++)
        off += (size_t)snprintf(buf + off, cap - off, "%s%s", i ? ", " : "", st->params[i].name);
    if (st->nparams == 0)
        snprintf(buf, cap, "(none: %s takes no parameters)", st->name);
}

/* A numeric key's description: where its value lives and how to check it. */
typedef struct {
    s_type_t type;            /* REAL, INT, BOOL or ENUM */
    double min, max;
    const char *const *choices;
    double *slot;             /* the value in the config */
    int setting;              /* index in s_settings, or -1 for a parameter */
} s_num_t;

static bool s_numkey(bt_config_t *c, const char *key, s_num_t *d)
{
    if (strncmp(key, "params.", 7) == 0) {
        int p = s_find_param(c->strategy, key + 7);
        if (p < 0)
            return false;
        const bt_param_spec_t *ps = &c->strategy->params[p];
        *d = (s_num_t){ps->type == BT_PARAM_INT ? S_INT : S_REAL, ps->min, ps->max, NULL,
                       &c->params[p], -1};
        return true;
    }
    int i = s_find_setting(key);
    if (i < 0)
        return false;
    const s_setting_t *s = &s_settings[i];
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
    *d = (s_num_t){s->type, s->type == S_ENUM ? 0 : s->min, max, s->choices, &c->values[i], i};
    return true;
}

/* Checks v against d; fills why on failure. */
static bool s_num_ok(const s_num_t *d, double v, char *why, size_t cap)
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
static bt_err_t s_node_number(s_loader_t *ld, const s_entry_t *e, struct fy_node *n,
                              const s_num_t *d, double *out)
{
    size_t len = 0;
    const char *s = s_scalar(n, &len);
    if (!s)
        return s_fail(ld, e, "expected a %s, got %s", s_type_name(d->type),
                      n && fy_node_get_type(n) != FYNT_SCALAR ? "a list or mapping" : "nothing");
    double v = 0;
    if (d->type == S_BOOL) {
        static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
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
        return s_fail(ld, e, "expected true or false, got '%.*s'", (int)len, s);
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
        return s_fail(ld, e, "'%.*s' is not a valid choice; choose one of: %s", (int)len, s, list);
    }
    if (!s_parse_double(s, len, &v))
        return s_fail(ld, e, "expected a %s, got '%.*s'", s_type_name(d->type), (int)len, s);
    char why[160];
    if (!s_num_ok(d, v, why, sizeof why))
        return s_fail(ld, e, "%s", why);
    *out = v;
    return BT_OK;
}

/* ---- Flattening the YAML tree into dotted keys ---- */

static bool s_is_section(const char *key)
{
    for (size_t i = 0; i < S_NSECTIONS; i++)
        if (strcmp(key, s_sections[i]) == 0)
            return true;
    return false;
}

static s_entry_t *s_find_entry(s_loader_t *ld, const char *key)
{
    for (size_t i = 0; i < ld->n; i++)
        if (strcmp(ld->entries[i].key, key) == 0)
            return &ld->entries[i];
    return NULL;
}

static bt_err_t s_add_entry(s_loader_t *ld, const char *key, struct fy_node *node, int line,
                            const char *set)
{
    s_entry_t probe = {.line = line, .set = set};
    snprintf(probe.key, sizeof probe.key, "%s", key);
    if (strlen(key) >= S_KEY_MAX)
        return s_fail(ld, &probe, "key is too long");
    s_entry_t *old = s_find_entry(ld, key);
    if (old) {
        if (!set && !old->set)
            return s_fail(ld, &probe, "given twice (also on line %d); keep one", old->line);
        *old = probe;
        old->node = node;
        return BT_OK;
    }
    if (ld->n == ld->cap) {
        size_t cap = ld->cap ? ld->cap * 2 : 32;
        s_entry_t *e = realloc(ld->entries, cap * sizeof *e);
        if (!e)
            return bt_errf(ld->eb, BT_ENOMEM, "out of memory reading %s", ld->name);
        ld->entries = e;
        ld->cap = cap;
    }
    probe.node = node;
    ld->entries[ld->n++] = probe;
    return BT_OK;
}

static bt_err_t s_flatten(s_loader_t *ld, struct fy_node *map, const char *prefix)
{
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(map, &it)) != NULL) {
        struct fy_node *k = fy_node_pair_key(p), *v = fy_node_pair_value(p);
        size_t klen = 0;
        const char *ks = s_scalar(k, &klen);
        int line = s_node_line(k);
        if (!ks || klen == 0 || klen >= S_KEY_MAX)
            return bt_errf(ld->eb, BT_ECONFIG, "%s:%d: %s: keys must be short plain names",
                           ld->name, line, prefix[0] ? prefix : "(top level)");
        char full[S_KEY_MAX * 2];
        snprintf(full, sizeof full, "%s%s%.*s", prefix, prefix[0] ? "." : "", (int)klen, ks);
        s_entry_t here = {.line = line};
        snprintf(here.key, sizeof here.key, "%.*s", S_KEY_MAX - 1, full);
        if (strcmp(full, "walk_forward") == 0) {
            if (fy_node_get_type(v) != FYNT_MAPPING)
                return s_fail(ld, &here, "expected a mapping, e.g. walk_forward: {train: 3y, "
                                         "test: 6m, step: 6m, mode: rolling}");
            ld->wf = v;
            ld->wf_line = line;
            continue;
        }
        if (strcmp(full, "sweep") == 0) {
            if (fy_node_get_type(v) != FYNT_MAPPING)
                return s_fail(ld, &here, "expected a mapping of dotted keys to lists or ranges, "
                                         "e.g. sweep: {params.fast: [5, 10, 20]}");
            ld->sweep = v;
            ld->sweep_line = line;
            struct fy_node *mg = fy_node_mapping_lookup_by_string(v, "max_grid", 8);
            if (mg) {
                bt_err_t rc = s_add_entry(ld, "sweep.max_grid", mg, line, NULL);
                if (rc)
                    return rc;
                ld->entries[ld->n - 1].line = s_node_line(mg) ? s_node_line(mg) : line;
            }
            continue;
        }
        if (s_is_section(full)) {
            if (fy_node_get_type(v) != FYNT_MAPPING)
                return s_fail(ld, &here, "is a section: expected a mapping of keys below it");
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
        keys[i] = s_settings[i].key;
    *n = S_NSETTINGS;
    return keys;
}

static bt_err_t s_unknown_key(s_loader_t *ld, const s_entry_t *e)
{
    size_t n;
    const char *const *keys = s_all_keys(&n);
    const char *best = bt_config_closest(e->key, keys, n);
    if (!strchr(e->key, '.') && e->node && fy_node_get_type(e->node) == FYNT_MAPPING) {
        const char *sec = bt_config_closest(e->key, s_sections, S_NSECTIONS);
        if (sec)
            return s_fail(ld, e, "unknown section; did you mean '%s:'? (keys: configs/README.md)",
                          sec);
    }
    if (best)
        return s_fail(ld, e, "unknown key; did you mean '%s'? (keys: configs/README.md)", best);
    return s_fail(ld, e, "unknown key; the valid keys are listed in configs/README.md");
}

static bt_err_t s_apply_string(s_loader_t *ld, const s_entry_t *e, char **dst)
{
    size_t len = 0;
    const char *s = s_scalar(e->node, &len);
    if (!s || len == 0)
        return s_fail(ld, e, "expected text, got %s", s ? "an empty value" : "no value or a list");
    if (memchr(s, '\0', len))
        return s_fail(ld, e, "text must not contain NUL bytes");
    char *d = s_strndup(s, len);
    if (!d)
        return bt_errf(ld->eb, BT_ENOMEM, "out of memory");
    free(*dst);
    *dst = d;
    return BT_OK;
}

static bt_err_t s_apply_date(s_loader_t *ld, const s_entry_t *e, bool is_end, int64_t *dst)
{
    size_t len = 0;
    const char *s = s_scalar(e->node, &len);
    int64_t t = 0;
    if (!s || !bt_time_parse(s, len, &t))
        return s_fail(ld, e, "expected a date YYYY-MM-DD (optionally ' HH:MM[:SS]'), got '%.*s'",
                      s ? (int)len : 0, s ? s : "");
    if (is_end && len == 10)
        t += BT_NS_PER_DAY - 1; /* a bare end date includes that whole day */
    *dst = t;
    return BT_OK;
}

static void s_free_strv(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

/* Parses a symbol list node (sequence of names) into a new array. */
static bt_err_t s_parse_symbols(s_loader_t *ld, const s_entry_t *e, struct fy_node *n,
                                char ***out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    size_t len = 0;
    const char *s = s_scalar(n, &len);
    if (s && len == 3 && strncmp(s, "all", 3) == 0)
        return BT_OK;
    if (!n || fy_node_get_type(n) != FYNT_SEQUENCE)
        return s_fail(ld, e, "expected a list of symbols like [AAA, BBB] or the word all");
    int cnt = fy_node_sequence_item_count(n);
    if (cnt <= 0)
        return s_fail(ld, e, "the symbol list is empty; list symbols or write all");
    if (cnt > BT_CONFIG_MAX_SYMBOLS)
        return s_fail(ld, e, "%d symbols is more than the limit of %d", cnt, BT_CONFIG_MAX_SYMBOLS);
    char **v = calloc((size_t)cnt, sizeof *v);
    if (!v)
        return bt_errf(ld->eb, BT_ENOMEM, "out of memory");
    void *it = NULL;
    struct fy_node *item;
    size_t k = 0;
    while ((item = fy_node_sequence_iterate(n, &it)) != NULL) {
        const char *sym = s_scalar(item, &len);
        if (!sym || len == 0 || len >= BT_SYMBOL_MAX || memchr(sym, '\0', len)) {
            s_free_strv(v, k);
            return s_fail(ld, e, "symbol %zu must be a name of 1 to %d characters", k + 1,
                          BT_SYMBOL_MAX - 1);
        }
        for (size_t j = 0; j < k; j++) {
            if (strlen(v[j]) == len && strncmp(v[j], sym, len) == 0) {
                s_free_strv(v, k);
                return s_fail(ld, e, "symbol '%.*s' is listed twice", (int)len, sym);
            }
        }
        v[k] = s_strndup(sym, len);
        if (!v[k]) {
            s_free_strv(v, k);
            return bt_errf(ld->eb, BT_ENOMEM, "out of memory");
        }
        k++;
    }
    *out = v;
    *nout = k;
    return BT_OK;
}

static bt_err_t s_apply_entry(s_loader_t *ld, const s_entry_t *e)
{
    bt_config_t *c = ld->c;
    int i = s_find_setting(e->key);
    if (i < 0)
        return s_unknown_key(ld, e);
    const s_setting_t *s = &s_settings[i];
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
        } else if (i == S_LIBRARY) {
            free(c->library);
            c->library = tmp;
        } else if (i == S_RANK_BY) {
            int m = bt_metrics_find(tmp);
            if (m < 0) {
                const char *names[64];
                size_t nm = bt_metrics_count() < 64 ? bt_metrics_count() : 64;
                for (size_t k = 0; k < nm; k++)
                    names[k] = bt_metrics_name(k);
                const char *best = bt_config_closest(tmp, names, nm);
                rc = s_fail(ld, e, "'%s' is not a metric%s%s%s (see docs/metrics.md)", tmp,
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
        rc = s_parse_symbols(ld, e, e->node, &v, &n);
        if (rc)
            return rc;
        s_free_strv(c->symbols, c->nsymbols);
        c->symbols = v;
        c->nsymbols = n;
        break;
    }
    default: {
        s_num_t d;
        if (!s_numkey(c, e->key, &d)) {
            /* rank_order: an enum that is not a sweep axis */
            d = (s_num_t){S_ENUM, 0, 1, s->choices, &c->values[i], i};
        }
        rc = s_node_number(ld, e, e->node, &d, d.slot);
        break;
    }
    }
    if (rc == BT_OK)
        c->set[i] = true;
    return rc;
}

static bt_err_t s_apply_param(s_loader_t *ld, const s_entry_t *e)
{
    bt_config_t *c = ld->c;
    const char *name = e->key + 7;
    s_num_t d;
    if (strchr(name, '.') || !s_numkey(c, e->key, &d)) {
        char list[512];
        s_param_names(c->strategy, list, sizeof list);
        const char *cand[BT_MAX_PARAMS];
        for (size_t k = 0; k < c->strategy->nparams; k++)
            cand[k] = c->strategy->params[k].name;
        const char *best = bt_config_closest(name, cand, c->strategy->nparams);
        return s_fail(ld, e, "%s has no parameter '%s'%s%s%s; valid parameters: %s",
                      c->strategy->name, name, best ? " (did you mean '" : "", best ? best : "",
                      best ? "'?)" : "", list);
    }
    return s_node_number(ld, e, e->node, &d, d.slot);
}

/* ---- The walk_forward section (docs/walkforward.md) ---- */

static bt_err_t s_parse_wf(s_loader_t *ld)
{
    bt_wf_spec_t *wf = &ld->c->wf;
    memset(wf, 0, sizeof *wf);
    bool have_train = false, have_test = false, have_step = false;
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(ld->wf, &it)) != NULL) {
        struct fy_node *k = fy_node_pair_key(p), *v = fy_node_pair_value(p);
        size_t klen = 0, vlen = 0;
        const char *ks = s_scalar(k, &klen);
        const char *vs = s_scalar(v, &vlen);
        s_entry_t e = {.line = s_node_line(k) ? s_node_line(k) : ld->wf_line};
        snprintf(e.key, sizeof e.key, "walk_forward.%.*s", ks ? (int)klen : 0, ks ? ks : "");
        if (!ks)
            return s_fail(ld, &e, "expected train, test, step or mode");
        bool is_mode = klen == 4 && memcmp(ks, "mode", 4) == 0;
        if (is_mode) {
            if (vs && vlen == 7 && memcmp(vs, "rolling", 7) == 0)
                wf->anchored = false;
            else if (vs && vlen == 8 && memcmp(vs, "anchored", 8) == 0)
                wf->anchored = true;
            else
                return s_fail(ld, &e, "expected rolling or anchored");
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
            return s_fail(ld, &e, "unknown key; walk_forward: takes train, test, step and mode");
        if (!vs || !bt_wf_parse_len(vs, vlen, dst))
            return s_fail(ld, &e, "expected a length: a whole number of bars (500 or 500b) or "
                                  "of days, weeks, months, years (20d, 2w, 6m, 3y)");
        *have = true;
    }
    s_entry_t top = {.line = ld->wf_line};
    snprintf(top.key, sizeof top.key, "walk_forward");
    if (!have_train || !have_test)
        return s_fail(ld, &top, "train and test are required, e.g. walk_forward: {train: 3y, "
                                "test: 6m}");
    if (!have_step)
        wf->step = wf->test;
    wf->enabled = true;
    bt_errbuf_t eb;
    if (bt_wf_check(wf, &eb) != BT_OK)
        return s_fail(ld, &top, "%s", eb.msg + strlen("walk_forward: "));
    return BT_OK;
}

/* ---- The sweep section ---- */

static void s_sweep_free(bt_sweep_spec_t *sw)
{
    for (size_t a = 0; a < sw->naxes; a++) {
        bt_axis_spec_t *ax = &sw->axes[a];
        free(ax->values);
        for (size_t k = 0; k < ax->nsets; k++)
            s_free_strv(ax->symsets[k], ax->symset_len[k]);
        free(ax->symsets);
        free(ax->symset_len);
    }
    free(sw->axes);
    s_free_strv(sw->constraints, sw->nconstraints);
    free(sw->constraint_lines);
    memset(sw, 0, sizeof *sw);
}

#define S_MAX_AXIS_POINTS 10000000.0

static bt_err_t s_range_num(s_loader_t *ld, const s_entry_t *e, struct fy_node *map,
                            const char *name, double *out)
{
    struct fy_node *n = fy_node_mapping_lookup_by_string(map, name, strlen(name));
    size_t len = 0;
    const char *s = s_scalar(n, &len);
    if (!s)
        return s_fail(ld, e, "a range needs '%s' (write {from: A, to: B, step: S})", name);
    if (!s_parse_double(s, len, out))
        return s_fail(ld, e, "range %s: expected a number, got '%.*s'", name, (int)len, s);
    return BT_OK;
}

static bt_err_t s_parse_axis(s_loader_t *ld, const s_entry_t *e, struct fy_node *v,
                             bt_axis_spec_t *ax)
{
    bt_config_t *c = ld->c;
    snprintf(ax->key, sizeof ax->key, "%s", e->key);
    ax->line = e->line;
    if (strcmp(e->key, "data.symbols") == 0) {
        ax->kind = BT_AXIS_SYMBOLS;
        if (fy_node_get_type(v) != FYNT_SEQUENCE || fy_node_sequence_item_count(v) <= 0)
            return s_fail(ld, e, "expected a list of symbol lists, e.g. [[AAA], [AAA, BBB]]");
        size_t n = (size_t)fy_node_sequence_item_count(v);
        ax->symsets = calloc(n, sizeof *ax->symsets);
        ax->symset_len = calloc(n, sizeof *ax->symset_len);
        if (!ax->symsets || !ax->symset_len)
            return bt_errf(ld->eb, BT_ENOMEM, "out of memory");
        void *it = NULL;
        struct fy_node *item;
        while ((item = fy_node_sequence_iterate(v, &it)) != NULL) {
            bt_err_t rc = s_parse_symbols(ld, e, item, &ax->symsets[ax->nsets],
                                          &ax->symset_len[ax->nsets]);
            if (rc)
                return rc;
            ax->nsets++;
        }
        return BT_OK;
    }
    s_num_t d;
    if (!s_numkey(c, e->key, &d)) {
        if (strncmp(e->key, "params.", 7) == 0)
            return s_apply_param(ld, e); /* gives the unknown-parameter message */
        if (s_find_setting(e->key) >= 0)
            return s_fail(ld, e, "is not numeric, so it cannot be a sweep axis (only data.symbols "
                                 "among the text keys can)");
        return s_unknown_key(ld, e);
    }
    char why[160];
    if (fy_node_get_type(v) == FYNT_SEQUENCE) {
        ax->kind = BT_AXIS_LIST;
        int n = fy_node_sequence_item_count(v);
        if (n <= 0)
            return s_fail(ld, e, "the list of values is empty");
        ax->values = calloc((size_t)n, sizeof *ax->values);
        if (!ax->values)
            return bt_errf(ld->eb, BT_ENOMEM, "out of memory");
        void *it = NULL;
        struct fy_node *item;
        while ((item = fy_node_sequence_iterate(v, &it)) != NULL) {
            s_entry_t ie = *e;
            if (s_node_line(item))
                ie.line = s_node_line(item);
            bt_err_t rc = s_node_number(ld, &ie, item, &d, &ax->values[ax->nvalues]);
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
            const char *k = s_scalar(fy_node_pair_key(p), &len);
            if (!k || !((len == 4 && strncmp(k, "from", 4) == 0) ||
                        (len == 2 && strncmp(k, "to", 2) == 0) ||
                        (len == 4 && strncmp(k, "step", 4) == 0)))
                return s_fail(ld, e, "a range takes only from, to and step (got '%.*s')",
                              k ? (int)len : 0, k ? k : "");
        }
        bt_err_t rc;
        if ((rc = s_range_num(ld, e, v, "from", &ax->from)) ||
            (rc = s_range_num(ld, e, v, "to", &ax->to)) ||
            (rc = s_range_num(ld, e, v, "step", &ax->step)))
            return rc;
        if (!(ax->step > 0))
            return s_fail(ld, e, "range step must be greater than 0 (got %.15g)", ax->step);
        if (ax->to < ax->from)
            return s_fail(ld, e, "range 'to' (%.15g) is below 'from' (%.15g)", ax->to, ax->from);
        double span = (ax->to - ax->from) / ax->step;
        if (span + 1 > S_MAX_AXIS_POINTS)
            return s_fail(ld, e, "the range has more than %.0f points; use a larger step",
                          S_MAX_AXIS_POINTS);
        if (!s_num_ok(&d, ax->from, why, sizeof why))
            return s_fail(ld, e, "range from: %s", why);
        if (d.type != S_REAL && ax->step != floor(ax->step))
            return s_fail(ld, e, "range step must be a whole number for this key (got %.15g)",
                          ax->step);
        size_t n = (size_t)floor(span + 1e-9 * (span > 1 ? span : 1)) + 1;
        double last = ax->from + (double)(n - 1) * ax->step;
        if (!s_num_ok(&d, last, why, sizeof why))
            return s_fail(ld, e, "range to: %s", why);
        ax->nvalues = n;
        return BT_OK;
    }
    return s_fail(ld, e, "a sweep axis is a list [a, b, c] or a range {from: A, to: B, step: S}");
}

static bt_err_t s_parse_sweep(s_loader_t *ld)
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
        const char *ks = s_scalar(k, &len);
        s_entry_t e = {.line = s_node_line(k)};
        snprintf(e.key, sizeof e.key, "sweep.%.*s", ks ? (int)len : 0, ks ? ks : "");
        if (!ks || len == 0 || len >= S_KEY_MAX - 8)
            return s_fail(ld, &e, "sweep keys are dotted setting names like params.fast");
        if (len == 8 && strncmp(ks, "max_grid", 8) == 0)
            continue;
        if (len == 11 && strncmp(ks, "constraints", 11) == 0) {
            if (fy_node_get_type(v) != FYNT_SEQUENCE)
                return s_fail(ld, &e, "expected a list of comparisons like "
                                      "[\"params.fast < params.slow\"]");
            size_t n = (size_t)fy_node_sequence_item_count(v);
            sw->constraints = calloc(n ? n : 1, sizeof *sw->constraints);
            sw->constraint_lines = calloc(n ? n : 1, sizeof *sw->constraint_lines);
            if (!sw->constraints || !sw->constraint_lines)
                return bt_errf(ld->eb, BT_ENOMEM, "out of memory");
            void *it2 = NULL;
            struct fy_node *item;
            while ((item = fy_node_sequence_iterate(v, &it2)) != NULL) {
                const char *cs = s_scalar(item, &len);
                if (!cs)
                    return s_fail(ld, &e, "each constraint is one comparison in quotes");
                sw->constraints[sw->nconstraints] = s_strndup(cs, len);
                if (!sw->constraints[sw->nconstraints])
                    return bt_errf(ld->eb, BT_ENOMEM, "out of memory");
                sw->constraint_lines[sw->nconstraints++] =
                    s_node_line(item) ? s_node_line(item) : e.line;
            }
            continue;
        }
        snprintf(e.key, sizeof e.key, "%.*s", (int)len, ks);
        bt_err_t rc = s_parse_axis(ld, &e, v, &sw->axes[sw->naxes]);
        sw->naxes++; /* counted even on failure so that s_sweep_free frees it */
        if (rc)
            return rc;
    }
    return BT_OK;
}

/* ---- Derived values ---- */

static void s_finish(bt_config_t *c)
{
    bt_engine_cfg_t *eng = &c->eng;
    for (int i = 0; i < S_NSETTINGS; i++) {
        const s_setting_t *s = &s_settings[i];
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
    eng->size_value = eng->sizing == BT_SIZE_FIXED ? c->values[S_SIZE_QTY]
                                                   : c->values[S_SIZE_PCT] * 0.01;
    eng->start = c->start;
    eng->end = c->end;
    eng->trade_start = INT64_MIN; /* no warm-up unless a caller sets it (walk-forward tests) */
}

_Static_assert(sizeof(bt_fill_at_t) == sizeof(int) && sizeof(bt_sizing_t) == sizeof(int) &&
                   sizeof(bt_rebalance_t) == sizeof(int),
               "enums of bt_engine_cfg_t are written as int");

static bt_config_t *s_config_new(const char *name)
{
    bt_config_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->path = s_strdup(name);
    if (!c->path) {
        free(c);
        return NULL;
    }
    for (int i = 0; i < S_NSETTINGS; i++)
        c->values[i] = s_settings[i].def;
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
    s_free_strv(c->symbols, c->nsymbols);
    s_sweep_free(&c->sweep);
    free(c);
    *self_p = NULL;
}

/* ---- Loading ---- */

/* strategy_library: loads it and checks it provides the strategy named by
 * strategy:. A relative path is made "./path" so dlopen takes it from the
 * current directory rather than searching the library path. */
static bt_err_t s_load_library(s_loader_t *ld, const s_entry_t *se, const char *sn, size_t snlen,
                               bt_config_lib_fn load_lib)
{
    bt_config_t *c = ld->c;
    const s_entry_t *le = s_find_entry(ld, "strategy_library");
    if (!load_lib)
        return s_fail(ld, le, "this program cannot load strategy libraries; use 'bt run' or "
                              "'bt sweep'");
    if (c->library[0] == '\0')
        return s_fail(ld, le, "is empty; give the path of a .so file");
    char path[4200];
    if (strchr(c->library, '/') == NULL)
        snprintf(path, sizeof path, "./%s", c->library);
    else
        snprintf(path, sizeof path, "%s", c->library);
    bt_errbuf_t leb;
    bt_errbuf_clear(&leb);
    const bt_strategy_t *st = load_lib(path, &leb);
    if (!st)
        return s_fail(ld, le, "%s", leb.msg);
    if (!sn || strlen(st->name) != snlen || strncmp(st->name, sn, snlen) != 0)
        return s_fail(ld, se, "'%.*s' is not the strategy in strategy_library %s, which is "
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
    s_loader_t ld = {.name = name, .c = c, .eb = eb};
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
        rc = bt_errf(eb, BT_ECONFIG, "%s:1: the top level must be a mapping of keys "
                                     "(strategy:, data:, ...)", name);
        goto fail;
    }
    if ((rc = s_flatten(&ld, root, "")) != BT_OK)
        goto fail;

    /* --set key=value: value parsed as YAML, replaces the file's value */
    for (size_t i = 0; i < noverrides; i++) {
        const char *o = overrides[i];
        const char *eq = strchr(o, '=');
        s_entry_t oe = {.set = o};
        snprintf(oe.key, sizeof oe.key, "%.*s", eq ? (int)(eq - o) : (int)strlen(o), o);
        if (!eq || eq == o) {
            rc = bt_errf(eb, BT_ECONFIG, "--set %s: expected key=value, e.g. --set params.fast=12",
                         o);
            goto fail;
        }
        if (strncmp(oe.key, "sweep.", 6) == 0 && strcmp(oe.key, "sweep.max_grid") != 0) {
            rc = s_fail(&ld, &oe, "sweep axes cannot be set with --set; edit the sweep: section");
            goto fail;
        }
        if (strcmp(oe.key, "walk_forward") == 0 || strncmp(oe.key, "walk_forward.", 13) == 0) {
            rc = s_fail(&ld, &oe, "walk_forward cannot be set with --set; edit the "
                                  "walk_forward: section of the file");
            goto fail;
        }
        char where[512];
        snprintf(where, sizeof where, "--set %s", o);
        ovdocs[i] = bt_yaml_parse(eq + 1, strlen(eq + 1), where, eb);
        if (!ovdocs[i]) {
            if (eq[1] == '\0')
                rc = s_fail(&ld, &oe, "has no value after '='");
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
    const s_entry_t *se = s_find_entry(&ld, "strategy");
    char names[1024];
    size_t off = 0;
    names[0] = '\0';
    for (size_t i = 0; i < nstrategies && off < sizeof names; i++)
        off += (size_t)snprintf(names + off, sizeof names - off, "%s%s", i ? ", " : "",
                                strategies[i]->name);
    if (!se) {
        rc = bt_errf(eb, BT_ECONFIG, "%s: strategy: missing required key; add e.g. "
                                     "'strategy: sma_cross' (built-in: %s)", name, names);
        goto fail;
    }
    if (!s_find_entry(&ld, "data.store")) {
        rc = bt_errf(eb, BT_ECONFIG, "%s: data.store: missing required key; add "
                                     "'data: {store: path/to/bars.h5}'", name);
        goto fail;
    }
    {
        size_t len0 = 0;
        const char *sn = s_scalar(se->node, &len0);
        if (c->library && (rc = s_load_library(&ld, se, sn, len0, load_lib)) != BT_OK)
            goto fail;
        for (size_t i = 0; sn && !c->library && i < nstrategies; i++) {
            if (strlen(strategies[i]->name) == len0 && strncmp(strategies[i]->name, sn, len0) == 0)
                c->strategy = strategies[i];
        }
        if (!c->strategy) {
            rc = s_fail(&ld, se, "unknown strategy '%.*s'; built-in: %s (a user strategy also "
                                 "needs 'strategy_library: path/to/lib.so')",
                        sn ? (int)len0 : 0, sn ? sn : "", names);
            goto fail;
        }
        if (c->strategy->nparams > BT_MAX_PARAMS) {
            rc = s_fail(&ld, se, "strategy declares %zu parameters, more than %d",
                        c->strategy->nparams, BT_MAX_PARAMS);
            goto fail;
        }
    }
    for (size_t i = 0; i < c->strategy->nparams; i++)
        c->params[i] = c->strategy->params[i].def;
    for (size_t i = 0; i < ld.n; i++) {
        if (strncmp(ld.entries[i].key, "params.", 7) != 0)
            continue;
        if ((rc = s_apply_param(&ld, &ld.entries[i])) != BT_OK)
            goto fail;
    }
    if (c->start != INT64_MIN && c->end != INT64_MAX && c->start > c->end) {
        const s_entry_t *ee = s_find_entry(&ld, "data.end");
        rc = s_fail(&ld, ee, "the end date is before data.start");
        goto fail;
    }
    if (!c->set[S_RANK_ORDER])
        c->values[S_RANK_ORDER] = bt_metrics_higher_is_better((size_t)c->rank_by) ? 0 : 1;
    if (ld.sweep && (rc = s_parse_sweep(&ld)) != BT_OK)
        goto fail;
    if (ld.wf && (rc = s_parse_wf(&ld)) != BT_OK)
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

bt_config_t *bt_config_load_string(const char *yaml, const char *name,
                                   const char *const *overrides, size_t noverrides,
                                   const bt_strategy_t *const *strategies, size_t nstrategies,
                                   bt_errbuf_t *eb)
{
    return bt_config_load_string_lib(yaml, name, overrides, noverrides, strategies, nstrategies,
                                     NULL, eb);
}

bt_config_t *bt_config_load_string_lib(const char *yaml, const char *name,
                                       const char *const *overrides, size_t noverrides,
                                       const bt_strategy_t *const *strategies,
                                       size_t nstrategies, bt_config_lib_fn load_lib,
                                       bt_errbuf_t *eb)
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

bt_config_t *bt_config_load_lib(const char *path, const char *const *overrides,
                                size_t noverrides, const bt_strategy_t *const *strategies,
                                size_t nstrategies, bt_config_lib_fn load_lib, bt_errbuf_t *eb)
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
        bt_errf(eb, BT_ELIMIT, "%s: config is larger than %u bytes; is this the right file?",
                path, S_MAX_FILE);
        return NULL;
    }
    buf[n] = '\0';
    bt_config_t *c =
        s_load(buf, n, path, overrides, noverrides, strategies, nstrategies, load_lib, eb);
    free(buf);
    return c;
}

/* ---- Copy, accessors, set/get ---- */

static char **s_strv_dup(char *const *v, size_t n)
{
    char **d = calloc(n ? n : 1, sizeof *d);
    if (!d)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        d[i] = s_strdup(v[i]);
        if (!d[i]) {
            s_free_strv(d, i);
            return NULL;
        }
    }
    return d;
}

static bool s_sweep_dup(bt_sweep_spec_t *d, const bt_sweep_spec_t *s)
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
                    da->symsets[k] = s_strv_dup(sa->symsets[k], sa->symset_len[k]);
                    if (!da->symsets[k])
                        return false;
                    da->symset_len[k] = sa->symset_len[k];
                    da->nsets = k + 1;
                }
            }
        }
    }
    if (s->nconstraints) {
        d->constraints = s_strv_dup(s->constraints, s->nconstraints);
        d->constraint_lines = malloc(s->nconstraints * sizeof *d->constraint_lines);
        if (!d->constraints || !d->constraint_lines)
            return false;
        d->nconstraints = s->nconstraints;
        memcpy(d->constraint_lines, s->constraint_lines, s->nconstraints * sizeof(int));
    }
    return true;
}

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
    bool ok = (c->path = s_strdup(src->path)) != NULL &&
              (!src->store || (c->store = s_strdup(src->store)) != NULL) &&
              (!src->library || (c->library = s_strdup(src->library)) != NULL);
    if (ok && src->symbols) {
        c->symbols = s_strv_dup(src->symbols, src->nsymbols);
        ok = c->symbols != NULL;
        if (ok)
            c->nsymbols = src->nsymbols;
    }
    if (ok)
        ok = s_sweep_dup(&c->sweep, &src->sweep);
    if (!ok)
        bt_config_destroy(&c);
    return c;
}

const char *bt_config_path(const bt_config_t *c) { return c->path; }
const char *bt_config_hash(const bt_config_t *c) { return c->hash; }
const bt_engine_cfg_t *bt_config_engine(const bt_config_t *c) { return &c->eng; }
const bt_strategy_t *bt_config_strategy(const bt_config_t *c) { return c->strategy; }
const double *bt_config_params(const bt_config_t *c) { return c->params; }
const char *bt_config_store(const bt_config_t *c) { return c->store; }
const char *bt_config_library(const bt_config_t *c) { return c->library; }
const bt_sweep_spec_t *bt_config_sweep(const bt_config_t *c) { return &c->sweep; }
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
int bt_config_rank_by(const bt_config_t *c) { return c->rank_by; }
bool bt_config_rank_desc(const bt_config_t *c) { return c->values[S_RANK_ORDER] == 0; }
int bt_config_top(const bt_config_t *c) { return (int)c->values[S_TOP]; }
uint64_t bt_config_max_grid(const bt_config_t *c) { return (uint64_t)c->values[S_MAX_GRID]; }

const char *const *bt_config_symbols(const bt_config_t *c, size_t *n)
{
    *n = c->nsymbols;
    return (const char *const *)c->symbols;
}

bool bt_config_key_is_numeric(const bt_config_t *c, const char *key)
{
    s_num_t d;
    return s_numkey((bt_config_t *)c, key, &d);
}

bt_err_t bt_config_set(bt_config_t *c, const char *key, double value, bt_errbuf_t *eb)
{
    s_num_t d;
    if (!s_numkey(c, key, &d))
        return bt_errf(eb, BT_ECONFIG, "%s: %s is not a numeric key of this config", c->path, key);
    char why[160];
    if (!s_num_ok(&d, value, why, sizeof why))
        return bt_errf(eb, BT_ECONFIG, "%s: %s: %s", c->path, key, why);
    *d.slot = value;
    if (d.setting >= 0)
        c->set[d.setting] = true;
    s_finish(c);
    return BT_OK;
}

bt_err_t bt_config_get(const bt_config_t *c, const char *key, double *value, bt_errbuf_t *eb)
{
    s_num_t d;
    if (!s_numkey((bt_config_t *)c, key, &d))
        return bt_errf(eb, BT_ECONFIG, "%s: %s is not a numeric key of this config", c->path, key);
    *value = *d.slot;
    return BT_OK;
}

bt_err_t bt_config_set_symbols(bt_config_t *c, const char *const *symbols, size_t n,
                               bt_errbuf_t *eb)
{
    char **v = NULL;
    if (n) {
        v = s_strv_dup((char *const *)symbols, n);
        if (!v)
            return bt_errf(eb, BT_ENOMEM, "out of memory");
    }
    s_free_strv(c->symbols, c->nsymbols);
    c->symbols = v;
    c->nsymbols = n;
    return BT_OK;
}

/* ---- Reference ---- */

void bt_config_write_reference(FILE *out)
{
    char section[32] = "-";
    for (int i = 0; i < S_NSETTINGS; i++) {
        const s_setting_t *s = &s_settings[i];
        const char *dot = strchr(s->key, '.');
        char sec[32];
        snprintf(sec, sizeof sec, "%.*s", dot ? (int)(dot - s->key) : 0, s->key);
        if (strcmp(section, sec) != 0) {
            snprintf(section, sizeof section, "%s", sec);
            if (sec[0])
                fprintf(out, "\n### `%s:`\n\n", sec);
            else
                fprintf(out, "\n### top level\n\n");
            fprintf(out, "| key | type | default | bounds | unit | meaning |\n"
                         "| --- | --- | --- | --- | --- | --- |\n");
        }
        char bounds[128] = "";
        if (s->type == S_REAL || s->type == S_INT)
            snprintf(bounds, sizeof bounds, "%.15g .. %.15g", s->min, s->max);
        else if (s->type == S_ENUM) {
            size_t off = 0;
            for (size_t k = 0; s->choices[k] && off < sizeof bounds; k++)
                off += (size_t)snprintf(bounds + off, sizeof bounds - off, "%s`%s`",
                                        k ? " / " : "", s->choices[k]);
        }
        char conv[64] = "";
        if (s->scale != 1.0)
            snprintf(conv, sizeof conv, " (engine: x%g)", s->scale);
        fprintf(out, "| `%s` | %s | %s | %s | %s%s | %s |\n", s->key, s_type_name(s->type),
                s->def_text, bounds, s->unit, conv, s->help);
    }
}
