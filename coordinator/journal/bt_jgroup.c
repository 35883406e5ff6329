/* bt_jgroup — see bt_jgroup.h and docs/sweep.md "Journal".
 *
 * Version 3 payload (type 2), all integers little-endian:
 *   u8 type | u32 nrec | u32 raw_len | u32 a_len | u16 nmet | u16 nblk64 |
 *   u16 sblk32 | zlib stream of raw_len bytes:
 *   A: per record, in order: varint zigzag(job_id - previous job_id - 1) |
 *      varint attempt | u8 flags (bit 0 ok, bits 1-2 blocks: 0 none, 1 f64,
 *      2 f32) | varint nmetrics (0 or nmet) | varint run_us | varint bars |
 *      u8 worker_len | worker | varint error_len | error
 *   B: metrics of the records with nmetrics = nmet: rows of nmet x f64 bits
 *   C: f64 block statistics (nblk64 per row)
 *   D: f32 block statistics (sblk32 blocks per row: u32 count, f32 mean, f32
 *      M2 per block, counts first, then means, then M2s)
 *   B, C and D are transposed into byte planes: byte k of every row, then
 *   byte k + 1, ... (version 3), so similar numbers' high bytes sit together.
 *
 * Version 4 payload (type 3): version 3's header plus u8 flags (bit 0: the
 * metric model is on, bit 1: D's counts are shared) | f64 initial | u8
 * column[12] of the model's roles (s_role_names); then the zlib stream:
 *   A: as version 3
 *   B: rows of nmet words (+ 3 side words with the model): a metric the
 *      model predicts is stored as zigzag(bits - predicted bits), every other
 *      one as its bits; side words: wins, zigzag(trades - wins - losses),
 *      exposed steps. The prediction (s_predict) uses only IEEE basic
 *      operations on stored values, so every build computes the same bits;
 *      when it misses (another metric code) the difference is simply larger.
 *   C: as version 3
 *   D: [sblk32 x u32 counts, once, when every row has the same] then rows of
 *      (counts unless shared), means, M2s; a mean or M2 is stored as zigzag
 *      of the difference of its order-preserving key from the previous row's
 *   B, C and D in byte planes, most significant byte of every word first.
 * Every number keeps its exact bits. */
#include "bt_jgroup.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "bt_jle.h"

/* version 4: level 1 (session 6; was 6): ~2-4 bytes a result more, a third of the
 * coordinator's CPU per result less. Readers inflate any level. */
#define S_ZLEVEL 1
#define S_ZLEVEL3 1 /* version 3, as its writer had it */
#define S_GROUP_RAW_MAX (1u << 20)
/* records per group: a damaged group's jobs all run again, so keep it small */
#define S_GROUP_MAX_RECS 256
#define S_REC_RAW_MAX                                                                              \
    (8 * 10 + 1 + 1 + 255 + 5 + 255 + 8 * (BT_JOURNAL_MAX_METRICS + 3) + 8 * BT_JOURNAL_MAX_BLK)
#define S_A_MAX (8 * 10 + 1 + 1 + 255 + 5 + 255) /* one record's A bytes at most */
#define S_HEAD3 19
#define S_HEAD4 (S_HEAD3 + 1 + 8 + 8 + S_NROLE)
#define S_NSIDE 3
#define S_PF_CAP 1e9 /* the metric code's profit-factor cap, frozen into the format */

/* The columns version 4 predicts from, and predicts. */
enum {
    R_FINAL,
    R_TRET,
    R_CAGR,
    R_MAXDD,
    R_CALMAR,
    R_TRADES,
    R_WIN,
    R_AVGWIN,
    R_AVGLOSS,
    R_PF,
    R_EXP,
    R_EXPO,
    R_SHARPE,
    R_SKEW,
    R_KURT,
    R_PSR,
    S_NROLE
};
static const char *const s_role_names[S_NROLE] = {
    "final_equity", "total_return",  "cagr",       "max_drawdown",
    "calmar",       "trades",        "win_rate",   "avg_win",
    "avg_loss",     "profit_factor", "expectancy", "exposure",
    "sharpe",       "skewness",      "kurtosis",   "psr"};
/* the predicted roles, in decoding order (calmar needs cagr) */
static const int s_predicted[] = {R_TRET, R_CAGR, R_CALMAR, R_WIN, R_PF, R_EXP, R_EXPO, R_PSR};
#define S_NPRED (sizeof s_predicted / sizeof s_predicted[0])

struct bt_jgroup {
    int type;                /* BT_JGROUP_V3 or BT_JGROUP_V4 (what the writer makes) */
    uint8_t role[S_NROLE];   /* column of each role in the header's metrics, 0xFF none */
    bool roles;              /* the header names every role */
    bt_buf_t ga, gb, gc, gd; /* sections A (per record), B (metrics), C, D (blocks) rows */
    bt_buf_t graw;           /* a group's raw bytes (A + byte planes), to deflate or inflated */
    bt_buf_t gtmp;           /* sections B, C, D row by row while decoding */
    size_t nrec;             /* records in the pending group */
    size_t rows_b, rows_c, rows_d; /* rows of B, C, D */
    size_t nmet, nblk64, sblk32;   /* the group's shape (0 = not set yet) */
    bool model;                    /* version 4: B rows use the model */
    double init;                   /* version 4: initial equity of total_return's prediction */
    double years;                  /* version 4: years of cagr's prediction */
    uint64_t last;                 /* previous job id + 1 (job ids are delta coded) */
    bt_journal_rec_t rec;          /* a decoded record */
    z_stream zs;                   /* the writer's deflate state, reset per group */
    bool zs_on;                    /* zs is initialized */
};

