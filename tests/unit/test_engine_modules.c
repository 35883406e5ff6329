/* Unit tests of the engine's internal modules (docs/engine.md "Modules"):
 * the book's array table (bt_book), the order-type table (bt_exec), the
 * calendar flags (bt_feed) and the account (bt_portfolio). Behaviour
 * through the public API is tested in the other test_engine_*.c. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdint.h>
#include <string.h>

#include "bt_book.h"
#include "bt_exec.h"
#include "bt_feed.h"
#include "bt_portfolio.h"
#include "bt_time.h"

/* ---- a book on a tiny series, with a strategy that does nothing ---- */

static bt_err_t s_init(void *state, const double *params, size_t nsym, bt_errbuf_t *eb)
{
    return BT_OK;
}

static void s_on_bar(void *state, bt_ctx_t *ctx)
{
}

static const bt_strategy_t s_idle = {.name = "idle", .kind = BT_STRAT_SINGLE,
                                     .init = s_init, .on_bar = s_on_bar};

#define S_N 4
static int64_t s_t[S_N];
static double s_px[S_N] = {100, 101, 102, 103};
static double s_vol[S_N] = {1000, 1000, 1000, 1000};

static bt_series_t s_series(void)
{
    for (int i = 0; i < S_N; i++)
        s_t[i] = (bt_days_from_civil(2024, 1, 1) + i) * BT_NS_PER_DAY;
    bt_series_t s;
    memset(&s, 0, sizeof s);
    s.n = S_N;
    s.time = s_t;
    s.open = s.high = s.low = s.close = s_px;
    s.volume = s_vol;
    return s;
}

static void s_setup(bt_book_t *bk, const bt_series_t *ser, size_t nsym, bool multi,
                    bt_recorder_t *rec, bt_engine_cfg_t *cfg)
{
    bt_engine_cfg_defaults(cfg);
    bt_run_spec_t spec = {.series = ser, .nsym = nsym, .strategy = &s_idle, .cfg = cfg,
                          .rec = rec};
    bt_errbuf_t eb;
    bt_errbuf_clear(&eb);
    cr_assert_eq(bt_book_setup(bk, &spec, multi ? 1 : nsym, 0, 0, cfg->initial_cash, multi, &eb),
                 BT_OK, "%s", eb.msg);
}

/* Every array of the table: 64-byte aligned, NULL exactly when its count is
 * 0, inside the arena, and reset to its byte (curves are not reset; the
 * series views are written by bt_feed_open after the reset). */
