/* bt_book — a book's arrays and its set-up for one run. See bt_book.h. */
#include "bt_book.h"

#include <stdlib.h>
#include <string.h>

#include "bt_alloc.h"
#include "bt_feed.h"

#define S_ALIGN_UP(x) (((x) + 63) & ~(size_t)63)

/* Bytes of the arena for dims d: every array of the table, 64-byte aligned. */
static size_t s_arena_size(const bt_book_dims_t *d)
{
    size_t total = 0;
#define S_SIZE(comp, field, type, count, reset) total += S_ALIGN_UP(d->count * sizeof(type));
    BT_BOOK_ARRAYS(S_SIZE)
#undef S_SIZE
    return total;
}

/* Points every array of the table into the arena and applies its reset. */
static void s_carve(bt_book_t *bk)
{
    const bt_book_dims_t *d = &bk->dims;
    char *p = bk->arena;
#define S_CARVE(comp, field, type, count, reset)                                                  \
    do {                                                                                         \
        size_t sz = d->count * sizeof(type);                                                     \
        bk->comp.field = sz ? (type *)(void *)p : NULL;                                          \
        if (sz && (reset) != BT_BOOK_KEEP)                                                       \
            memset(p, (reset), sz);                                                              \
        p += S_ALIGN_UP(sz);                                                                     \
    } while (0);
    BT_BOOK_ARRAYS(S_CARVE)
#undef S_CARVE
}

/* Sizes the book's arrays for this run; false on allocation failure. */
static bool s_alloc(bt_book_t *bk, size_t nsym, size_t ncurve, bool store_cash, bool want_fills)
{
    bt_book_dims_t *d = &bk->dims;
    d->nsym = nsym;
    d->ocap = BT_BOOK_ORDER_BASE + BT_BOOK_ORDER_PER_SYM * nsym;
    d->fcap = want_fills ? 2 * d->ocap + 2 * nsym + 8 : 0;
    d->ncurve = ncurve;
    d->ncash = store_cash ? ncurve : 0;
    size_t total = s_arena_size(d);
    if (total > bk->arena_cap) {
        bt_aligned_free(bk->arena);
        bk->arena = bt_aligned_alloc(total);
        bk->arena_cap = bk->arena ? total : 0;
        if (!bk->arena)
            return false;
    }
    s_carve(bk);
    return true;
}

bt_err_t bt_book_setup(bt_book_t *bk, const bt_run_spec_t *spec, size_t nsym, uint32_t sym0,
                       size_t book_index, double initial, bool multi, bt_errbuf_t *eb)
{
    const bt_engine_cfg_t *c = spec->cfg;
    size_t ncurve = 0;
    if (multi) {
        bt_series_t v = bt_series_slice_time(&spec->series[sym0], c->start, c->end);
        ncurve = v.n;
    }
    if (!s_alloc(bk, nsym, ncurve, multi && spec->rec, spec->on_step != NULL))
        return bt_errf(eb, BT_ENOMEM, "out of memory for the engine's book (%zu symbols)", nsym);
    bk->cfg = c;
    bk->strat = spec->strategy;
    bk->nsym = nsym;
    bk->sym0 = sym0;
    bk->book_index = book_index;
    bt_feed_open(bk, spec->series + sym0);
    bk->pf.initial = initial;
    bk->pf.cash = bk->pf.equity = bk->pf.peak = initial;
    bk->pf.nheld = 0;
    bk->risk.killed = false;
    bk->risk.acct = NULL; /* bt_engine sets it for account-scope sleeves */
    bk->risk.mdd = multi && c->risk_scope == BT_RISK_ACCOUNT ? 0.0 : c->max_drawdown;
    bk->risk.has_exits = c->stop_loss > 0 || c->take_profit > 0 || c->trailing_stop > 0;
    bk->risk.rebal_flag = c->rebalance == BT_REBAL_DAILY     ? BT_CAL_NEW_DAY
                          : c->rebalance == BT_REBAL_WEEKLY  ? BT_CAL_NEW_WEEK
                          : c->rebalance == BT_REBAL_MONTHLY ? BT_CAL_NEW_MONTH
                                                             : 0u;
    bk->exec.nord = 0;
    bk->exec.nfills = 0;
    bk->exec.next_id = 1;
    bk->exec.nfill_total = 0;
    bk->stream_steps = !multi;
    bt_macc_init(&bk->macc, initial);
    bk->err = BT_OK;
    bk->on_step = spec->on_step;
    bk->on_step_user = spec->on_step_user;
    bk->on_step_fills = spec->on_step_fills;
    if (!spec->rec) {
        bk->rec = NULL;
    } else if (multi) {
        bt_recorder_clear(&bk->local);
        bk->rec = &bk->local;
    } else {
        bk->rec = spec->rec;
    }
    bk->rec_equity = spec->rec && !multi;
    /* strategy state: zeroed, 64-byte aligned */
    size_t ssz = S_ALIGN_UP(spec->strategy->state_size
                                ? spec->strategy->state_size(spec->params, nsym) + 1
                                : 64);
    if (ssz > bk->state_cap) {
        bt_aligned_free(bk->state);
        bk->state = bt_aligned_alloc(ssz);
        bk->state_cap = bk->state ? ssz : 0;
        if (!bk->state)
            return bt_errf(eb, BT_ENOMEM, "out of memory for strategy state (%zu bytes)", ssz);
    } else {
        memset(bk->state, 0, ssz); /* the bytes this run's strategy can see */
    }
    memset(&bk->ctx, 0, sizeof bk->ctx);
    bk->ctx.nsym = nsym;
    bk->ctx.bar = bk->feed.bar;
    bk->ctx.has_bar = bk->feed.has_bar;
    bk->ctx.position = bk->pf.pos;
    bk->ctx.cash = initial;
    bk->ctx.equity = initial;
    bk->ctx.engine = bk;
    bt_errbuf_t seb;
    bt_errbuf_clear(&seb);
    bt_err_t rc = spec->strategy->init(bk->state, spec->params, nsym, &seb);
    if (rc != BT_OK)
        return bt_errf(eb, BT_ESTRATEGY, "strategy %s: %s", spec->strategy->name,
                       seb.msg[0] ? seb.msg : bt_strerror(rc));
    return BT_OK;
}

void bt_book_fini(bt_book_t *bk)
{
    bt_aligned_free(bk->arena);
    bt_aligned_free(bk->state);
    bt_recorder_fini(&bk->local);
    bk->arena = bk->state = NULL;
    bk->arena_cap = bk->state_cap = 0;
}