/* Columns of the roles on the header's "metrics " line. */
static void s_find_roles(bt_jgroup_t *g, const char *header)
{
    memset(g->role, 0xFF, sizeof g->role);
    const char *l = header;
    while (l && *l && strncmp(l, "metrics ", 8) != 0) {
        l = strchr(l, '\n');
        l = l ? l + 1 : NULL;
    }
    if (!l || !*l)
        return;
    l += 8;
    for (size_t col = 0; *l && *l != '\n' && col < BT_JOURNAL_MAX_METRICS && col < 0xFF; col++) {
        size_t len = strcspn(l, ",\n");
        for (int r = 0; r < S_NROLE; r++)
            if (strlen(s_role_names[r]) == len && memcmp(s_role_names[r], l, len) == 0)
                g->role[r] = (uint8_t)col;
        l += len + (l[len] == ',');
    }
    g->roles = true;
    for (int r = 0; r < S_NROLE; r++)
        g->roles = g->roles && g->role[r] != 0xFF;
}

bt_jgroup_t *bt_jgroup_new(int type, const char *header)
{
    bt_jgroup_t *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->type = type == BT_JGROUP_V3 ? BT_JGROUP_V3 : BT_JGROUP_V4;
    bt_buf_init(&g->ga, S_GROUP_RAW_MAX + S_REC_RAW_MAX);
    bt_buf_init(&g->gb, S_GROUP_RAW_MAX + S_REC_RAW_MAX);
    bt_buf_init(&g->gc, S_GROUP_RAW_MAX + S_REC_RAW_MAX);
    bt_buf_init(&g->gd, S_GROUP_RAW_MAX + S_REC_RAW_MAX);
    bt_buf_init(&g->graw, BT_JGROUP_RAW_MAX + S_REC_RAW_MAX);
    bt_buf_init(&g->gtmp, 2 * BT_JGROUP_RAW_MAX);
    memset(g->role, 0xFF, sizeof g->role);
    if (g->type == BT_JGROUP_V4 && header)
        s_find_roles(g, header);
    return g;
}

void bt_jgroup_destroy(bt_jgroup_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bt_jgroup_t *g = *self_p;
    bt_buf_fini(&g->ga);
    bt_buf_fini(&g->gb);
    bt_buf_fini(&g->gc);
    bt_buf_fini(&g->gd);
    bt_buf_fini(&g->graw);
    bt_buf_fini(&g->gtmp);
    if (g->zs_on)
        deflateEnd(&g->zs);
    free(g);
    *self_p = NULL;
}

size_t bt_jgroup_pending(const bt_jgroup_t *g)
{
    return g->nrec;
}

/* ---- the version-4 metric model ---- */

/* A product rounded on its own (no fused multiply-add with what follows). */
static double s_mul(double a, double b)
{
    volatile double v = a * b;
    return v;
}

/* Trades as a count (0 when not a whole number in range). */
static uint64_t s_count(double t)
{
    return t >= 0.0 && t <= 0x1p52 && t == nearbyint(t) ? (uint64_t)t : 0;
}

/* ln 2 in two parts, the first with trailing zero bits (fdlibm) */
#define S_LN2_HI 6.93147180369123816490e-01
#define S_LN2_LO 1.90821492927058770002e-10

/* Natural logarithm of x > 0 (finite), from basic operations only. */
static double s_log(double x)
{
    int e;
    double m = frexp(x, &e);
    if (m < 0.70710678118654752440) {
        m = s_mul(m, 2.0);
        e--;
    }
    double f = m - 1.0, s = f / (2.0 + f), r = s_mul(s, s), sum = 0.0;
    for (int k = 25; k >= 3; k -= 2) /* atanh series: 2 (s + s^3 / 3 + s^5 / 5 + ...) */
        sum = s_mul(sum, r) + 1.0 / k;
    double hf = s_mul(0.5, s_mul(f, f));
    double lm = f - (hf - s_mul(s, hf + s_mul(s_mul(r, 2.0), sum)));
    return s_mul(e, S_LN2_HI) + (lm + s_mul(e, S_LN2_LO));
}

/* e^t for |t| < 700, from basic operations only. */
static double s_exp(double t)
{
    if (!(fabs(t) < 1000.0))
        return t > 0.0 ? INFINITY : 0.0;
    double n = nearbyint(t / S_LN2_HI);
    double r = (t - s_mul(n, S_LN2_HI)) - s_mul(n, S_LN2_LO), p = 1.0;
    for (int k = 14; k >= 1; k--) /* Taylor, |r| < 0.35: 1 ulp */
        p = 1.0 + s_mul(p, r) / k;
    return ldexp(p, (int)n);
}

/* erfc(x) from basic operations and s_exp: a series below 2, a continued
 * fraction above (good to a few ulps: a prediction need not be exact). */
