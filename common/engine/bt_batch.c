/* bt_batch — the grid fast path. See bt_batch.h and docs/engine.md "Grid fast
 * path". The step of an event bar below is bt_loop's s_step with the parts
 * an eligible run cannot reach left out (engine exits, kill switch, warm-up,
 * rebalance, same-close fills, recorder, step hook); keep the two in step. */
#include "bt_batch.h"

#include <stdlib.h>
#include <string.h>

#include "bt_alloc.h"
#include "bt_book.h"
#include "bt_exec.h"
#include "bt_fastev.h"
#include "bt_feed.h"
#include "bt_loop.h"
#include "bt_portfolio.h"
#include "bt_risk.h"

#define S_UNITS 64   /* books per pass: grid points x their symbols (sleeves) */
#define S_LANES 32   /* grid points per pass */
#define S_BLOCK 2048 /* bars per block: a lane's columns of a block stay in L1/L2 */
#define S_W 8 /* lanes per vector group */
#define S_GRP_BYTES (16 * 8 * S_W) /* sizeof (s_grp_t), checked below */
/* One-symbol passes: up to S_LANES1 points run block by block together, so
 * a block of an indicator column that several points read (the grid's slow
 * SMA for every fast one) is read from cache, not memory, after the first. */
#define S_LANES1 512
#define S_BLOCK1 2048
#define S_BOOKS (S_LANES1 > S_UNITS ? S_LANES1 : S_UNITS)
#define S_LANE_BYTES 96 /* sizeof (s_lane_t), checked below */

struct s_grp;

/* A lane's place in the column order (s_pass1 sorts its lanes by it). */
typedef struct s_key {
    uintptr_t k[BT_DECL_MAX + 1]; /* its column pointers, the second first */
    size_t lane;
} s_key_t;

struct bt_batch {
    bt_book_t *books;                     /* S_UNITS books, reused */
    struct s_grp *grp;                    /* one-symbol passes: S_LANES1 / 4 vector groups */
    uint32_t at4[S_W][S_BLOCK1];          /* one group's signal bars in a block, per lane */
    double tg4[S_W][S_BLOCK1];            /* and targets */
    double eqg[S_W][S_BLOCK1];            /* and equities (padding lanes: 1) */
    uint8_t mvg[S_BLOCK1];                /* bars where some lane's equity may move */
    bool fastev;                          /* one-symbol lanes may take bt_fastev_step */
    struct s_lane *ln;                    /* one-symbol passes: S_LANES1 lanes */
    size_t lj[S_LANES1];                  /* lane -> its job */
    s_key_t key[S_LANES1];                /* lanes in column order */
    uint32_t at[S_BLOCK];                 /* one unit's signal bars in a block */
    double tg[S_BLOCK];                   /* and targets */
    unsigned char st[S_BOOKS][BT_FAST_STATE_BYTES]; /* decide states */
    double eq[S_UNITS][S_BLOCK];          /* sleeves: equity per bar of the block */
    uint8_t ex[S_UNITS][S_BLOCK];         /* sleeves: exposed per bar of the block */
    bt_macc_t macc[S_LANES];              /* sleeves: each point's metrics */
};

bt_batch_t *bt_batch_new(void)
{
    bt_batch_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->fastev = true;
    self->books = bt_aligned_alloc(S_BOOKS * sizeof *self->books); /* zeroed */
    self->grp = bt_aligned_alloc(S_LANES1 / S_W * S_GRP_BYTES);
    self->ln = calloc(S_LANES1, S_LANE_BYTES);
    if (!self->books || !self->grp || !self->ln) {
        bt_aligned_free(self->books);
        bt_aligned_free(self->grp);
        free(self->ln);
        free(self);
        return NULL;
    }
    return self;
}

void bt_batch_destroy(bt_batch_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bt_batch_t *self = *self_p;
    for (size_t i = 0; i < S_BOOKS; i++)
        bt_book_fini(&self->books[i]);
    bt_aligned_free(self->books);
    bt_aligned_free(self->grp);
    free(self->ln);
    free(self);
    *self_p = NULL;
}

void bt_batch_set_fastev(bt_batch_t *self, bool on)
{
    self->fastev = on;
}

bool bt_batch_eligible(const bt_run_spec_t *spec)
{
    const bt_engine_cfg_t *c = spec->cfg;
    const bt_strategy_t *st = spec->strategy;
    return spec->nsym >= 1 && spec->nsym <= S_UNITS && spec->series && st &&
           st->kind == BT_STRAT_SINGLE && st->fast && st->fast->declare && st->fast->decide &&
           !spec->rec && !spec->on_step && c && c->fill_at == BT_FILL_NEXT_OPEN &&
           c->stop_loss == 0 && c->take_profit == 0 && c->trailing_stop == 0 &&
           c->max_drawdown == 0 && c->rebalance == BT_REBAL_NONE && c->trade_start == INT64_MIN &&
           c->size_at == BT_SIZE_AT_CLOSE && c->risk_scope == BT_RISK_SLEEVE;
}

