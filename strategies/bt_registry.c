/* bt_registry — built-in strategy table and the shared-library loader. */
#include "bt_registry.h"

#include <dlfcn.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "bt_pystrat.h"

/* The built-ins, in the order `bt strategies` lists them. Adding one is one
 * line here plus its .c file defining `const bt_strategy_t bt_strategy_<name>`. */
#define BT_BUILTIN_STRATEGIES(X)                                                                   \
    X(sma_cross)                                                                                   \
    X(ema_cross)                                                                                   \
    X(rsi_reversion)                                                                               \
    X(bollinger_reversion)                                                                         \
    X(donchian_breakout)                                                                           \
    X(momentum_rotation)                                                                           \
    X(buy_and_hold)                                                                                \
    X(pairs_trading)                                                                               \
    X(ml_xgboost)                                                                                  

#define S_DECLARE(name) extern const bt_strategy_t bt_strategy_##name;
BT_BUILTIN_STRATEGIES(S_DECLARE)
#undef S_DECLARE

static const bt_strategy_t *const s_builtins[] = {
#define S_ENTRY(name) &bt_strategy_##name,
    BT_BUILTIN_STRATEGIES(S_ENTRY)
#undef S_ENTRY
};
#define S_NBUILTINS (sizeof s_builtins / sizeof s_builtins[0])

/* A strategy loaded from a shared library calls these in the program that
 * loaded it: reference them here so every program that can load one links
 * them in (strategies/CMakeLists.txt exports them with -rdynamic). */
typedef struct {
    void (*signal)(bt_ctx_t *, uint32_t, double);
    int64_t (*order)(bt_ctx_t *, const bt_order_req_t *);
    bool (*cancel)(bt_ctx_t *, int64_t);
} s_api_t;
__attribute__((used)) static const s_api_t s_api = {bt_signal, bt_order, bt_cancel};

const bt_strategy_t *bt_strategy_find(const char *name)
{
    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < S_NBUILTINS; i++)
        if (strcmp(s_builtins[i]->name, name) == 0)
            return s_builtins[i];
    return NULL;
}

size_t bt_strategy_count(void)
{
    return S_NBUILTINS;
}

const bt_strategy_t *bt_strategy_at(size_t i)
{
    return i < S_NBUILTINS ? s_builtins[i] : NULL;
}

const bt_strategy_t *const *bt_strategy_table(void)
{
    return s_builtins;
}

void bt_strategy_defaults(const bt_strategy_t *s, double *params)
{
    for (size_t i = 0; i < s->nparams; i++)
        params[i] = s->params[i].def;
}

int bt_strategy_param_index(const bt_strategy_t *s, const char *name)
{
    for (size_t i = 0; i < s->nparams; i++)
        if (strcmp(s->params[i].name, name) == 0)
            return (int)i;
    return -1;
}

static bool s_snake_case(const char *s)
{
    if (s == NULL || !(s[0] >= 'a' && s[0] <= 'z'))
        return false;
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return n <= 64;
}

static bool s_whole(double v)
{
    return isfinite(v) && v == floor(v);
}

bt_err_t bt_strategy_validate(const bt_strategy_t *s, bt_errbuf_t *eb)
{
    if (s == NULL)
        return bt_errf(eb, BT_ESTRATEGY, "strategy table is NULL");
    if (!s_snake_case(s->name))
        return bt_errf(eb, BT_ESTRATEGY,
                       "strategy name '%s' must be snake_case (a-z, 0-9, _; starting with a "
                       "letter; at most 64 characters)",
                       s->name ? s->name : "(null)");
    if (s->summary == NULL)
        return bt_errf(eb, BT_ESTRATEGY, "strategy %s: summary is NULL; give a one-line summary",
                       s->name);
    if (s->kind != BT_STRAT_SINGLE && s->kind != BT_STRAT_PORTFOLIO)
        return bt_errf(eb, BT_ESTRATEGY,
                       "strategy %s: kind %d is neither BT_STRAT_SINGLE nor BT_STRAT_PORTFOLIO",
                       s->name, (int)s->kind);
    if (s->state_size == NULL || s->init == NULL || s->on_bar == NULL)
        return bt_errf(eb, BT_ESTRATEGY,
                       "strategy %s: state_size, init and on_bar must all be set (on_fill may "
                       "be NULL)",
                       s->name);
    if (s->nparams > BT_MAX_PARAMS)
        return bt_errf(eb, BT_ESTRATEGY, "strategy %s: %zu parameters, at most %d are allowed",
                       s->name, s->nparams, BT_MAX_PARAMS);
    if (s->nparams > 0 && s->params == NULL)
        return bt_errf(eb, BT_ESTRATEGY, "strategy %s: nparams is %zu but params is NULL", s->name,
                       s->nparams);
    for (size_t i = 0; i < s->nparams; i++) {
        const bt_param_spec_t *p = &s->params[i];
        if (!s_snake_case(p->name))
            return bt_errf(eb, BT_ESTRATEGY,
                           "strategy %s: parameter %zu name '%s' must be "
                           "snake_case",
                           s->name, i, p->name ? p->name : "(null)");
        for (size_t j = 0; j < i; j++)
            if (strcmp(s->params[j].name, p->name) == 0)
                return bt_errf(eb, BT_ESTRATEGY, "strategy %s: parameter '%s' is declared twice",
                               s->name, p->name);
        if (p->type != BT_PARAM_INT && p->type != BT_PARAM_REAL)
            return bt_errf(eb, BT_ESTRATEGY, "strategy %s: parameter '%s' has unknown type %d",
                           s->name, p->name, (int)p->type);
        if (p->help == NULL)
            return bt_errf(eb, BT_ESTRATEGY, "strategy %s: parameter '%s' has no help line",
                           s->name, p->name);
        if (!isfinite(p->min) || !isfinite(p->max) || !isfinite(p->def) || !(p->min <= p->def) ||
            !(p->def <= p->max))
            return bt_errf(eb, BT_ESTRATEGY,
                           "strategy %s: parameter '%s' needs finite min <= default <= max "
                           "(got min %g, default %g, max %g)",
                           s->name, p->name, p->min, p->def, p->max);
        if (p->type == BT_PARAM_INT && !(s_whole(p->min) && s_whole(p->max) && s_whole(p->def)))
            return bt_errf(eb, BT_ESTRATEGY,
                           "strategy %s: INT parameter '%s' needs whole-number min, default and "
                           "max (got %g, %g, %g)",
                           s->name, p->name, p->min, p->def, p->max);
    }
    return BT_OK;
}

