/* bt_live — a run stepped bar by bar. See bt_live.h. */
#include "bt_live.h"

#include <stdlib.h>
#include <string.h>

#include "bt_alloc.h"
#include "bt_book.h"
#include "bt_loop.h"

/* The bars a symbol has had so far: the series the books read (ATR
 * trails, sizing at the fill look back), as a backtest's series. */
typedef struct {
    int64_t *t;
    double *o, *h, *l, *c, *v;
    size_t n, cap;
} s_hist_t;

struct bt_live {
    bt_engine_cfg_t cfg;     /* the run's config, live-adjusted */
    bt_book_t *books;        /* nbooks, 64-byte aligned */
    size_t nbooks;
    size_t nsym;
    bt_recorder_t *recs;     /* one per book */
    bt_series_t *empty;      /* nsym empty series (the books' series before the first bar) */
    s_hist_t *hist;          /* nsym: bars so far */
    size_t steps;
    int64_t last;            /* time of the last step */
    bt_account_t acct;       /* risk.scope: account — the sleeves in lockstep */
    bool account;            /* acct is in use */
};

static void s_on_step(void *user, const bt_step_info_t *info)
{
    (void)user;
    (void)info; /* the fills stay in the book's arrays; read after the step */
}

bt_live_t *bt_live_new(const bt_strategy_t *st, const double *params, const bt_engine_cfg_t *cfg,
                       size_t nsym, bt_errbuf_t *eb)
{
    if (!st || !cfg || nsym == 0 || nsym > UINT32_MAX) {
        bt_errf(eb, BT_EINVAL, "bt_live_new: a strategy, a config and 1.. symbols are needed");
        return NULL;
    }
    bt_live_t *lv = calloc(1, sizeof *lv);
    if (!lv) {
        bt_errf(eb, BT_ENOMEM, "out of memory");
        return NULL;
    }
    lv->cfg = *cfg;
    lv->cfg.start = INT64_MIN;
    lv->cfg.end = INT64_MAX;
    lv->cfg.close_at_end = false;
    lv->cfg.pbo_blocks = 0;
    lv->nsym = nsym;
    lv->last = INT64_MIN;
    bool sleeves = st->kind == BT_STRAT_SINGLE && nsym > 1;
    lv->nbooks = sleeves ? nsym : 1;
    lv->books = bt_aligned_alloc(lv->nbooks * sizeof *lv->books);
    lv->recs = calloc(lv->nbooks, sizeof *lv->recs);
    lv->empty = calloc(nsym, sizeof *lv->empty);
    lv->hist = calloc(nsym, sizeof *lv->hist);
    if (!lv->books || !lv->recs || !lv->empty || !lv->hist) {
        bt_errf(eb, BT_ENOMEM, "out of memory");
        bt_live_destroy(&lv);
        return NULL;
    }
    memset(lv->books, 0, lv->nbooks * sizeof *lv->books);
    static const int64_t no_time[1] = {0};
    static const double no_val[1] = {0};
    for (size_t s = 0; s < nsym; s++)
        lv->empty[s] = (bt_series_t){.n = 0, .time = no_time, .open = no_val, .high = no_val,
                                     .low = no_val, .close = no_val, .volume = no_val};
    for (size_t b = 0; b < lv->nbooks; b++) {
        bt_recorder_init(&lv->recs[b]);
        bt_run_spec_t spec = {.series = lv->empty, .nsym = nsym, .strategy = st,
                              .params = params, .cfg = &lv->cfg, .threads = 1,
                              .rec = &lv->recs[b], .on_step = s_on_step};
        double cash = sleeves ? cfg->initial_cash / (double)nsym : cfg->initial_cash;
        /* multi = false: each sleeve records into its own recorder, equity included */
        if (bt_book_setup(&lv->books[b], &spec, sleeves ? 1 : nsym, sleeves ? (uint32_t)b : 0, b,
                          cash, false, eb) != BT_OK) {
            bt_live_destroy(&lv);
            return NULL;
        }
    }
    /* risk.scope: account with a limit: the sleeves share the limits and step
     * in lockstep, as bt_engine does (bt_loop_account_step) */
    lv->account = sleeves && cfg->risk_scope == BT_RISK_ACCOUNT &&
                  (cfg->max_drawdown > 0 || cfg->max_leverage > 0 || cfg->max_positions > 0 ||
                   cfg->max_position > 0);
    if (lv->account) {
        lv->acct = (bt_account_t){lv->books, lv->nbooks, cfg->initial_cash, false};
        for (size_t b = 0; b < lv->nbooks; b++) {
            lv->books[b].risk.acct = &lv->acct;
            lv->books[b].risk.mdd = 0.0; /* the account's kill switch instead */
        }
    }
    return lv;
}