static void s_check_arrays(const bt_book_t *bk)
{
    const bt_book_dims_t *d = &bk->dims;
    const char *lo = bk->arena, *hi = lo + bk->arena_cap;
#define S_CHECK(comp, field, type, count, reset)                                                  \
    do {                                                                                         \
        const unsigned char *p = (const unsigned char *)bk->comp.field;                          \
        size_t sz = d->count * sizeof(type);                                                     \
        cr_assert_eq(p == NULL, sz == 0, #comp "." #field ": NULL iff empty");                   \
        if (p) {                                                                                 \
            cr_assert_eq((uintptr_t)p % 64, 0, #comp "." #field " is not 64-byte aligned");     \
            cr_assert((const char *)p >= lo && (const char *)p + sz <= hi, #field " in arena"); \
            bool filled = (const void *)p == (const void *)bk->feed.ser; /* by bt_feed_open */  \
            for (size_t k = 0; (reset) != BT_BOOK_KEEP && !filled && k < sz; k++)                \
                cr_assert_eq(p[k], (unsigned char)(reset), #comp "." #field " byte %zu", k);     \
        }                                                                                        \
    } while (0);
    BT_BOOK_ARRAYS(S_CHECK)
#undef S_CHECK
}

Test(engine_book, arrays_from_the_table)
{
    bt_series_t ser[3] = {s_series(), s_series(), s_series()};
    bt_engine_cfg_t cfg;
    bt_book_t bk;
    memset(&bk, 0, sizeof bk);

    /* a PORTFOLIO-style book on 3 symbols: no curves, no fills slots */
    s_setup(&bk, ser, 3, false, NULL, &cfg);
    cr_assert_eq(bk.dims.nsym, 3);
    cr_assert_eq(bk.dims.ocap, BT_BOOK_ORDER_BASE + 3 * BT_BOOK_ORDER_PER_SYM);
    cr_assert_eq(bk.dims.fcap, 0);
    cr_assert_eq(bk.dims.ncurve, 0);
    cr_assert_null(bk.curve.eq);
    cr_assert_eq(bk.risk.sig_step[2], SIZE_MAX); /* "no signal yet" */
    s_check_arrays(&bk);

    /* dirty everything, then a sleeve with a recorder reuses the arena:
     * the reset is applied again, the curves (4 bars) appear */
    void *arena = bk.arena;
    memset(bk.arena, 0x5A, bk.arena_cap);
    bt_recorder_t rec;
    bt_recorder_init(&rec);
    s_setup(&bk, ser, 3, true, &rec, &cfg);
    cr_assert_eq(bk.arena, arena, "a smaller book reuses the arena");
    cr_assert_eq(bk.dims.nsym, 1);
    cr_assert_eq(bk.dims.ncurve, S_N);
    cr_assert_eq(bk.dims.ncash, S_N);
    cr_assert_not_null(bk.curve.cash);
    cr_assert_eq(bk.rec, &bk.local, "a sleeve records locally");
    s_check_arrays(&bk);
    cr_assert_eq(bk.feed.ser[0].n, S_N);
    cr_assert_eq(bk.pf.cash, cfg.initial_cash);
    cr_assert_eq(bk.exec.next_id, 1);

    bt_book_fini(&bk);
    bt_book_fini(&bk); /* safe twice */
    bt_recorder_fini(&rec);
}

/* ---- order types ---- */

Test(engine_exec, order_type_table)
{
    /* every known type has a fill rule; the columns match docs/engine.md */
    for (unsigned t = 0; t < BT_EXEC_NTYPES; t++) {
        cr_assert(bt_exec_type_known(t));
        cr_assert_not_null(bt_exec_types[t].price, "type %u has no price rule", t);
        cr_assert_eq(bt_exec_types[t].same_close, t == BT_ORD_MARKET);
    }
    cr_assert_not(bt_exec_type_known(BT_EXEC_NTYPES));
    cr_assert_not(bt_exec_type_uses_limit(BT_EXEC_NTYPES));
    cr_assert_not(bt_exec_type_uses_limit(BT_ORD_MARKET));
    cr_assert(bt_exec_type_uses_limit(BT_ORD_LIMIT));
    cr_assert_not(bt_exec_type_uses_limit(BT_ORD_STOP));
    cr_assert(bt_exec_type_uses_limit(BT_ORD_STOP_LIMIT));
    cr_assert_not(bt_exec_type_uses_stop(BT_ORD_MARKET));
    cr_assert_not(bt_exec_type_uses_stop(BT_ORD_LIMIT));
    cr_assert(bt_exec_type_uses_stop(BT_ORD_STOP));
    cr_assert(bt_exec_type_uses_stop(BT_ORD_STOP_LIMIT));
}

typedef struct {
    uint8_t type;
    double qty, limit, stop;
    double o, h, l;
    bool fills;
    double px;
} s_px_case_t;

/* Known answers from the fill-rule table in docs/engine.md, by hand. */
static s_px_case_t s_px_cases[] = {
    {BT_ORD_MARKET, 1, 0, 0, 10, 11, 9, true, 10},       /* at the open */
    {BT_ORD_LIMIT, 1, 9.5, 0, 10, 11, 9, true, 9.5},     /* l <= L: min(o, L) */
    {BT_ORD_LIMIT, 1, 10.5, 0, 10, 11, 9, true, 10},     /* opened below the limit */
    {BT_ORD_LIMIT, 1, 8.5, 0, 10, 11, 9, false, 0},      /* never reached */
    {BT_ORD_LIMIT, -1, 10.5, 0, 10, 11, 9, true, 10.5},  /* sell: h >= L: max(o, L) */
    {BT_ORD_STOP, 1, 0, 10.5, 10, 11, 9, true, 10.5},    /* h >= S: max(o, S) */
    {BT_ORD_STOP, 1, 0, 9.5, 10, 11, 9, true, 10},       /* gap through: the open */
    {BT_ORD_STOP, -1, 0, 9.5, 10, 11, 9, true, 9.5},     /* sell: l <= S: min(o, S) */
    {BT_ORD_STOP, -1, 0, 8.5, 10, 11, 9, false, 0},
    {BT_ORD_STOP_LIMIT, 1, 11, 10.5, 10, 11, 9, true, 10.5}, /* intrabar, S <= L: at S */
    {BT_ORD_STOP_LIMIT, 1, 10.2, 10.5, 10, 11, 9, false, 0}, /* intrabar, S > L: rests */
    {BT_ORD_STOP_LIMIT, 1, 10.5, 9.5, 10, 11, 9, true, 10},  /* at the open, o <= L */
    {BT_ORD_STOP_LIMIT, 1, 9.8, 9.5, 10, 11, 9, true, 9.8},  /* at the open, back to L */
};

ParameterizedTestParameters(engine_exec, fill_prices)
{
    return cr_make_param_array(s_px_case_t, s_px_cases, sizeof s_px_cases / sizeof s_px_cases[0]);
}

ParameterizedTest(s_px_case_t *c, engine_exec, fill_prices)
{
    bt_exec_order_t o;
    memset(&o, 0, sizeof o);
    o.type = c->type;
    o.qty = c->qty;
    o.limit = c->limit;
    o.stop = c->stop;
    bt_bar_t b = {.time = 0, .open = c->o, .high = c->h, .low = c->l, .close = c->o, .volume = 1};
    double px = -1;
    bool f = bt_exec_types[c->type].price(&o, &b, &px);
    cr_assert_eq(f, c->fills, "type %u qty %g: fills %d", c->type, c->qty, f);
    if (f)
        cr_assert_eq(px, c->px, "type %u qty %g: price %g, expected %g", c->type, c->qty, px,
                     c->px);
}

/* ---- calendar flags ---- */

static int64_t s_at(int y, int m, int d, int hour)
{
    return bt_days_from_civil(y, m, d) * BT_NS_PER_DAY + hour * BT_NS_PER_HOUR;
}

Test(engine_feed, calendar_flags)
{
    bt_book_t bk;
    memset(&bk, 0, sizeof bk);
    /* 2024-01-29 is a Monday (2024-01-01 was one). Known flags by hand:
     * same day; next day; Sun -> Mon (new ISO week); Wed 01-31 -> Thu
     * 02-01 (new month, same week); Tue 2024-12-31 -> Wed 2025-01-01 (new
     * month and year, same ISO week: it began Mon 12-30); a gap of a week. */
    struct {
        int64_t t;
        unsigned flags;
    } steps[] = {
        {s_at(2024, 1, 28, 10), 0},
        {s_at(2024, 1, 28, 15), 0},
        {s_at(2024, 1, 29, 10), BT_CAL_NEW_DAY | BT_CAL_NEW_WEEK},
        {s_at(2024, 1, 30, 10), BT_CAL_NEW_DAY},
        {s_at(2024, 1, 31, 10), BT_CAL_NEW_DAY},
        {s_at(2024, 2, 1, 10), BT_CAL_NEW_DAY | BT_CAL_NEW_MONTH},
        {s_at(2024, 12, 31, 10), BT_CAL_NEW_DAY | BT_CAL_NEW_WEEK | BT_CAL_NEW_MONTH},
        {s_at(2025, 1, 1, 10), BT_CAL_NEW_DAY | BT_CAL_NEW_MONTH | BT_CAL_NEW_YEAR},
        {s_at(2025, 1, 8, 10), BT_CAL_NEW_DAY | BT_CAL_NEW_WEEK},
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        bk.feed.step = i;
        unsigned f = bt_feed_calendar(&bk, steps[i].t);
        cr_assert_eq(f, steps[i].flags, "step %zu: flags %#x, expected %#x", i, f,
                     steps[i].flags);
    }
    cr_assert_eq(bt_feed_day(-1), -1, "floor, not truncation");
    cr_assert_eq(bt_feed_day(BT_NS_PER_DAY), 1);
    cr_assert_eq(bt_feed_day(-BT_NS_PER_DAY), -1);
}

/* ---- the account ---- */

Test(engine_portfolio, round_trip_and_reversal)
{
    bt_series_t ser = s_series();
    bt_engine_cfg_t cfg;
    bt_book_t bk;
    memset(&bk, 0, sizeof bk);
    s_setup(&bk, &ser, 1, false, NULL, &cfg);
    bk.feed.close[0] = 120.0;

    /* buy 10 @ 100 (commission 1), buy 10 @ 110 (0): avg 105, cash
     * 100000 - 1001 - 1100 = 97899 */
    bt_portfolio_apply(&bk, 0, 10, 100, 1);
    bt_portfolio_apply(&bk, 0, 10, 110, 0);
    cr_assert_eq(bk.pf.pos[0], 20);
    cr_assert_float_eq(bk.pf.avg[0], 105, 1e-12);
    cr_assert_float_eq(bk.pf.cash, 97899, 1e-9);
    cr_assert_eq(bk.pf.nheld, 1);
    /* marked at 120: 97899 + 20 * 120 = 100299 */
    cr_assert_float_eq(bt_portfolio_mark(&bk), 100299, 1e-9);

    /* sell 30 @ 120 (commission 3): closes 20 (2/3 of the commission) and
     * opens a short of 10 at 120 with the other 1. Trade pnl = (120 - 105)
     * * 20 - (1 + 0 + 2) = 297; cash = 97899 + 3600 - 3 = 101496 */
    bt_portfolio_apply(&bk, 0, -30, 120, 3);
    cr_assert_eq(bk.pf.pos[0], -10);
    cr_assert_float_eq(bk.pf.avg[0], 120, 1e-12);
    cr_assert_float_eq(bk.pf.cash, 101496, 1e-9);
    cr_assert_eq(bk.macc.ntrades, 1);
    cr_assert_float_eq(bk.macc.gross_profit, 297, 1e-9);
    cr_assert_float_eq(bk.pf.trade[0].commission, 1, 1e-12);
    cr_assert_float_eq(bk.pf.trade[0].entry_value, -1200, 1e-12);
    /* marked at 120: 101496 - 1200 = 100296 (= 100000 + 297 - 1) */
    cr_assert_float_eq(bt_portfolio_mark(&bk), 100296, 1e-9);

    /* cover 10 @ 110 (commission 1): short pnl (120 - 110) * 10 - 1 - 1 = 98 */
    bt_portfolio_apply(&bk, 0, 10, 110, 1);
    cr_assert_eq(bk.pf.pos[0], 0);
    cr_assert_eq(bk.pf.nheld, 0);
    cr_assert_eq(bk.macc.ntrades, 2);
    cr_assert_float_eq(bk.macc.gross_profit, 297 + 98, 1e-9);
    cr_assert_float_eq(bt_portfolio_mark(&bk), bk.pf.cash, 0);
    bt_book_fini(&bk);
}