/* A Python strategy ("python:CLASS:PATH", bt_pystrat.h): its table is
 * checked like a library's, except that the name is the class name. */
static const bt_strategy_t *s_load_python(const char *spec, bt_errbuf_t *eb)
{
    const bt_strategy_t *s = bt_pystrat_load_spec(spec, eb);
    if (!s)
        return NULL;
    bt_strategy_t chk = *s;
    chk.name = "python_strategy";
    if (bt_strategy_validate(&chk, eb) != BT_OK)
        return NULL;
    return s;
}

const bt_strategy_t *bt_strategy_load(const char *path_so, bt_errbuf_t *eb)
{
    if (path_so && strncmp(path_so, BT_PYSTRAT_PREFIX, strlen(BT_PYSTRAT_PREFIX)) == 0)
        return s_load_python(path_so, eb);
    if (path_so == NULL || path_so[0] == '\0') {
        bt_errf(eb, BT_EINVAL, "strategy library path is empty; give the path of a .so file");
        return NULL;
    }
    if (strchr(path_so, '/') != NULL && access(path_so, F_OK) != 0) {
        bt_errf(eb, BT_ENOTFOUND,
                "cannot load strategy library '%s': no such file (a relative path is taken "
                "from the current directory; build it as in strategies/README.md)",
                path_so);
        return NULL;
    }
    dlerror();
    void *h = dlopen(path_so, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        const char *why = dlerror();
        if (strchr(path_so, '/') == NULL)
            bt_errf(eb, BT_ENOTFOUND,
                    "cannot load strategy library '%s': %s (a name without '/' is searched on "
                    "the library path; write ./%s for a file in this folder)",
                    path_so, why ? why : "unknown error", path_so);
        else
            bt_errf(eb, BT_ENOTFOUND,
                    "cannot load strategy library '%s': %s (it must be a shared library built "
                    "with -shared -fPIC; see strategies/README.md)",
                    path_so, why ? why : "unknown error");
        return NULL;
    }
    int (*abi)(void) = NULL;
    const bt_strategy_t *(*entry)(void) = NULL;
    *(void **)(&abi) = dlsym(h, "bt_strategy_abi");
    *(void **)(&entry) = dlsym(h, "bt_strategy_entry");
    if (abi == NULL) {
        bt_errf(
            eb, BT_ESTRATEGY,
            "strategy library '%s' does not export bt_strategy_abi(); add "
            "`int bt_strategy_abi(void) { return BT_STRATEGY_ABI; }` (see strategies/README.md)",
            path_so);
        goto fail;
    }
    int got = abi();
    if (got != BT_STRATEGY_ABI) {
        bt_errf(eb, BT_EVERSION,
                "strategy library '%s' was built for strategy ABI %d, this program uses ABI %d; "
                "rebuild it against this version's bt_strategy.h",
                path_so, got, BT_STRATEGY_ABI);
        goto fail;
    }
    if (entry == NULL) {
        bt_errf(eb, BT_ESTRATEGY,
                "strategy library '%s' does not export bt_strategy_entry(); add `const "
                "bt_strategy_t *bt_strategy_entry(void)` returning your table",
                path_so);
        goto fail;
    }
    const bt_strategy_t *s = entry();
    if (s == NULL) {
        bt_errf(eb, BT_ESTRATEGY, "strategy library '%s': bt_strategy_entry() returned NULL",
                path_so);
        goto fail;
    }
    bt_errbuf_t inner;
    bt_errbuf_clear(&inner);
    if (bt_strategy_validate(s, &inner) != BT_OK) {
        bt_errf(eb, BT_ESTRATEGY, "strategy library '%s': %s", path_so, inner.msg);
        goto fail;
    }
    return s; /* h stays open: the table and its code live in it */
fail:
    dlclose(h);
    return NULL;
}