static double s_erfc(double x)
{
    if (!(x == x))
        return x;
    if (x < 0.0)
        return 2.0 - s_erfc(-x);
    if (x > 27.0)
        return 0.0;
    double e = s_exp(-s_mul(x, x)) * 0.56418958354775628695; /* e^-x^2 / sqrt(pi) */
    if (x >= 2.0) { /* erfc = e / (x + (1/2) / (x + 1 / (x + (3/2) / (x + ...)))) */
        double f = x;
        for (int k = 60; k >= 1; k--) /* within ~30 ulps of glibc's erfc from 2 to 6 */
            f = x + (0.5 * k) / f;
        return e / f;
    }
    /* erf = 2 e sum 2^n x^(2n+1) / (1 3 ... (2n+1)), all terms positive */
    double term = x, sum = x, x2 = s_mul(2.0, s_mul(x, x));
    for (int n = 1; n < 60; n++) {
        term = s_mul(term, x2) / (2 * n + 1);
        sum += term;
    }
    return 1.0 - s_mul(2.0, s_mul(e, sum));
}

/* The value of the predicted column of role from the stored ones and those
 * before it in s_predicted. */
static double s_predict(int role_i, const double *m, const uint8_t *role, const uint64_t *side,
                        double init, double years, uint64_t bars)
{
    double fe = m[role[R_FINAL]], t = m[role[R_TRADES]];
    uint64_t nw = side[0], nl = s_count(t) - nw - bt_jle_unzig(side[1]);
    double gp = nw ? s_mul(m[role[R_AVGWIN]], (double)nw) : 0.0;
    double gl = nl ? s_mul(-m[role[R_AVGLOSS]], (double)nl) : 0.0;
    switch (role_i) {
    case R_TRET:
        return init > 0.0 ? fe / init - 1.0 : 0.0;
    case R_CAGR: {
        double x = fe / init;
        if (!(years > 0.0 && init > 0.0))
            return 0.0;
        if (fe <= 0.0)
            return -1.0;
        return isfinite(x) && fabs(1.0 / years) < 1e3 ? s_exp(s_mul(1.0 / years, s_log(x))) - 1.0
                                                      : 0.0;
    }
    case R_CALMAR:
        return m[role[R_MAXDD]] > 0.0 ? m[role[R_CAGR]] / m[role[R_MAXDD]] : 0.0;
    case R_WIN:
        return t > 0.0 ? (double)nw / t : 0.0;
    case R_PF:
        return gl > 0.0 ? (gp / gl > S_PF_CAP ? S_PF_CAP : gp / gl) : gp > 0.0 ? S_PF_CAP : 0.0;
    case R_EXP:
        return t > 0.0 ? (gp - gl) / t : 0.0;
    case R_EXPO:
        return bars > 0 ? (double)side[2] / (double)bars : 0.0;
    default: { /* R_PSR: the per-step Sharpe over n = bars returns (docs/metrics.md) */
        double nn = (double)bars, ann = years > 0.0 ? sqrt((nn - 1.0) / years) : 0.0;
        double sr = m[role[R_SHARPE]] / ann, sk = m[role[R_SKEW]], ku = m[role[R_KURT]];
        if (!(nn >= 2.0) || !isfinite(sr))
            return 0.5;
        double var = 1.0 - s_mul(sk, sr) + s_mul(s_mul((ku - 1.0) / 4.0, sr), sr);
        if (!(var > 1e-12))
            var = 1e-12;
        double z = s_mul(sr, sqrt(nn - 1.0)) / sqrt(var);
        return s_mul(0.5, s_erfc(-z / 1.41421356237309504880));
    }
    }
}

/* A whole number near v (0 when v is not in range). */
static uint64_t s_near(double v)
{
    return v >= 0.0 && v <= 0x1p52 ? (uint64_t)nearbyint(v) : 0;
}

/* The stored word of a predicted value. */
static uint64_t s_resid(double v, double pred)
{
    return bt_jle_zig(bt_jle_bits(v) - bt_jle_bits(pred));
}

/* Side words of a row: wins, losses (the count that predicts best), exposed. */
static void s_side(const double *m, const uint8_t *role, uint64_t bars, uint64_t *side)
{
    double t = m[role[R_TRADES]];
    uint64_t tn = s_count(t);
    double w = m[role[R_WIN]];
    uint64_t nw = tn && w >= 0.0 && w <= 1.0 ? s_near(w * t) : 0;
    double expo = m[role[R_EXPO]];
    side[0] = nw;
    side[2] = bars && bars <= (1ull << 52) && expo >= 0.0 && expo <= 1.0
                  ? s_near(expo * (double)bars)
                  : 0;
    double al = m[role[R_AVGLOSS]], ex = m[role[R_EXP]];
    uint64_t nl = 0;
    if (tn && al < 0.0 && isfinite(ex)) {
        double gp = nw ? s_mul(m[role[R_AVGWIN]], (double)nw) : 0.0;
        nl = s_near((gp - ex * t) / -al);
    }
    uint64_t best = 0, best_cost = UINT64_MAX;
    for (uint64_t c = nl ? nl - 1 : 0; c <= nl + 1; c++) {
        side[1] = bt_jle_zig(tn - nw - c);
        uint64_t cost = (s_resid(m[role[R_PF]], s_predict(R_PF, m, role, side, 0, 0, bars)) >> 1) +
                        (s_resid(m[role[R_EXP]], s_predict(R_EXP, m, role, side, 0, 0, bars)) >> 1);
        if (cost < best_cost) {
            best_cost = cost;
            best = c;
        }
    }
    side[1] = bt_jle_zig(tn - nw - best);
}