bool bt_batch_prepare(bt_indcache_t *cache, const bt_run_spec_t *spec, const double **cols,
                      bt_errbuf_t *eb)
{
    const bt_fast_t *f = spec->strategy->fast;
    bt_decl_t d[BT_DECL_MAX];
    memset(d, 0, sizeof d);
    size_t nd = f->declare(spec->params, d);
    if (nd > BT_DECL_MAX) {
        bt_errf(eb, BT_ESTRATEGY, "strategy %s declares %zu indicators (at most %d)",
                spec->strategy->name, nd, BT_DECL_MAX);
        return false;
    }
    bt_series_t sl[S_UNITS];
    for (size_t k = 0; k < spec->nsym; k++)
        sl[k] = bt_series_slice_time(&spec->series[k], spec->cfg->start, spec->cfg->end);
    if (spec->nsym > 1 && !bt_indcache_same_timeline(cache, sl, spec->nsym)) {
        bt_errf(eb, BT_EINVAL, "symbols on different timelines run per point");
        return false;
    }
    for (size_t k = 0; k < spec->nsym; k++) {
        const double **c = &cols[k * (BT_DECL_MAX + 1)];
        for (size_t j = 0; j < nd; j++) {
            c[j] = bt_indcache_get(cache, &sl[k], &d[j], eb);
            if (!c[j])
                return false;
        }
        c[nd] = sl[k].close;
        for (size_t j = nd + 1; j <= BT_DECL_MAX; j++)
            c[j] = NULL;
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* One lane's account over a block                                     */

/* Quiet bars [i0, i1): no order open, no signal, not the last bar. The
 * step reduces to the marking (bt_portfolio_mark for one symbol: cash, or
 * cash + position x close) and the metrics point. Stretches that cannot
 * close a PBO block use bt_macc_step_core: a loop without a call, so the
 * compiler keeps the accumulator in registers. */
static void s_quiet(bt_book_t *bk, const bt_feed_cols_t *x, size_t i0, size_t i1)
{
    bt_macc_t *restrict m = &bk->macc;
    const int64_t *T = x->t;
    const double *C = x->c;
    double cash = bk->pf.cash, pos = bk->pf.pos[0];
    bool held = bk->pf.nheld != 0;
    size_t i = i0;
    while (i < i1) {
        uint64_t room = m->blk_end > m->steps ? m->blk_end - m->steps - 1 : 0;
        size_t seg = i1 - i < room ? i1 - i : (size_t)room;
        size_t s1 = i + seg;
        if (!held) {
            for (; i < s1; i++)
                bt_macc_step_core(m, T[i], cash, false);
        } else {
            for (; i < s1; i++) {
                double e = cash;
                e += pos * C[i];
                bt_macc_step_core(m, T[i], e, true);
            }
        }
        if (i < i1) { /* this step may close a block */
            double e = cash;
            if (held)
                e += pos * C[i];
            bt_macc_step(m, T[i], e, held);
            i++;
        }
    }
}

/* The same for a sleeve: its equity and exposure go to the block's curve
 * (bt_loop_range's eq_out/ex_out), summed over the sleeves later. */
static void s_quiet_curve(const bt_book_t *bk, const bt_feed_cols_t *x, size_t i0, size_t i1,
                          size_t b0, double *eq, uint8_t *ex)
{
    const double *C = x->c;
    double cash = bk->pf.cash, pos = bk->pf.pos[0];
    if (bk->pf.nheld == 0) {
        for (size_t i = i0; i < i1; i++) {
            eq[i - b0] = cash;
            ex[i - b0] = 0;
        }
        return;
    }
    for (size_t i = i0; i < i1; i++) {
        double e = cash;
        e += pos * C[i];
        eq[i - b0] = e;
        ex[i - b0] = 1;
    }
}

/* Event bar i up to the equity point: bt_loop's step for an eligible run,
 * with the engine's own functions. target: the strategy's signal at this
 * bar, or NULL. Returns the bar's time; bk->pf.equity is its equity. */
static int64_t s_event_core(bt_book_t *bk, const bt_feed_cols_t *x, size_t i,
                            const double *target)
{
    int64_t t = bt_fastev_begin(bk, x, i);
    if (bk->exec.nord)
        bt_exec_fill_phase(bk);
    double eq = bt_portfolio_mark(bk);
    bk->pf.equity = eq;
    bt_risk_drawdown(bk, eq);
    uint64_t nf = bk->exec.nfill_total;
    if (!bk->risk.killed) {
        bk->ctx.cash = bk->pf.cash;
        bk->ctx.equity = eq;
        if (target)
            bt_signal(&bk->ctx, 0, *target);
    }
    if (bk->feed.last_step && bk->cfg->close_at_end)
        bt_exec_close_at_end(bk);
    if (bk->exec.nfill_total != nf)
        eq = bk->pf.equity = bt_portfolio_mark(bk);
    if (eq > bk->pf.peak)
        bk->pf.peak = eq;
    return t;
}

/* The whole event step: the equity point goes to the sleeve's curve
 * (eq_out/ex_out, bt_loop_range's) or to the book's metrics. */
static void s_event(bt_book_t *bk, const bt_feed_cols_t *x, size_t i, const double *target,
                    double *eq_out, uint8_t *ex_out)
{
    int64_t t = s_event_core(bk, x, i, target);
    double eq = bk->pf.equity;
    if (eq_out) { /* a sleeve: bt_loop_range's curve */
        *eq_out = eq;
        *ex_out = bk->pf.nheld != 0;
    } else {
        bt_macc_step(&bk->macc, t, eq, bk->pf.nheld != 0);
    }
    bt_feed_done_one(bk, t);
}

/* Bars [i0, i1) of one book; at/tg: its nev signals in the block. eq/ex:
 * a sleeve's curve for the block (bar i at i - i0), or NULL for a one-book
 * run (the book's own metrics). */
static void s_account(bt_book_t *bk, const bt_feed_cols_t *x, size_t i0, size_t i1,
                      const uint32_t *at, const double *tg, size_t nev, double *eq, uint8_t *ex)
{
    size_t e = 0, last = x->n - 1;
    size_t i = i0;
    while (i < i1) {
        size_t next = e < nev ? at[e] : last;
        if (bk->exec.nord) /* an order from the last step fills (or fails) now */
            next = i;
        if (next > last)
            next = last;
        if (next > i) {
            size_t q1 = next < i1 ? next : i1;
            if (eq)
                s_quiet_curve(bk, x, i, q1, i0, eq, ex);
            else
                s_quiet(bk, x, i, q1);
            i = q1;
            continue;
        }
        bool sig = e < nev && at[e] == i;
        s_event(bk, x, i, sig ? &tg[e] : NULL, eq ? &eq[i - i0] : NULL, eq ? &ex[i - i0] : NULL);
        e += sig;
        i++;
    }
}

/* ------------------------------------------------------------------ */
/* One-symbol passes: groups of eight lanes, two vectors of four        */

/* The metrics point of four lanes at once: bt_macc_step_core of the
 * equities s_lane_block wrote, lane by lane the same operations in the same order
 * (no FMA: C17 mode compiles with -ffp-contract=off, and nothing here asks
 * for reassociation), so every lane gets the bits of the scalar step. The
 * step count and the first and last times are the same for every lane of a
 * pass and live outside. Masks are all-ones / zero 64-bit lanes. */
#if defined(__clang__) /* clang contracts a * b + c into an FMA by default; GCC in C17 mode does not */
#pragma STDC FP_CONTRACT OFF
#endif
typedef double s_vd __attribute__((vector_size(32)));
typedef int64_t s_vl __attribute__((vector_size(32)));
#define S_V 4 /* lanes per vector */

typedef struct s_quad {
    s_vd prev, s1, s2, s3, s4; /* bt_macc_t's fields of the same names */
    s_vd down1, down2, rf, peak, max_dd, eqsum;
    s_vd om;                  /* 1 - max_dd, kept with it (the drawdown test's factor) */
    s_vl ndown, exposed, peak_time, max_dd_ns;
} s_quad_t;

/* A group: two quads stepped together, so the loop-carried chains of one
 * (the sums, peak, drawdown duration) overlap the other's. */
typedef struct s_grp {
    s_quad_t q[S_W / S_V];
} s_grp_t;
_Static_assert(S_W == 2 * S_V, "s_vquiet steps two quads");
#define S_LN(g, f, k) ((g)->q[(k) / S_V].f[(k) % S_V])
_Static_assert(sizeof(s_grp_t) == S_GRP_BYTES, "S_GRP_BYTES");

/* m ? a : b, lane by lane (a macro: vectors by value change the ABI) */
#define S_SEL(m, a, b) ((s_vd)(((s_vl)(a) & (m)) | ((s_vl)(b) & ~(m))))

/* Any lane of *m set: two shuffles and an or (cheaper than four extracts). */
#if defined(__clang__)
#define S_SWAP2(v) __builtin_shufflevector(v, v, 2, 3, 0, 1)
#define S_SWAP1(v) __builtin_shufflevector(v, v, 1, 0, 3, 2)
#else
#define S_SWAP2(v) __builtin_shuffle(v, (s_vl){2, 3, 0, 1})
#define S_SWAP1(v) __builtin_shuffle(v, (s_vl){1, 0, 3, 2})
#endif
static inline __attribute__((always_inline)) bool s_any(const s_vl *m)
{
    s_vl a = *m | S_SWAP2(*m);
    a |= S_SWAP1(a);
    return a[0] != 0;
}

/* All lanes of *m set. */
static inline __attribute__((always_inline)) bool s_all(const s_vl *m)
{
    s_vl a = *m & S_SWAP2(*m);
    a &= S_SWAP1(a);
    return a[0] != 0;
}

/* bt_macc_step_core for four lanes. The drawdown duration is branch-free;
 * a new deepest drawdown (rare) takes its division only when a lane has
 * one. The exposure count comes from s_lane_block. */
static inline __attribute__((always_inline)) void s_vstep(s_quad_t *v, int64_t t, const s_vd *ep)
{
    s_vd e = *ep; /* by pointer: a vector by value draws GCC's -Wpsabi note */
    s_vl nz = v->prev != 0.0;
    s_vd r = (s_vd)((s_vl)(e / v->prev - 1.0) & nz);
    s_vd r2 = r * r;
    v->s1 += r;
    v->s2 += r2;
    v->s3 += r2 * r;
    v->s4 += r2 * r2;
    s_vd ex = r - v->rf;
    s_vl neg = ex < 0.0;
    s_vd d = (s_vd)((s_vl)ex & neg);
    v->down2 += d * d;
    v->down1 += d;
    v->ndown -= neg;
    s_vl ge = e >= v->peak;
    s_vl lo = e < v->peak * v->om; /* (1.0 - max_dd) as bt_macc_step_core computes it */
    s_vl dur = t - v->peak_time;
    s_vl rc = ge & (v->prev < v->peak) & (dur > v->max_dd_ns);
    v->max_dd_ns = (rc & dur) | (~rc & v->max_dd_ns);
    if (__builtin_expect(s_any(&lo), 0)) { /* a new deepest drawdown somewhere: rare */
        s_vl dn = ~ge & lo & (v->peak > 0.0);
        v->max_dd = S_SEL(dn, 1.0 - e / v->peak, v->max_dd);
        v->om = 1.0 - v->max_dd;
    }
    v->peak = S_SEL(ge, e, v->peak);
    v->peak_time = (ge & t) | (~ge & v->peak_time);
    v->eqsum += e;
    v->prev = e;
}

/* s_vstep of four lanes whose equity is the previous step's (finite) and
 * whose rf_step is 0. The return is then exactly +0 (e / prev = 1 and
 * 1 - 1 = +0, or 0 by the prev == 0 rule), and adding +0 changes none of
 * the power or downside sums (none can be -0: they start at +0, and a sum
 * is -0 only from -0 + -0), nor ndown. The drawdown duration cannot move
 * (it needs prev < peak <= e), the peak is already e where e >= peak (the
 * previous step set it), and the drawdown test repeats the previous step's
 * with the same e and peak (same max_dd). Left: the equity sum (the
 * caller's) and the peak's time, which only the run's last step decides. */
static inline __attribute__((always_inline)) void s_vflat(s_quad_t *v, int64_t t)
{
    s_vl ge = v->prev >= v->peak;
    v->peak_time = (ge & t) | (~ge & v->peak_time);
}

/* Bars [a, b) of the eight lanes of a group: the metrics points of the
 * equities E[k][i - e0] (lane k, bar i) that s_lane_block wrote. A bar
 * where no lane's equity moves (mv[i - e0] == 0: every lane flat, no
 * event; the usual case between a long/flat strategy's trades) takes
 * s_vflat when every lane's rf_step is 0. The state stays in registers.
 * AVX2 / AVX-512 where the CPU has them (no FMA in those targets either). */
__attribute__((target_clones("arch=x86-64-v4", "avx2", "default"))) static void
s_vquiet(s_grp_t *restrict g, const int64_t *restrict T, const double (*restrict E)[S_BLOCK1],
         const uint8_t *restrict mv, size_t e0, size_t a, size_t b)
{
    s_quad_t v0 = g->q[0], v1 = g->q[1];
    s_vl rz = (v0.rf == 0.0) & (v1.rf == 0.0);
    bool flat_ok = s_all(&rz);
    for (size_t i = a; i < b; i++) {
        int64_t t = T[i];
        size_t j = i - e0;
        if (flat_ok && !mv[j]) { /* a run of such bars: [i, k) */
            size_t k = i + 1;
            while (k < b && !mv[k - e0])
                k++;
            s_vd q0 = v0.eqsum, q1 = v1.eqsum; /* locals: the sums stay in registers */
            const s_vd p0 = v0.prev, p1 = v1.prev;
            for (size_t h = i; h < k; h++) {
                q0 += p0;
                q1 += p1;
            }
            v0.eqsum = q0;
            v1.eqsum = q1;
            s_vflat(&v0, T[k - 1]); /* the last step of the run sets the peak's time */
            s_vflat(&v1, T[k - 1]);
            i = k - 1;
            continue;
        }
        s_vd x0 = {E[0][j], E[1][j], E[2][j], E[3][j]};
        s_vd x1 = {E[4][j], E[5][j], E[6][j], E[7][j]};
        s_vstep(&v0, t, &x0);
        s_vstep(&v1, t, &x1);
    }
    g->q[0] = v0;
    g->q[1] = v1;
}

/* A lane of a one-symbol pass. */
/* A lane of a one-symbol pass: what a block needs without touching the
 * job or the book (a cache line, where the job and book would be several
 * cold ones per lane and block when the lane has no event). */
typedef struct s_lane {
    bt_book_t *bk;     /* its book */
    unsigned char *st; /* decide's state */
    uint32_t nev;      /* signals in the block */
    bool held, nord;   /* the book's position open, an order open */
    bool fev;          /* its events take bt_fastev_step (bt_fastev_ok) */
    uint64_t blk_end;  /* its macc's blk_end (steps that close the open PBO block) */
    const bt_fast_t *fast; /* the strategy's fast path, its parameters, its columns */
    const double *params;
    const double *const *cols;
    double cash, pos;  /* the book's cash and position */
    const void *arena; /* the book's arrays (bytes of them) and its engine settings */
    size_t arena_bytes;
    const bt_engine_cfg_t *cfg;
} s_lane_t;
_Static_assert(sizeof(s_lane_t) == S_LANE_BYTES, "S_LANE_BYTES");

static void s_lane_load(s_grp_t *g, int k, const bt_book_t *bk)
{
    const bt_macc_t *m = &bk->macc;
    S_LN(g, prev, k) = m->prev;
    S_LN(g, s1, k) = m->s1;
    S_LN(g, s2, k) = m->s2;
    S_LN(g, s3, k) = m->s3;
    S_LN(g, s4, k) = m->s4;
    S_LN(g, down1, k) = m->down1;
    S_LN(g, down2, k) = m->down2;
    S_LN(g, rf, k) = m->rf_step;
    S_LN(g, peak, k) = m->peak;
    S_LN(g, max_dd, k) = m->max_dd;
    S_LN(g, om, k) = 1.0 - m->max_dd;
    S_LN(g, eqsum, k) = m->equity_sum;
    S_LN(g, ndown, k) = (int64_t)m->ndown;
    S_LN(g, exposed, k) = (int64_t)m->exposed;
    S_LN(g, peak_time, k) = m->peak_time;
    S_LN(g, max_dd_ns, k) = m->max_dd_ns;
}

static void s_lane_store(const s_grp_t *g, int k, bt_macc_t *m)
{
    m->prev = S_LN(g, prev, k);
    m->s1 = S_LN(g, s1, k);
    m->s2 = S_LN(g, s2, k);
    m->s3 = S_LN(g, s3, k);
    m->s4 = S_LN(g, s4, k);
    m->down1 = S_LN(g, down1, k);
    m->down2 = S_LN(g, down2, k);
    m->peak = S_LN(g, peak, k);
    m->max_dd = S_LN(g, max_dd, k);
    m->equity_sum = S_LN(g, eqsum, k);
    m->ndown = (uint64_t)S_LN(g, ndown, k);
    m->exposed = (uint64_t)S_LN(g, exposed, k);
    m->peak_time = S_LN(g, peak_time, k);
    m->max_dd_ns = S_LN(g, max_dd_ns, k);
}

/* Bars [i0, i1) of lane l's account: its events through the engine
 * (s_event_core: the fill of an open order, its signals, the last bar),
 * and each bar's equity into eq[i - i0] — bt_portfolio_mark's sum of the
 * book as the bar leaves it (cash, or cash + position x close), so quiet
 * stretches are a loop over the bars (AVX2 / AVX-512 where the CPU has
 * them; no FMA there either). Bars where the equity may differ from the
 * previous bar's (a position, an event, a cash that is not finite) get
 * mv[i - i0] = 1 (s_vquiet's s_vflat test). Returns the bars with a
 * position (bt_macc_step_core's exposure count). */
__attribute__((target_clones("arch=x86-64-v4", "avx2", "default"))) static int64_t
s_lane_block(s_lane_t *l, const uint32_t *at, const double *tg,
                            const bt_feed_cols_t *x, size_t i0, size_t i1, double *eq,
                            uint8_t *mv)
{
    bt_book_t *bk = l->bk;
    const double *C = x->c;
    size_t last = x->n - 1, e = 0, nev = l->nev;
    double cash = l->cash, pos = l->pos;
    bool held = l->held, nord = l->nord;
    int64_t nheld = 0;
    size_t i = i0;
    while (i < i1) {
        size_t next = nord ? i : e < nev ? at[e] : last; /* an open order fills now */
        if (next > last)
            next = last;
        size_t q1 = next < i1 ? next : i1;
        if (q1 > i) {
            if (held) {
                for (size_t j = i; j < q1; j++) {
                    double v = cash;
                    v += pos * C[j];
                    eq[j - i0] = v;
                }
                memset(mv + (i - i0), 1, q1 - i);
                nheld += (int64_t)(q1 - i);
            } else {
                for (size_t j = i; j < q1; j++)
                    eq[j - i0] = cash;
                if (!(cash - cash == 0.0)) /* inf or NaN: e / prev is not 1 */
                    memset(mv + (i - i0), 1, q1 - i);
            }
            i = q1;
            continue;
        }
        bool sig = e < nev && at[e] == i;
        const double *tgi = sig ? &tg[e] : NULL;
        int64_t t = l->fev && i != last ? bt_fastev_step(bk, x, i, tgi)
                                        : s_event_core(bk, x, i, tgi);
        bt_feed_done_one(bk, t);
        e += sig;
        cash = bk->pf.cash;
        pos = bk->pf.pos[0];
        held = bk->pf.nheld != 0;
        nord = bk->exec.nord != 0;
        double v = cash;
        if (held)
            v += pos * C[i];
        eq[i - i0] = v; /* = bk->pf.equity */
        mv[i - i0] = 1;
        nheld += held;
        i++;
    }
    l->cash = cash;
    l->pos = pos;
    l->held = held;
    l->nord = nord;
    return nheld;
}

/* Bars [i0, i1) of the nl (<= S_W) lanes of group g: each lane's account
 * over the block (s_lane_block), then the metrics points of all lanes
 * eight at a time (s_vquiet). PBO blocks close at the step they close in
 * bt_macc_step. Events never need the metrics (they read the book), so
 * the two halves can run one after the other. */
static void s_group_block(bt_batch_t *self, s_grp_t *g, s_lane_t *ln, size_t nl,
                          const bt_feed_cols_t *x, size_t i0, size_t i1)
{
    uint64_t blk = UINT64_MAX; /* the earliest blk_end of the group */
    for (size_t k = nl; k < S_W; k++) /* padding lanes: a flat account of 1 */
        for (size_t i = i0; i < i1; i++)
            self->eqg[k][i - i0] = 1.0;
    memset(self->mvg, 0, i1 - i0);
    for (size_t k = 0; k < nl; k++) {
        S_LN(g, exposed, k) += s_lane_block(&ln[k], self->at4[k], self->tg4[k], x, i0, i1,
                                            self->eqg[k], self->mvg);
        if (ln[k].blk_end < blk)
            blk = ln[k].blk_end;
    }
    const int64_t *T = x->t;
    size_t i = i0;
    while (i < i1) {
        size_t stop = i1;
        /* the step at bar b makes steps == b + 1: the first to reach blk is
         * at bar blk - 1 (any bar when blk is 0: fewer steps than blocks) */
        uint64_t bb = blk ? blk - 1 : 0;
        if (bb < stop)
            stop = bb > i ? (size_t)bb : i;
        if (stop > i) {
            s_vquiet(g, T, self->eqg, self->mvg, i0, i, stop);
            i = stop;
            continue;
        }
        s_vquiet(g, T, self->eqg, self->mvg, i0, i, i + 1);
        if (i + 1 >= blk) { /* bt_macc_step's block closing, lane by lane */
            blk = UINT64_MAX;
            for (size_t k = 0; k < nl; k++) {
                bt_macc_t *m = &ln[k].bk->macc;
                if (i + 1 >= ln[k].blk_end) {
                    m->steps = i + 1;
                    m->s1 = S_LN(g, s1, k);
                    m->s2 = S_LN(g, s2, k);
                    bt_macc_close_blocks(m);
                    ln[k].blk_end = m->blk_end;
                }
                if (ln[k].blk_end < blk)
                    blk = ln[k].blk_end;
            }
        }
        i++;
    }
}

static int s_key_cmp(const void *a, const void *b)
{
    const s_key_t *x = a, *y = b;
    for (size_t j = 0; j <= BT_DECL_MAX; j++)
        if (x->k[j] != y->k[j])
            return x->k[j] < y->k[j] ? -1 : 1;
    return (x->lane > y->lane) - (x->lane < y->lane);
}

/* Orders the nl lanes so that lanes reading the same columns are next to
 * each other (the grid's slow SMA is shared by up to 100 fast ones): a
 * column's block then comes from L1/L2 for all but the first of them.
 * Each lane is its own backtest, so the order changes no result. */
static void s_order(bt_batch_t *self, size_t nl)
{
    s_key_t *key = self->key;
    for (size_t l = 0; l < nl; l++) {
        const double *const *c = self->ln[l].cols;
        key[l].k[0] = (uintptr_t)c[1];
        key[l].k[1] = (uintptr_t)c[0];
        for (size_t j = 2; j <= BT_DECL_MAX; j++)
            key[l].k[j] = (uintptr_t)c[j];
        key[l].lane = l;
    }
    qsort(key, nl, sizeof *key, s_key_cmp);
    s_lane_t ln[S_LANES1];
    size_t lj[S_LANES1];
    for (size_t l = 0; l < nl; l++) {
        ln[l] = self->ln[key[l].lane];
        lj[l] = self->lj[key[l].lane];
    }
    memcpy(self->ln, ln, nl * sizeof *ln);
    memcpy(self->lj, lj, nl * sizeof *lj);
}

/* A finished job's metrics and PBO block statistics from its accumulators. */
static void s_job_finish(bt_batch_job_t *j, bt_macc_t *m)
{
    bt_macc_finish(m, j->spec.cfg->risk_free_rate, bt_engine_benchmark(&j->spec), &j->metrics);
    if (j->spec.blocks_out)
        bt_macc_blocks(m, j->spec.blocks_out, 3u * (size_t)j->spec.cfg->pbo_blocks);
}

/* Jobs [0, n) have one symbol each and share their series slice. The live
 * ones (set up without error), ordered by their columns (s_order), go
 * eight to a group; each group runs block by block: its lanes' decide,
 * then s_group_block. */
static void s_pass1(bt_batch_t *self, bt_batch_job_t *jobs, size_t n)
{
    s_lane_t *ln = self->ln;
    size_t *lj = self->lj; /* live lane -> job */
    size_t nl = 0, nbars = 0;
    bt_feed_cols_t x = {0};
    for (size_t l = 0; l < n; l++) {
        bt_batch_job_t *j = &jobs[l];
        const bt_engine_cfg_t *c = j->spec.cfg;
        bt_book_t *bk = &self->books[nl];
        bt_errbuf_clear(&j->eb);
        j->rc = bt_engine_check(&j->spec, &j->eb);
        if (j->rc != BT_OK)
            continue;
        memset(&j->metrics, 0, sizeof j->metrics);
        j->rc = bt_book_setup(bk, &j->spec, 1, 0, 0, c->initial_cash, false, &j->eb);
        if (j->rc != BT_OK)
            continue;
        const bt_series_t *s0 = &bk->feed.ser[0];
        if (c->pbo_blocks)
            bt_macc_set_blocks(&bk->macc, s0->n - bt_feed_first_at(s0, c->trade_start),
                               (uint32_t)c->pbo_blocks);
        memset(self->st[nl], 0, BT_FAST_STATE_BYTES);
        x = bt_feed_begin_one(bk);
        nbars = s0->n;
        ln[nl] = (s_lane_t){.bk = bk, .st = self->st[nl], .blk_end = bk->macc.blk_end,
                            .fast = j->spec.strategy->fast, .params = j->spec.params,
                            .cols = j->cols, .cash = bk->pf.cash, .pos = bk->pf.pos[0],
                            .held = bk->pf.nheld != 0, .nord = bk->exec.nord != 0,
                            .arena = bk->arena, .cfg = c,
                            .fev = self->fastev && bt_fastev_ok(bk),
                            .arena_bytes = bk->arena_cap < 1024 ? bk->arena_cap : 1024};
        lj[nl++] = l;
    }
    if (nl == 0)
        return;
    s_order(self, nl);
    size_t ng = (nl + S_W - 1) / S_W;
    for (size_t gi = 0; gi < ng; gi++) {
        s_grp_t *g = &self->grp[gi];
        memset(g, 0, sizeof *g);
        for (int k = 0; k < S_W; k++) { /* padding lanes: a flat account of 1 */
            S_LN(g, prev, k) = S_LN(g, peak, k) = S_LN(g, om, k) = 1.0;
            S_LN(g, peak_time, k) = nbars ? x.t[0] : 0; /* bt_macc_step_core's first step */
        }
        for (size_t k = 0; k < S_W && gi * S_W + k < nl; k++) {
            s_lane_load(g, (int)k, ln[gi * S_W + k].bk);
            S_LN(g, peak_time, k) = x.t[0];
        }
    }
    for (size_t i0 = 0; i0 < nbars; i0 += S_BLOCK1) {
        size_t i1 = i0 + S_BLOCK1 < nbars ? i0 + S_BLOCK1 : nbars;
        for (size_t gi = 0; gi < ng; gi++) {
            size_t k0 = gi * S_W, gn = nl - k0 < S_W ? nl - k0 : S_W;
            for (size_t k = 0; k < gn; k++) {
                s_lane_t *l = &ln[k0 + k];
                /* its book, for the events after decide (a lane's events
                 * of a block are its only use of it) */
                for (size_t o = 0; o < sizeof *l->bk; o += 64)
                    __builtin_prefetch((const char *)l->bk + o, 1);
                for (size_t o = 0; o < l->arena_bytes; o += 64)
                    __builtin_prefetch((const char *)l->arena + o, 1);
                for (size_t o = 0; o < sizeof *l->cfg; o += 64)
                    __builtin_prefetch((const char *)l->cfg + o, 0);
                l->nev = (uint32_t)l->fast->decide(l->st, l->params, l->cols, i0, i1,
                                                   self->at4[k], self->tg4[k]);
            }
            s_group_block(self, &self->grp[gi], &ln[k0], gn, &x, i0, i1);
        }
    }
    for (size_t k = 0; k < nl; k++) {
        bt_batch_job_t *j = &jobs[lj[k]];
        bt_book_t *bk = ln[k].bk;
        bt_macc_t *m = &bk->macc;
        s_lane_store(&self->grp[k / S_W], (int)(k % S_W), m);
        m->steps = nbars;
        m->t_first = x.t[0];
        m->t_last = x.t[nbars - 1];
        bt_loop_end(bk);
        if (bk->err != BT_OK && j->rc == BT_OK)
            j->rc = bt_errf(&j->eb, bk->err, "out of memory while recording the run");
        if (j->rc != BT_OK)
            continue;
        s_job_finish(j, m);
    }
}

/* ------------------------------------------------------------------ */
/* Passes                                                              */

/* Jobs [0, n) share their series slices; book u0[l] .. u0[l] + nsym - 1
 * are job l's (one per symbol). Set up, run block by block, finish. */
static void s_pass(bt_batch_t *self, bt_batch_job_t *jobs, size_t n)
{
    bool live[S_LANES];
    size_t u0[S_LANES + 1];
    size_t nbars = 0;
    bt_feed_cols_t x[S_UNITS];
    u0[0] = 0;
    for (size_t l = 0; l < n; l++)
        u0[l + 1] = u0[l] + jobs[l].spec.nsym;
    for (size_t l = 0; l < n; l++) {
        bt_batch_job_t *j = &jobs[l];
        const bt_engine_cfg_t *c = j->spec.cfg;
        size_t ns = j->spec.nsym;
        live[l] = false;
        bt_errbuf_clear(&j->eb);
        j->rc = bt_engine_check(&j->spec, &j->eb);
        if (j->rc != BT_OK)
            continue;
        memset(&j->metrics, 0, sizeof j->metrics);
        /* a sleeve gets an equal share of the cash, as in bt_engine */
        double share = ns > 1 ? c->initial_cash / (double)ns : c->initial_cash;
        for (size_t k = 0; k < ns && j->rc == BT_OK; k++)
            j->rc = bt_book_setup(&self->books[u0[l] + k], &j->spec, 1, (uint32_t)k, k, share,
                                  false, &j->eb);
        if (j->rc != BT_OK)
            continue;
        bt_macc_t *m = &self->books[u0[l]].macc;
        if (ns > 1) {
            m = &self->macc[l];
            bt_macc_init(m, c->initial_cash);
        }
        const bt_series_t *s0 = &self->books[u0[l]].feed.ser[0];
        if (c->pbo_blocks)
            bt_macc_set_blocks(m, s0->n - bt_feed_first_at(s0, c->trade_start),
                               (uint32_t)c->pbo_blocks);
        for (size_t k = 0; k < ns; k++) {
            memset(self->st[u0[l] + k], 0, BT_FAST_STATE_BYTES);
            x[u0[l] + k] = bt_feed_begin_one(&self->books[u0[l] + k]);
        }
        nbars = s0->n;
        live[l] = true;
    }
    for (size_t i0 = 0; i0 < nbars; i0 += S_BLOCK) {
        size_t i1 = i0 + S_BLOCK < nbars ? i0 + S_BLOCK : nbars;
        for (size_t l = 0; l < n; l++) {
            if (!live[l])
                continue;
            const bt_run_spec_t *sp = &jobs[l].spec;
            size_t ns = sp->nsym;
            for (size_t k = 0; k < ns; k++) {
                size_t u = u0[l] + k;
                size_t nev = sp->strategy->fast->decide(self->st[u], sp->params,
                                                        &jobs[l].cols[k * (BT_DECL_MAX + 1)],
                                                        i0, i1, self->at, self->tg);
                s_account(&self->books[u], &x[u], i0, i1, self->at, self->tg, nev,
                          ns > 1 ? self->eq[u] : NULL, ns > 1 ? self->ex[u] : NULL);
            }
            if (ns == 1)
                continue;
            /* bt_engine's sleeve sum: sleeve order, then the metrics point */
            double *e0 = self->eq[u0[l]];
            uint8_t *x0 = self->ex[u0[l]];
            for (size_t k = 1; k < ns; k++) {
                const double *es = self->eq[u0[l] + k];
                const uint8_t *xs = self->ex[u0[l] + k];
                for (size_t i = 0; i < i1 - i0; i++) {
                    e0[i] += es[i];
                    x0[i] |= xs[i];
                }
            }
            const int64_t *T = x[u0[l]].t;
            for (size_t i = i0; i < i1; i++)
                bt_macc_step(&self->macc[l], T[i], e0[i - i0], x0[i - i0] != 0);
        }
    }
    for (size_t l = 0; l < n; l++) {
        if (!live[l])
            continue;
        bt_batch_job_t *j = &jobs[l];
        size_t ns = j->spec.nsym;
        bt_macc_t *m = ns > 1 ? &self->macc[l] : &self->books[u0[l]].macc;
        for (size_t k = 0; k < ns; k++) {
            bt_book_t *bk = &self->books[u0[l] + k];
            bt_loop_end(bk);
            if (bk->err != BT_OK && j->rc == BT_OK)
                j->rc = bt_errf(&j->eb, bk->err, "out of memory while recording the run");
            if (ns > 1)
                bt_macc_add_counts(m, &bk->macc);
        }
        if (j->rc != BT_OK)
            continue;
        s_job_finish(j, m);
    }
}

static bool s_same_slices(const bt_run_spec_t *a, const bt_run_spec_t *b)
{
    if (a->nsym != b->nsym)
        return false;
    for (size_t k = 0; k < a->nsym; k++) {
        bt_series_t sa = bt_series_slice_time(&a->series[k], a->cfg->start, a->cfg->end);
        bt_series_t sb = bt_series_slice_time(&b->series[k], b->cfg->start, b->cfg->end);
        if (sa.close != sb.close || sa.time != sb.time || sa.n != sb.n)
            return false;
    }
    return true;
}

void bt_batch_run(bt_batch_t *self, bt_batch_job_t *jobs, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t k = 1, units = jobs[i].spec.nsym;
        if (units == 1) { /* one-symbol jobs: s_pass1 */
            while (i + k < n && k < S_LANES1 && jobs[i + k].spec.nsym == 1 &&
                   s_same_slices(&jobs[i].spec, &jobs[i + k].spec))
                k++;
            s_pass1(self, &jobs[i], k);
            i += k;
            continue;
        }
        while (i + k < n && k < S_LANES && units + jobs[i + k].spec.nsym <= S_UNITS &&
               jobs[i + k].spec.nsym > 1 && s_same_slices(&jobs[i].spec, &jobs[i + k].spec))
            units += jobs[i + k++].spec.nsym;
        s_pass(self, &jobs[i], k);
        i += k;
    }
}
