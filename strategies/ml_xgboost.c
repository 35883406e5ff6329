/* ml_xgboost — gradient-boosted trees (XGBoost C API) predicting the sign of
 * the next `horizon`-bar return (SINGLE: one model per symbol's sleeve).
 *
 * Features at bar t, from bars <= t only: returns over 1, 5 and 20 bars, the
 * standard deviation of 1-bar returns over 20 bars, RSI(14)/100, the close's
 * distance from its SMA(20) and the bar's range (high - low) / close.
 * The row of bar s is labelled 1 when close_{s+horizon} > close_s, so at bar t
 * only rows s <= t - horizon have a label: the model trained at t uses the
 * last `train_window` of those, i.e. nothing after bar t, and it acts from the
 * next bar's open on. It is retrained every `retrain_every` bars.
 *
 * Trading: flat and P(up) > threshold -> long (+1); long and P(up) <
 * exit_threshold -> flat; with `short` the mirror image (P(up) < 1 -
 * threshold -> short, exit when P(up) > 1 - exit_threshold).
 *
 * Determinism: nthread = 1, tree_method exact and the `seed` parameter, so a
 * job gives the same orders at any engine thread or worker count.
 *
 * Allocation: XGBoost allocates inside a retrain (every retrain_every bars,
 * not every bar): the DMatrix and booster are created, trained, dumped and
 * freed within that on_bar call. The trees are copied into the state block
 * (a flat node array), and every bar's prediction walks them there: no
 * XGBoost object outlives a call, so the strategy needs no end-of-run hook. */
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xgboost/c_api.h>

#include "bt_indicators.h"
#include "bt_strat_util.h"
#include "bt_strategy.h"

/* libxgboost is opened when this strategy is first set up, not linked: every
 * bt and bt-worker start would otherwise map it and its dependencies (~7 ms
 * of each process start, measured; most runs never train a tree). The
 * prototypes come from the installed c_api.h, so a changed signature fails
 * to compile. */
#define S_XGB_FUNCS(X)                                                                            \
    X(XGDMatrixCreateFromMat) X(XGDMatrixSetFloatInfo) X(XGDMatrixFree) X(XGBoosterCreate)         \
    X(XGBoosterSetParam) X(XGBoosterUpdateOneIter) X(XGBoosterDumpModelEx) X(XGBoosterFree)
static struct {
#define S_XGB_PTR(f) __typeof__(f) *f;
    S_XGB_FUNCS(S_XGB_PTR)
#undef S_XGB_PTR
} s_xgb;
static pthread_once_t s_xgb_once = PTHREAD_ONCE_INIT;
static char s_xgb_err[300]; /* "" once bound */

static void s_xgb_bind(void)
{
    /* BT_XGBOOST_LIB: another build of the library (a path), else Debian's */
    const char *env = getenv("BT_XGBOOST_LIB");
    const char *names[] = {env && env[0] ? env : "libxgboost.so.0", "libxgboost.so"};
    void *h = NULL;
    size_t i = 0;
    for (; !h && i < (env && env[0] ? 1u : 2u); i++)
        h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(s_xgb_err, sizeof s_xgb_err, "%s", dlerror());
        return;
    }
    const char *name = names[i - 1];