/* The initial equity that gives back total_return from final_equity. */
static double s_find_init(double fe, double tr)
{
    if (!(tr > -1.0) || !isfinite(fe) || !isfinite(tr))
        return 0.0;
    double c = fe / (tr + 1.0);
    if (!(c > 0.0) || !isfinite(c))
        return 0.0;
    double cand[3] = {nearbyint(c), c, nextafter(c, INFINITY)};
    for (int i = 0; i < 3; i++)
        if (cand[i] > 0.0 && bt_jle_bits(fe / cand[i] - 1.0) == bt_jle_bits(tr))
            return cand[i];
    return nearbyint(c) > 0.0 ? nearbyint(c) : c;
}

/* ---- writing ---- */

/* The block kind of a record: 0 none, 1 f64, 2 f32 (count, mean, M2). */
static int s_blk_kind(const bt_journal_rec_t *r)
{
    if (r->nblk == 0 || r->nblk > BT_JOURNAL_MAX_BLK)
        return 0;
    return r->blk_f32 && r->nblk % 3 == 0 ? 2 : 1;
}

static size_t s_bounded_len(const char *s, size_t cap)
{
    size_t n = 0;
    while (n < cap && s[n])
        n++;
    return n;
}

bool bt_jgroup_fits(const bt_jgroup_t *g, const bt_journal_rec_t *r)
{
    if (g->nrec == 0)
        return true;
    size_t nm = r->nmetrics <= BT_JOURNAL_MAX_METRICS ? r->nmetrics : BT_JOURNAL_MAX_METRICS;
    int kind = s_blk_kind(r);
    size_t nb = kind ? r->nblk : 0;
    return (nm == 0 || g->nmet == 0 || g->nmet == nm) &&
           (kind != 1 || g->nblk64 == 0 || g->nblk64 == nb) &&
           (kind != 2 || g->sblk32 == 0 || g->sblk32 == nb / 3) &&
           g->ga.len + g->gb.len + g->gc.len + g->gd.len + S_REC_RAW_MAX <= S_GROUP_RAW_MAX &&
           g->nrec < S_GROUP_MAX_RECS;
}

/* Version 4's constants of a group: the initial equity (from the first row
 * that gives it) and the years of the run (from the row whose growth says
 * the most). B rows are raw: nmet metric words and the record's bars. */
static void s_model_consts(bt_jgroup_t *g)
{
    size_t w = g->nmet + 1;
    const uint8_t *b = (const uint8_t *)g->gb.data;
    double m[BT_JOURNAL_MAX_METRICS];
    g->init = g->years = 0.0;
    double best = 0.0;
    for (size_t r = 0; r < g->rows_b; r++) {
        for (size_t k = 0; k < g->nmet; k++)
            m[k] = bt_jle_double(bt_jle_get_u64(b + 8 * (r * w + k)));
        double fe = m[g->role[R_FINAL]], cagr = m[g->role[R_CAGR]];
        if (g->init == 0.0)
            g->init = s_find_init(fe, m[g->role[R_TRET]]);
        if (g->init > 0.0 && fe > 0.0 && isfinite(fe) && cagr > -1.0 && cagr != 0.0 &&
            isfinite(cagr)) {
            double lx = log(fe / g->init), y = lx / log1p(cagr);
            if (fabs(lx) > best && y > 0.0 && isfinite(y)) {
                best = fabs(lx);
                g->years = y;
            }
        }
    }
}

/* Version 4's B rows as stored (model applied), into g->gtmp. */
static bt_err_t s_model_rows(bt_jgroup_t *g, bt_errbuf_t *eb)
{
    size_t win = g->nmet + 1, wout = g->nmet + (g->model ? S_NSIDE : 0);
    bt_buf_reset(&g->gtmp);
    if (bt_buf_reserve(&g->gtmp, g->rows_b * 8 * wout) != BT_OK)
        return bt_errf(eb, BT_ENOMEM, "out of memory compressing journal records");
    if (g->model)
        s_model_consts(g);
    const uint8_t *b = (const uint8_t *)g->gb.data;
    uint8_t *o = (uint8_t *)g->gtmp.data;
    for (size_t r = 0; r < g->rows_b; r++) {
        double m[BT_JOURNAL_MAX_METRICS];
        uint64_t w[BT_JOURNAL_MAX_METRICS + S_NSIDE];
        for (size_t k = 0; k < g->nmet; k++) {
            w[k] = bt_jle_get_u64(b + 8 * (r * win + k));
            m[k] = bt_jle_double(w[k]);
        }
        if (g->model) {
            uint64_t bars = bt_jle_get_u64(b + 8 * (r * win + g->nmet));
            uint64_t *side = &w[g->nmet];
            s_side(m, g->role, bars, side);
            for (size_t i = 0; i < S_NPRED; i++) {
                uint8_t c = g->role[s_predicted[i]];
                w[c] = s_resid(
                    m[c], s_predict(s_predicted[i], m, g->role, side, g->init, g->years, bars));
            }
        }
        for (size_t k = 0; k < wout; k++)
            bt_jle_put_u64(o + 8 * (r * wout + k), w[k]);
    }
    g->gtmp.len = g->rows_b * 8 * wout;
    return BT_OK;
}