void bt_live_destroy(bt_live_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bt_live_t *lv = *self_p;
    for (size_t b = 0; lv->books && b < lv->nbooks; b++)
        bt_book_fini(&lv->books[b]);
    for (size_t b = 0; lv->recs && b < lv->nbooks; b++)
        bt_recorder_fini(&lv->recs[b]);
    bt_aligned_free(lv->books);
    free(lv->recs);
    free(lv->empty);
    for (size_t s = 0; lv->hist && s < lv->nsym; s++) {
        s_hist_t *h = &lv->hist[s];
        free(h->t);
        free(h->o);
        free(h->h);
        free(h->l);
        free(h->c);
        free(h->v);
    }
    free(lv->hist);
    free(lv);
    *self_p = NULL;
}

static bool s_hist_push(s_hist_t *h, int64_t t, const bt_bar_t *b)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 1024;
        int64_t *nt = realloc(h->t, cap * sizeof *nt);
        if (nt)
            h->t = nt;
        double **col[5] = {&h->o, &h->h, &h->l, &h->c, &h->v};
        bool ok = nt != NULL;
        for (int k = 0; k < 5 && ok; k++) {
            double *nc = realloc(*col[k], cap * sizeof *nc);
            if (nc)
                *col[k] = nc;
            ok = nc != NULL;
        }
        if (!ok)
            return false;
        h->cap = cap;
    }
    h->t[h->n] = t;
    h->o[h->n] = b->open;
    h->h[h->n] = b->high;
    h->l[h->n] = b->low;
    h->c[h->n] = b->close;
    h->v[h->n] = b->volume;
    h->n++;
    return true;
}

bt_err_t bt_live_step(bt_live_t *lv, int64_t t, const bt_bar_t *bars, const uint8_t *has,
                      bt_errbuf_t *eb)
{
    if (lv->steps > 0 && t <= lv->last)
        return bt_errf(eb, BT_EINVAL, "bt_live_step: time goes backwards or repeats");
    for (size_t s = 0; s < lv->nsym; s++)
        if (has[s] && !s_hist_push(&lv->hist[s], t, &bars[s]))
            return bt_errf(eb, BT_ENOMEM, "out of memory for the bars of the paper run");
    bool any_book = false;
    for (size_t b = 0; b < lv->nbooks; b++) {
        bt_book_t *bk = &lv->books[b];
        bt_feed_state_t *f = &bk->feed;
        bool any = false;
        for (size_t k = 0; k < bk->nsym; k++) {
            size_t s = bk->sym0 + k;
            const s_hist_t *h = &lv->hist[s];
            bt_series_t *sr = &f->ser[k]; /* as bt_feed's: idx the current bar, else the next */
            if (h->n) {
                sr->n = h->n;
                sr->time = h->t;
                sr->open = h->o;
                sr->high = h->h;
                sr->low = h->l;
                sr->close = h->c;
                sr->volume = h->v;
            }
            f->idx[k] = has[s] ? h->n - 1 : h->n;
            f->has_bar[k] = has[s] != 0;
            if (has[s]) {
                f->bar[k] = bars[s];
                f->bar[k].time = t;
                f->close[k] = bars[s].close;
                any = true;
            }
        }
        f->last_step = false;
        any_book = any_book || any;
        if (!lv->account && any) /* a sleeve steps only on its own bars, as in a backtest */
            bt_loop_step(bk, t);
    }
    if (lv->account && any_book)
        bt_loop_account_step(&lv->acct, t); /* sleeves are one symbol: has_bar[0] */
    for (size_t b = 0; b < lv->nbooks; b++) {
        bt_book_t *bk = &lv->books[b];
        for (size_t k = 0; k < bk->nsym; k++)
            if (bk->feed.has_bar[k])
                bk->feed.prev_time[k] = t;
        if (bk->err != BT_OK)
            return bt_errf(eb, bk->err, "out of memory while recording the paper run");
    }
    lv->steps++;
    lv->last = t;
    return BT_OK;
}

size_t bt_live_steps(const bt_live_t *lv)
{
    return lv->steps;
}

int64_t bt_live_last_time(const bt_live_t *lv)
{
    return lv->steps ? lv->last : INT64_MIN;
}

size_t bt_live_nbooks(const bt_live_t *lv)
{
    return lv->nbooks;
}

const bt_recorder_t *bt_live_recorder(const bt_live_t *lv, size_t b)
{
    return &lv->recs[b];
}

const bt_step_fill_t *bt_live_fills(const bt_live_t *lv, size_t b, size_t *n)
{
    *n = lv->books[b].exec.nfills;
    return lv->books[b].exec.fills;
}

double bt_live_cash(const bt_live_t *lv)
{
    double c = 0;
    for (size_t b = 0; b < lv->nbooks; b++)
        c += lv->books[b].pf.cash;
    return c;
}

double bt_live_equity(const bt_live_t *lv)
{
    double e = 0;
    for (size_t b = 0; b < lv->nbooks; b++)
        e += lv->books[b].pf.equity;
    return e;
}

double bt_live_position(const bt_live_t *lv, size_t sym)
{
    for (size_t b = 0; b < lv->nbooks; b++) {
        const bt_book_t *bk = &lv->books[b];
        if (sym >= bk->sym0 && sym < bk->sym0 + bk->nsym)
            return bk->pf.pos[sym - bk->sym0];
    }
    return 0;
}