#define S_XGB_SYM(f)                                                                               \
    if (!(*(void **)&s_xgb.f = dlsym(h, #f))) {                                                    \
        snprintf(s_xgb_err, sizeof s_xgb_err, "%s has no %s", name, #f);                           \
        dlclose(h);                                                                                \
        return;                                                                                    \
    }
    S_XGB_FUNCS(S_XGB_SYM)
#undef S_XGB_SYM
}

enum {
    P_TRAIN,
    P_RETRAIN,
    P_HORIZON,
    P_THRESHOLD,
    P_EXIT,
    P_ROUNDS,
    P_DEPTH,
    P_ETA,
    P_SUBSAMPLE,
    P_SEED,
    P_SHORT,
    P_COUNT
};

static const bt_param_spec_t s_params[P_COUNT] = {
    [P_TRAIN] = {"train_window", BT_PARAM_INT, 250, 20, 5000, "labelled rows the model trains on"},
    [P_RETRAIN] = {"retrain_every", BT_PARAM_INT, 20, 1, 5000, "bars between retrainings"},
    [P_HORIZON] = {"horizon", BT_PARAM_INT, 1, 1, 250, "label: close_{t+horizon} > close_t"},
    [P_THRESHOLD] = {"threshold", BT_PARAM_REAL, 0.55, 0.5, 1, "enter long when P(up) > this"},
    [P_EXIT] = {"exit_threshold", BT_PARAM_REAL, 0.5, 0, 1,
                "exit a long when P(up) < this (at most threshold)"},
    [P_ROUNDS] = {"rounds", BT_PARAM_INT, 50, 1, 500, "boosting rounds (trees)"},
    [P_DEPTH] = {"max_depth", BT_PARAM_INT, 3, 1, 8, "depth of each tree"},
    [P_ETA] = {"eta", BT_PARAM_REAL, 0.1, 0.001, 1, "learning rate"},
    [P_SUBSAMPLE] = {"subsample", BT_PARAM_REAL, 1, 0.1, 1, "row fraction sampled per tree"},
    [P_SEED] = {"seed", BT_PARAM_INT, 0, 0, 2147483647, "XGBoost random seed"},
    [P_SHORT] = {"short", BT_PARAM_INT, 0, 0, 1, "1 = also go short on P(up) < 1 - threshold"},
};

#define NFEAT 7

typedef struct {
    float value;     /* split threshold, or leaf value */
    int32_t feat;    /* feature index; -1 for a leaf */
    int32_t yes, no; /* children (absolute node indices) */
} s_node_t;

typedef struct {
    /* parameters */
    size_t train, retrain, horizon, rounds, depth;
    double threshold, exit, eta, subsample, seed;
    int shortable;
    /* features */
    bt_roc_t r1, r5, r20; /* returns over 1, 5, 20 bars */
    bt_rstd_t vol;        /* std of 1-bar returns over 20 */
    bt_rsi_t rsi;         /* RSI(14) */
    bt_sma_t sma;         /* SMA(20) of the close */
    /* history of rows: features and close of the last train + horizon bars */
    float *feat;     /* ring, cap x NFEAT */
    double *close;   /* ring, cap */
    size_t cap, pos; /* ring capacity, next slot */
    uint64_t rows;   /* rows stored so far */
    /* training scratch */
    float *x, *y; /* train x NFEAT, train */
    /* the model, copied out of XGBoost */
    s_node_t *nodes; /* rounds x per_tree */
    size_t per_tree; /* node slots per tree: 2^(depth+1) - 1 */
    size_t ntrees;   /* trees in the model; 0 = none yet */
    uint64_t since;  /* rows since the last training */
    int failed;      /* XGBoost failed: stay flat */
    double target;   /* last target signalled */
} s_state_t;

/* The next `bytes` (rounded to 8) of the state at base + *total; with a NULL
 * base only counts, so one layout function sizes and lays out the state. */
static void *s_take(unsigned char *base, size_t *total, size_t bytes)
{
    size_t at = *total;
    *total += bt_ind_round8(bytes);
    return base ? base + at : NULL;
}

static size_t s_layout(s_state_t *s, const double *p)
{
    size_t train = bt_su_window(p[P_TRAIN]), h = bt_su_window(p[P_HORIZON]);
    size_t rounds = bt_su_window(p[P_ROUNDS]), depth = bt_su_window(p[P_DEPTH]);
    if (depth > 8)
        depth = 8;
    size_t cap = train + h, per_tree = ((size_t)2 << depth) - 1;
    unsigned char *base = (unsigned char *)s;
    size_t total = 0;
    s_take(base, &total, sizeof(s_state_t));
    void *b1 = s_take(base, &total, bt_roc_size(1)), *b5 = s_take(base, &total, bt_roc_size(5));
    void *b20 = s_take(base, &total, bt_roc_size(20)), *bv = s_take(base, &total, bt_rstd_size(20));
    void *bs = s_take(base, &total, bt_sma_size(20));
    float *feat = s_take(base, &total, cap * NFEAT * sizeof(float));
    double *close = s_take(base, &total, cap * sizeof(double));
    float *x = s_take(base, &total, train * NFEAT * sizeof(float));
    float *y = s_take(base, &total, train * sizeof(float));
    s_node_t *nodes = s_take(base, &total, rounds * per_tree * sizeof(s_node_t));
    if (s) {
        s->train = train;
        s->retrain = bt_su_window(p[P_RETRAIN]);
        s->horizon = h;
        s->rounds = rounds;
        s->depth = depth;
        s->threshold = p[P_THRESHOLD];
        s->exit = p[P_EXIT];
        s->eta = p[P_ETA];
        s->subsample = p[P_SUBSAMPLE];
        s->seed = p[P_SEED];
        s->shortable = p[P_SHORT] >= 0.5;
        bt_roc_init(&s->r1, 1, b1);
        bt_roc_init(&s->r5, 5, b5);
        bt_roc_init(&s->r20, 20, b20);
        bt_rstd_init(&s->vol, 20, bv);
        bt_rsi_init(&s->rsi, 14);
        bt_sma_init(&s->sma, 20, bs);
        s->feat = feat;
        s->close = close;
        s->cap = cap;
        s->x = x;
        s->y = y;
        s->nodes = nodes;
        s->per_tree = per_tree;
    }
    return total;
}

static size_t s_state_size(const double *p, size_t nsym)
{
    (void)nsym;
    return s_layout(NULL, p);
}

static bt_err_t s_init(void *state, const double *p, size_t nsym, bt_errbuf_t *eb)
{
    (void)nsym;
    if (!(p[P_EXIT] <= p[P_THRESHOLD]))
        return bt_errf(eb, BT_ESTRATEGY,
                       "ml_xgboost: exit_threshold (%g) must be at most threshold (%g)", p[P_EXIT],
                       p[P_THRESHOLD]);
    pthread_once(&s_xgb_once, s_xgb_bind);
    if (s_xgb_err[0])
        return bt_errf(eb, BT_ESTRATEGY,
                       "ml_xgboost: cannot load the XGBoost library (%s); install Debian's "
                       "libxgboost0 (scripts/setup does)",
                       s_xgb_err);
    s_layout(state, p);
    return BT_OK;
}

/* Parses one tree of XGBoost's text dump into nodes[0 .. per_tree), e.g.
 *   0:[f2<0.0123] yes=1,no=2,missing=1
 *   	1:leaf=0.05
 * Returns false on anything unexpected. */
static bool s_parse_tree(const char *txt, s_node_t *nodes, size_t per_tree, size_t base)
{
    const char *p = txt;
    while (*p) {
        while (*p == '\t' || *p == ' ' || *p == '\n')
            p++;
        if (!*p)
            break;
        char *end;
        long id = strtol(p, &end, 10);
        if (end == p || *end != ':' || id < 0 || (size_t)id >= per_tree)
            return false;
        p = end + 1;
        s_node_t *nd = &nodes[id];
        if (strncmp(p, "leaf=", 5) == 0) {
            nd->value = strtof(p + 5, &end);
            nd->feat = -1;
            nd->yes = nd->no = -1;
        } else {
            long f, yes, no;
            if (p[0] != '[' || p[1] != 'f')
                return false;
            f = strtol(p + 2, &end, 10);
            if (*end != '<' || f < 0 || f >= NFEAT)
                return false;
            nd->value = strtof(end + 1, &end);
            if (strncmp(end, "] yes=", 6) != 0)
                return false;
            yes = strtol(end + 6, &end, 10);
            if (strncmp(end, ",no=", 4) != 0)
                return false;
            no = strtol(end + 4, &end, 10);
            if (yes < 0 || no < 0 || (size_t)yes >= per_tree || (size_t)no >= per_tree)
                return false;
            nd->feat = (int32_t)f;
            nd->yes = (int32_t)(base + (size_t)yes);
            nd->no = (int32_t)(base + (size_t)no);
        }
        while (*end && *end != '\n')
            end++;
        p = end;
    }
    return true;
}

/* Trains on the last `train` labelled rows; false if XGBoost failed. */
static bool s_train(s_state_t *s)
{
    /* Row s_i = rows - horizon - train + i (0-based count of rows), its label
     * is the close `horizon` rows later: both are inside the ring. */
    uint64_t first = s->rows - s->horizon - s->train;
    for (size_t i = 0; i < s->train; i++) {
        uint64_t r = first + i;
        size_t k = (size_t)(r % s->cap), kl = (size_t)((r + s->horizon) % s->cap);
        memcpy(&s->x[i * NFEAT], &s->feat[k * NFEAT], NFEAT * sizeof(float));
        s->y[i] = s->close[kl] > s->close[k] ? 1.0f : 0.0f;
    }
    DMatrixHandle dm = NULL;
    BoosterHandle bst = NULL;
    bool ok = s_xgb.XGDMatrixCreateFromMat(s->x, s->train, NFEAT, NAN, &dm) == 0 &&
              s_xgb.XGDMatrixSetFloatInfo(dm, "label", s->y, s->train) == 0 &&
              s_xgb.XGBoosterCreate(&dm, 1, &bst) == 0;
    char v[64];
    struct {
        const char *k;
        double v;
        int is_int;
    } kv[] = {{"max_depth", (double)s->depth, 1},
              {"eta", s->eta, 0},
              {"subsample", s->subsample, 0},
              {"seed", s->seed, 1},
              {"nthread", 1, 1},
              {"base_score", 0.5, 0},
              {"verbosity", 0, 1}};
    ok = ok && s_xgb.XGBoosterSetParam(bst, "objective", "binary:logistic") == 0 &&
         s_xgb.XGBoosterSetParam(bst, "tree_method", "exact") == 0;
    for (size_t i = 0; ok && i < sizeof kv / sizeof *kv; i++) {
        snprintf(v, sizeof v, kv[i].is_int ? "%.0f" : "%.17g", kv[i].v);
        ok = s_xgb.XGBoosterSetParam(bst, kv[i].k, v) == 0;
    }
    for (size_t it = 0; ok && it < s->rounds; it++)
        ok = s_xgb.XGBoosterUpdateOneIter(bst, (int)it, dm) == 0;
    bst_ulong n = 0;
    const char **dump = NULL;
    ok = ok && s_xgb.XGBoosterDumpModelEx(bst, "", 0, "text", &n, &dump) == 0 && n <= s->rounds;
    for (size_t t = 0; ok && t < n; t++)
        ok = s_parse_tree(dump[t], &s->nodes[t * s->per_tree], s->per_tree, t * s->per_tree);
    s->ntrees = ok ? (size_t)n : 0;
    if (bst)
        s_xgb.XGBoosterFree(bst);
    if (dm)
        s_xgb.XGDMatrixFree(dm);
    return ok;
}

/* P(up) for features f: the logistic of the summed leaves (base 0.5 -> 0). */
static double s_predict(const s_state_t *s, const float *f)
{
    double margin = 0.0;
    for (size_t t = 0; t < s->ntrees; t++) {
        const s_node_t *nd = s->nodes;
        int32_t i = (int32_t)(t * s->per_tree);
        while (nd[i].feat >= 0)
            i = f[nd[i].feat] < nd[i].value ? nd[i].yes : nd[i].no;
        margin += nd[i].value;
    }
    return 1.0 / (1.0 + exp(-margin));
}

static void s_on_bar(void *state, bt_ctx_t *ctx)
{
    s_state_t *s = state;
    if (!bt_su_has_bar(ctx))
        return;
    const bt_bar_t *b = &ctx->bar[0];
    double r1 = bt_roc_update(&s->r1, b->close);
    double r5 = bt_roc_update(&s->r5, b->close);
    double r20 = bt_roc_update(&s->r20, b->close);
    double vol = s->r1.ready ? bt_rstd_update(&s->vol, r1) : 0.0;
    double rsi = bt_rsi_update(&s->rsi, b->close);
    double sma = bt_sma_update(&s->sma, b->close);
    if (!(s->r20.ready && s->vol.ready && s->rsi.ready && s->sma.ready) || s->failed)
        return;
    size_t k = (size_t)(s->rows % s->cap);
    float *f = &s->feat[k * NFEAT];
    f[0] = (float)r1;
    f[1] = (float)r5;
    f[2] = (float)r20;
    f[3] = (float)vol;
    f[4] = (float)(rsi / 100.0);
    f[5] = (float)(sma != 0.0 ? b->close / sma - 1.0 : 0.0);
    f[6] = (float)(b->close != 0.0 ? (b->high - b->low) / b->close : 0.0);
    s->close[k] = b->close;
    s->rows++;
    s->since++;
    if (s->rows >= s->train + s->horizon && (s->ntrees == 0 || s->since >= s->retrain)) {
        s->since = 0;
        if (!s_train(s)) {
            s->failed = 1; /* an XGBoost error: go flat and stay out */
            bt_su_target(ctx, &s->target, 0.0);
            return;
        }
    }
    if (s->ntrees == 0)
        return;
    double pu = s_predict(s, f), t = s->target;
    if (t == 0.0) {
        if (pu > s->threshold)
            t = 1.0;
        else if (s->shortable && pu < 1.0 - s->threshold)
            t = -1.0;
    } else if (t > 0.0 && pu < s->exit) {
        t = 0.0;
    } else if (t < 0.0 && pu > 1.0 - s->exit) {
        t = 0.0;
    }
    bt_su_target(ctx, &s->target, t);
}

const bt_strategy_t bt_strategy_ml_xgboost = {
    .name = "ml_xgboost",
    .summary = "XGBoost classifier of the next return's sign from past-bar features, "
               "retrained on a rolling window; long (or short) past a probability threshold",
    .kind = BT_STRAT_SINGLE,
    .params = s_params,
    .nparams = P_COUNT,
    .state_size = s_state_size,
    .init = s_init,
    .on_bar = s_on_bar,
    .on_fill = NULL,
};