bt_err_t bt_jgroup_add(bt_jgroup_t *g, const bt_journal_rec_t *r, bt_errbuf_t *eb)
{
    size_t nm = r->nmetrics <= BT_JOURNAL_MAX_METRICS ? r->nmetrics : BT_JOURNAL_MAX_METRICS;
    int kind = s_blk_kind(r);
    size_t nb = kind ? r->nblk : 0;
    if (bt_buf_reserve(&g->ga, S_A_MAX) != BT_OK ||
        bt_buf_reserve(&g->gb, 8 * (nm + S_NSIDE)) != BT_OK ||
        bt_buf_reserve(&g->gc, kind == 1 ? 8 * nb : 0) != BT_OK ||
        bt_buf_reserve(&g->gd, kind == 2 ? 4 * nb : 0) != BT_OK)
        return bt_errf(eb, BT_ENOMEM, "out of memory buffering journal records");
    uint8_t *p0 = (uint8_t *)g->ga.data + g->ga.len, *p = p0;
    p = bt_jle_put_varint(p, bt_jle_zig(r->job_id - g->last));
    g->last = r->job_id + 1;
    p = bt_jle_put_varint(p, r->attempt);
    *p++ = (uint8_t)((r->ok ? 1 : 0) | kind << 1);
    p = bt_jle_put_varint(p, nm);
    p = bt_jle_put_varint(p, r->run_us);
    p = bt_jle_put_varint(p, r->bars);
    size_t wl = s_bounded_len(r->worker, sizeof r->worker - 1);
    size_t el = s_bounded_len(r->error, sizeof r->error - 1);
    *p++ = (uint8_t)wl;
    memcpy(p, r->worker, wl);
    p += wl;
    p = bt_jle_put_varint(p, el);
    memcpy(p, r->error, el);
    p += el;
    g->ga.len += (size_t)(p - p0);
    if (nm) {
        if (g->nmet == 0) { /* the group's first metrics: its shape and model */
            g->nmet = nm;
            g->model = false;
            if (g->type == BT_JGROUP_V4 && g->roles) {
                g->model = true;
                for (int k = 0; k < S_NROLE; k++)
                    g->model = g->model && g->role[k] < nm;
            }
        }
        uint8_t *q = (uint8_t *)g->gb.data + g->gb.len;
        if (g->type == BT_JGROUP_V4) { /* raw: the model is applied at close */
            for (size_t k = 0; k < nm; k++)
                bt_jle_put_u64(q + 8 * k, bt_jle_bits(r->metrics[k]));
            bt_jle_put_u64(q + 8 * nm, r->bars);
            g->gb.len += 8 * (nm + 1);
        } else {
            for (size_t k = 0; k < nm; k++)
                bt_jle_put_u64(q + 8 * k, bt_jle_bits(r->metrics[k]));
            g->gb.len += 8 * nm;
        }
        g->rows_b++;
    }
    if (kind == 1) {
        uint8_t *q = (uint8_t *)g->gc.data + g->gc.len;
        for (size_t k = 0; k < nb; k++)
            bt_jle_put_u64(q + 8 * k, bt_jle_bits(r->blk[k]));
        g->gc.len += 8 * nb;
        g->nblk64 = nb;
        g->rows_c++;
    } else if (kind == 2) {
        size_t sb = nb / 3;
        uint8_t *q = (uint8_t *)g->gd.data + g->gd.len;
        for (size_t b = 0; b < sb; b++) {
            double n = r->blk[3 * b];
            bt_jle_put_u32(q + 4 * b, n >= 0 && n < 4294967296.0 ? (uint32_t)n : 0);
            for (size_t k = 1; k <= 2; k++) {
                float f = (float)r->blk[3 * b + k];
                uint32_t bits;
                memcpy(&bits, &f, 4);
                bt_jle_put_u32(q + 4 * (k * sb + b), bits);
            }
        }
        g->gd.len += 12 * sb;
        g->sblk32 = sb;
        g->rows_d++;
    }
    g->nrec++;
    /* bt_buf's invariant (NUL after the content); the bytes are binary */
    bt_buf_t *bufs[4] = {&g->ga, &g->gb, &g->gc, &g->gd};
    for (int i = 0; i < 4; i++)
        if (bufs[i]->data)
            bufs[i]->data[bufs[i]->len] = '\0';
    return BT_OK;
}

/* Rows (row-major words of wbytes) into byte planes at o: version 3 byte k
 * of the row after byte k - 1; version 4 the most significant byte of every
 * word first. Returns the end. */
static uint8_t *s_plane(const uint8_t *m, size_t rows, size_t words, size_t wbytes, bool hi_first,
                        uint8_t *o)
{
    size_t width = words * wbytes;
    for (size_t i = 0; i < width; i++) {
        size_t c = hi_first ? (i % words) * wbytes + (wbytes - 1 - i / words) : i;
        for (size_t r = 0; r < rows; r++)
            *o++ = m[r * width + c];
    }
    return o;
}

/* The inverse of s_plane: planes at src into rows at m. */
static const uint8_t *s_unplane(const uint8_t *src, size_t rows, size_t words, size_t wbytes,
                                bool hi_first, uint8_t *m)
{
    size_t width = words * wbytes;
    for (size_t i = 0; i < width; i++) {
        size_t c = hi_first ? (i % words) * wbytes + (wbytes - 1 - i / words) : i;
        for (size_t r = 0; r < rows; r++)
            m[r * width + c] = *src++;
    }
    return src;
}

/* An f32's bits as an unsigned number in the floats' order, and back. */
static uint32_t s_key(uint32_t x)
{
    return x & 0x80000000u ? ~x : x | 0x80000000u;
}

static uint32_t s_unkey(uint32_t k)
{
    return k & 0x80000000u ? k & 0x7fffffffu : ~k;
}

static uint32_t s_zig32(uint32_t d)
{
    return (d << 1) ^ (0u - (d >> 31));
}

static uint32_t s_unzig32(uint32_t z)
{
    return (z >> 1) ^ (0u - (z & 1));
}

/* Version 4's D rows in place (rows of 3 sb words: counts, means, M2s):
 * means and M2 from the second row on become differences of keys. */
static void s_delta_d(uint8_t *d, size_t rows, size_t sb, bool encode)
{
    size_t w = 12 * sb;
    if (encode) {
        for (size_t r = rows; r-- > 1;) /* from the last row: the previous one is still plain */
            for (size_t k = sb; k < 3 * sb; k++) {
                uint32_t x = bt_jle_get_u32(d + r * w + 4 * k);
                uint32_t p = bt_jle_get_u32(d + (r - 1) * w + 4 * k);
                bt_jle_put_u32(d + r * w + 4 * k, s_zig32(s_key(x) - s_key(p)));
            }
        return;
    }
    for (size_t r = 1; r < rows; r++) { /* from the first: the previous one is plain again */
        for (size_t k = sb; k < 3 * sb; k++) {
            uint32_t z = bt_jle_get_u32(d + r * w + 4 * k);
            uint32_t p = bt_jle_get_u32(d + (r - 1) * w + 4 * k);
            bt_jle_put_u32(d + r * w + 4 * k, s_unkey(s_key(p) + s_unzig32(z)));
        }
    }
}

/* Whether every D row has the counts of the first. */
static bool s_counts_shared(const uint8_t *d, size_t rows, size_t sb)
{
    for (size_t r = 1; r < rows; r++)
        if (memcmp(d + r * 12 * sb, d, 4 * sb) != 0)
            return false;
    return rows > 0;
}

static void s_reset(bt_jgroup_t *g)
{
    bt_buf_reset(&g->ga);
    bt_buf_reset(&g->gb);
    bt_buf_reset(&g->gc);
    bt_buf_reset(&g->gd);
    g->nrec = g->rows_b = g->rows_c = g->rows_d = 0;
    g->nmet = g->nblk64 = g->sblk32 = 0;
    g->model = false;
    g->init = g->years = 0.0;
    g->last = 0;
}

/* compress2's bytes, from one deflate state kept across groups: deflateInit
 * allocates and clears ~270 KB, more than deflating a small group costs. */
static int s_deflate(bt_jgroup_t *g, uint8_t *dst, uLongf *dlen, size_t raw, int level)
{
    if (!g->zs_on) {
        memset(&g->zs, 0, sizeof g->zs);
        int rc = deflateInit(&g->zs, level);
        if (rc != Z_OK)
            return rc;
        g->zs_on = true;
    } else if (deflateReset(&g->zs) != Z_OK) {
        return Z_STREAM_ERROR;
    }
    g->zs.next_in = (Bytef *)g->graw.data;
    g->zs.avail_in = (uInt)raw; /* raw <= BT_JGROUP_RAW_MAX + one record */
    g->zs.next_out = dst;
    g->zs.avail_out = (uInt)*dlen;
    int rc = deflate(&g->zs, Z_FINISH);
    if (rc != Z_STREAM_END)
        return rc == Z_OK ? Z_BUF_ERROR : rc;
    *dlen = g->zs.total_out;
    return Z_OK;
}

bt_err_t bt_jgroup_close(bt_jgroup_t *g, bt_buf_t *out, bt_errbuf_t *eb)
{
    if (g->nrec == 0)
        return BT_OK;
    bool v4 = g->type == BT_JGROUP_V4;
    size_t rb = g->rows_b, rc = g->rows_c, rd = g->rows_d, sb = g->sblk32;
    size_t words_b = g->nmet + (g->model ? S_NSIDE : 0);
    bool shared = v4 && s_counts_shared((const uint8_t *)g->gd.data, rd, sb);
    if (v4 && s_model_rows(g, eb) != BT_OK)
        return eb->code;
    size_t len_b = v4 ? g->gtmp.len : g->gb.len;
    size_t raw = g->ga.len + len_b + g->gc.len + g->gd.len - (shared ? 4 * sb * (rd - 1) : 0);
    size_t head = v4 ? S_HEAD4 : S_HEAD3;
    uLongf zl = (uLongf)compressBound((uLong)raw);
    if (bt_buf_reserve(&g->graw, raw) != BT_OK || bt_buf_reserve(out, head + (size_t)zl) != BT_OK)
        return bt_errf(eb, BT_ENOMEM, "out of memory compressing journal records");
    uint8_t *o = (uint8_t *)g->graw.data;
    memcpy(o, g->ga.data, g->ga.len);
    o += g->ga.len;
    o = s_plane((const uint8_t *)(v4 ? g->gtmp.data : g->gb.data), rb, words_b, 8, v4, o);
    o = s_plane((const uint8_t *)g->gc.data, rc, g->nblk64, 8, v4, o);
    uint8_t *d = (uint8_t *)g->gd.data;
    if (v4 && rd) {
        s_delta_d(d, rd, sb, true);
        if (shared) { /* the counts once, then rows of means and M2s */
            memcpy(o, d, 4 * sb);
            o += 4 * sb;
            for (size_t r = 0; r < rd; r++)
                memmove(d + r * 8 * sb, d + r * 12 * sb + 4 * sb, 8 * sb);
        }
    }
    o = s_plane(d, rd, (shared ? 2 : 3) * sb, 4, v4, o);
    uint8_t *p = (uint8_t *)out->data + out->len;
    if (s_deflate(g, p + head, &zl, raw, v4 ? S_ZLEVEL : S_ZLEVEL3) != Z_OK)
        return bt_errf(eb, BT_EINTERNAL, "journal: deflate failed");
    p[0] = (uint8_t)g->type;
    bt_jle_put_u32(p + 1, (uint32_t)g->nrec);
    bt_jle_put_u32(p + 5, (uint32_t)raw);
    bt_jle_put_u32(p + 9, (uint32_t)g->ga.len);
    bt_jle_put_u16(p + 13, (uint16_t)g->nmet);
    bt_jle_put_u16(p + 15, (uint16_t)g->nblk64);
    bt_jle_put_u16(p + 17, (uint16_t)sb);
    if (v4) {
        p[19] = (uint8_t)((g->model ? 1 : 0) | (shared ? 2 : 0));
        bt_jle_put_u64(p + 20, bt_jle_bits(g->init));
        bt_jle_put_u64(p + 28, bt_jle_bits(g->years));
        memcpy(p + 36, g->role, S_NROLE);
    }
    out->len += head + (size_t)zl;
    out->data[out->len] = '\0';
    s_reset(g);
    return BT_OK;
}

/* ---- reading ---- */

/* The header fields of a group payload. */
typedef struct {
    int type;
    uint32_t nrec, raw, alen;
    size_t nmet, nb64, sb32, head;
    bool model, shared;
    double init, years;
    uint8_t role[S_NROLE];
} s_ghead_t;

static bool s_read_head(const uint8_t *pl, size_t n, s_ghead_t *h)
{
    if (n < S_HEAD3 || (pl[0] != BT_JGROUP_V3 && pl[0] != BT_JGROUP_V4))
        return false;
    h->type = pl[0];
    h->head = h->type == BT_JGROUP_V4 ? S_HEAD4 : S_HEAD3;
    if (n < h->head)
        return false;
    h->nrec = bt_jle_get_u32(pl + 1);
    h->raw = bt_jle_get_u32(pl + 5);
    h->alen = bt_jle_get_u32(pl + 9);
    h->nmet = bt_jle_get_u16(pl + 13);
    h->nb64 = bt_jle_get_u16(pl + 15);
    h->sb32 = bt_jle_get_u16(pl + 17);
    h->model = h->shared = false;
    h->init = h->years = 0.0;
    if (h->type == BT_JGROUP_V4) {
        if (pl[19] > 3)
            return false;
        h->model = pl[19] & 1;
        h->shared = pl[19] & 2;
        h->init = bt_jle_double(bt_jle_get_u64(pl + 20));
        h->years = bt_jle_double(bt_jle_get_u64(pl + 28));
        memcpy(h->role, pl + 36, S_NROLE);
        for (int r = 0; r < S_NROLE && h->model; r++) { /* distinct columns of the metrics */
            if (h->role[r] >= h->nmet)
                return false;
            for (int q = 0; q < r; q++)
                if (h->role[q] == h->role[r])
                    return false;
        }
    }
    return h->nrec != 0 && h->raw <= BT_JGROUP_RAW_MAX && h->alen <= h->raw &&
           h->nmet <= BT_JOURNAL_MAX_METRICS && h->nb64 <= BT_JOURNAL_MAX_BLK &&
           3 * h->sb32 <= BT_JOURNAL_MAX_BLK && (!h->shared || h->sb32 > 0);
}

/* One record's A fields. */
typedef struct {
    uint64_t job, att, nm, run, bars;
    uint8_t flags;
    const uint8_t *wp, *ep;
    size_t wl, el;
} s_afields_t;

static bool s_read_a(const uint8_t **pp, const uint8_t *aend, const s_ghead_t *h, uint64_t *last,
                     s_afields_t *f)
{
    const uint8_t *p = *pp;
    uint64_t dz, el;
    if (!bt_jle_get_varint(&p, aend, &dz) || !bt_jle_get_varint(&p, aend, &f->att) || p >= aend)
        return false;
    f->flags = *p++;
    if (f->flags > 5 || !bt_jle_get_varint(&p, aend, &f->nm) ||
        !bt_jle_get_varint(&p, aend, &f->run) || !bt_jle_get_varint(&p, aend, &f->bars) ||
        p >= aend)
        return false;
    f->wl = *p++;
    if (f->wl >= sizeof((bt_journal_rec_t *)0)->worker || (size_t)(aend - p) < f->wl)
        return false;
    f->wp = p;
    p += f->wl;
    if (!bt_jle_get_varint(&p, aend, &el) || el >= sizeof((bt_journal_rec_t *)0)->error ||
        (size_t)(aend - p) < el)
        return false;
    f->el = (size_t)el;
    f->ep = p;
    p += el;
    int kind = f->flags >> 1;
    if ((f->nm != 0 && f->nm != h->nmet) || f->att > UINT32_MAX || kind > 2 ||
        (kind == 1 && h->nb64 == 0) || (kind == 2 && h->sb32 == 0))
        return false;
    f->job = *last + bt_jle_unzig(dz);
    *last = f->job + 1;
    *pp = p;
    return true;
}

/* Row r of B into rec's metrics (version 4: the model's columns decoded). */
static void s_get_row_b(const s_ghead_t *h, const uint8_t *row, uint64_t bars,
                        bt_journal_rec_t *rec)
{
    for (size_t k = 0; k < h->nmet; k++)
        rec->metrics[k] = bt_jle_double(bt_jle_get_u64(row + 8 * k));
    if (!h->model)
        return;
    uint64_t side[S_NSIDE];
    for (size_t k = 0; k < S_NSIDE; k++)
        side[k] = bt_jle_get_u64(row + 8 * (h->nmet + k));
    for (size_t i = 0; i < S_NPRED; i++) { /* in order: calmar needs cagr */
        uint8_t c = h->role[s_predicted[i]];
        uint64_t z = bt_jle_bits(rec->metrics[c]);
        double pred =
            s_predict(s_predicted[i], rec->metrics, h->role, side, h->init, h->years, bars);
        rec->metrics[c] = bt_jle_double(bt_jle_bits(pred) + bt_jle_unzig(z));
    }
}

bool bt_jgroup_walk(bt_jgroup_t *g, const uint8_t *pl, size_t n,
                    void (*fn)(void *user, const bt_journal_rec_t *r), void *user, uint64_t *count)
{
    s_ghead_t h;
    if (!s_read_head(pl, n, &h) || bt_buf_reserve(&g->graw, h.raw) != BT_OK)
        return false;
    uLongf got = h.raw;
    if (uncompress((Bytef *)g->graw.data, &got, pl + h.head, (uLong)(n - h.head)) != Z_OK ||
        got != h.raw)
        return false;
    const uint8_t *a = (const uint8_t *)g->graw.data, *aend = a + h.alen;
    /* rows per section, so the byte planes can be found */
    size_t rb = 0, rc = 0, rd = 0;
    const uint8_t *p = a;
    uint64_t last = 0;
    s_afields_t f;
    for (uint32_t i = 0; i < h.nrec; i++) {
        if (!s_read_a(&p, aend, &h, &last, &f))
            return false;
        rb += f.nm != 0;
        rc += (f.flags >> 1) == 1;
        rd += (f.flags >> 1) == 2;
    }
    bool v4 = h.type == BT_JGROUP_V4;
    size_t wb = 8 * (h.nmet + (h.model ? S_NSIDE : 0)), wc = 8 * h.nb64;
    size_t wd = 4 * (h.shared ? 2 : 3) * h.sb32;
    if (p != aend || (h.shared && rd == 0) ||
        h.alen + rb * wb + rc * wc + (h.shared ? 4 * h.sb32 : 0) + rd * wd != h.raw)
        return false;
    /* B, C, D back into rows (D always with its counts) */
    size_t nb = rb * wb, nc = rc * wc, nd = rd * 12 * h.sb32;
    bt_buf_reset(&g->gtmp);
    if (bt_buf_reserve(&g->gtmp, nb + nc + nd) != BT_OK)
        return false;
    uint8_t *B = (uint8_t *)g->gtmp.data, *C = B + nb, *D = C + nc;
    const uint8_t *s = s_unplane(aend, rb, wb / 8, 8, v4, B);
    s = s_unplane(s, rc, h.nb64, 8, v4, C);
    const uint8_t *counts = s;
    if (h.shared)
        s += 4 * h.sb32;
    s_unplane(s, rd, wd / 4, 4, v4, D);
    if (h.shared) /* rows of (means, M2s) -> rows of (counts, means, M2s), from the last */
        for (size_t r = rd; r-- > 0;) {
            memmove(D + r * 12 * h.sb32 + 4 * h.sb32, D + r * 8 * h.sb32, 8 * h.sb32);
            memcpy(D + r * 12 * h.sb32, counts, 4 * h.sb32);
        }
    if (v4)
        s_delta_d(D, rd, h.sb32, false);
    if (count)
        *count = h.nrec;
    if (!fn) /* well-formed: the rest cannot fail */
        return true;
    p = a;
    last = 0;
    size_t ib = 0, ic = 0, id = 0;
    bt_journal_rec_t *r = &g->rec;
    for (uint32_t i = 0; i < h.nrec; i++) {
        s_read_a(&p, aend, &h, &last, &f); /* checked above */
        r->job_id = f.job;
        r->attempt = (uint32_t)f.att;
        r->ok = f.flags & 1;
        memcpy(r->error, f.ep, f.el);
        r->error[f.el] = '\0';
        memcpy(r->worker, f.wp, f.wl);
        r->worker[f.wl] = '\0';
        r->run_us = f.run;
        r->bars = f.bars;
        r->nmetrics = (size_t)f.nm;
        if (f.nm)
            s_get_row_b(&h, B + ib++ * wb, f.bars, r);
        int kind = f.flags >> 1;
        r->nblk = 0;
        r->blk_f32 = 0;
        if (kind == 1) {
            for (size_t k = 0; k < h.nb64; k++)
                r->blk[k] = bt_jle_double(bt_jle_get_u64(C + ic * wc + 8 * k));
            r->nblk = (uint32_t)h.nb64;
            ic++;
        } else if (kind == 2) {
            const uint8_t *row = D + id * 12 * h.sb32;
            for (size_t b = 0; b < h.sb32; b++) {
                r->blk[3 * b] = (double)bt_jle_get_u32(row + 4 * b);
                for (size_t k = 1; k <= 2; k++) {
                    uint32_t bits = bt_jle_get_u32(row + 4 * (k * h.sb32 + b));
                    float fl;
                    memcpy(&fl, &bits, 4);
                    r->blk[3 * b + k] = fl;
                }
            }
            r->nblk = (uint32_t)(3 * h.sb32);
            r->blk_f32 = 1;
            id++;
        }
        fn(user, r);
    }
    return true;
}
