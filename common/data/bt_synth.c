/* bt_synth — seeded synthetic market. The model and its constants are
 * described in docs/synth.md; keep the two in step. */
#include "bt_synth.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bt_store.h"
#include "bt_time.h"

/* ---- PRNG: splitmix64 for seeding, xoshiro256** for the streams ---- */

typedef struct {
    uint64_t s[4];   /* xoshiro256** state */
    double spare;    /* second normal of the last polar pair */
    bool has_spare;  /* spare is valid */
} s_rng_t;

static uint64_t s_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static inline uint64_t s_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t s_next(s_rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t result = s_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = s_rotl(s[3], 45);
    return result;
}

/* Stream for (seed, tag): two splitmix64 mixes so that nearby seeds and
 * nearby tags give unrelated states. */
static void s_rng_seed(s_rng_t *r, uint64_t seed, uint64_t tag)
{
    uint64_t x = seed;
    uint64_t a = s_splitmix64(&x);
    uint64_t y = tag ^ UINT64_C(0xD1B54A32D192ED03);
    uint64_t b = s_splitmix64(&y);
    uint64_t z = a ^ (b * UINT64_C(0xAEF17502108EF2D9));
    for (int i = 0; i < 4; i++)
        r->s[i] = s_splitmix64(&z);
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3]))
        r->s[0] = 1; /* the all-zero state is the one fixed point */
    r->has_spare = false;
    r->spare = 0.0;
}

/* Uniform in [0, 1), 53 bits. */
static inline double s_unif(s_rng_t *r)
{
    return (double)(s_next(r) >> 11) * 0x1.0p-53;
}

/* Uniform in (0, 1]: safe for log(). */
static inline double s_unif_pos(s_rng_t *r)
{
    return (double)((s_next(r) >> 11) + 1) * 0x1.0p-53;
}

/* Standard normal, Marsaglia's polar method (two per accepted pair). */
static inline double s_normal(s_rng_t *r)
{
    if (r->has_spare) {
        r->has_spare = false;
        return r->spare;
    }
    double u, v, q;
    do {
        u = 2.0 * s_unif(r) - 1.0;
        v = 2.0 * s_unif(r) - 1.0;
        q = u * u + v * v;
    } while (q >= 1.0 || q == 0.0);
    double f = sqrt(-2.0 * log(q) / q);
    r->spare = v * f;
    r->has_spare = true;
    return u * f;
}

static inline double s_uniform_in(s_rng_t *r, double lo, double hi)
{
    return lo + (hi - lo) * s_unif(r);
}

/* ---- Model constants (docs/synth.md) ---- */

#define S_TAG_MARKET UINT64_C(0x4D41524B4554) /* "MARKET" */
#define S_TAG_SYMBOL UINT64_C(0x53594D0000000000)

#define S_TDAYS_PER_YEAR 258.75 /* 365.25 * 5/7 weekdays minus 3 * 5/7 holidays */
#define S_OVERNIGHT_FRAC 0.2    /* share of a day's variance in the overnight gap */
#define S_P_CALM_TO_STRESS (1.0 / 250.0) /* per trading day */
#define S_P_STRESS_TO_CALM (1.0 / 40.0)  /* per trading day */
#define S_MKT_VOL_CALM 0.13     /* annual market-factor volatility */
#define S_MKT_VOL_STRESS 0.38
#define S_MKT_DRIFT_CALM 0.05   /* annual market-factor drift */
#define S_MKT_DRIFT_STRESS (-0.30)
#define S_IDIO_MULT_STRESS 1.8  /* idiosyncratic volatility multiplier when stressed */
#define S_P_MKT_GAP 0.004       /* per day: market-wide overnight gap */
#define S_P_SYM_GAP 0.015       /* per day: symbol's own overnight gap (news) */
#define S_GAP_SIGMAS 3.0        /* gap size: normal with this many daily sigmas */
#define S_VOL_NOISE 0.35        /* log-normal noise of volume */

typedef enum { S_F1D = 0, S_F1H, S_F1M } s_freq_t;

typedef struct {
    const char *name;   /* "1d" */
    int bars_per_day;   /* bars in a session */
    int64_t first;      /* ns after midnight UTC of the first bar */
    int64_t step;       /* ns between bars of a session */
} s_freq_info_t;

static const s_freq_info_t s_freqs[] = {
    {"1d", 1, 0, 0},
    {"1h", 7, 10 * BT_NS_PER_HOUR, BT_NS_PER_HOUR},
    {"1m", 390, 9 * BT_NS_PER_HOUR + 30 * BT_NS_PER_MIN, BT_NS_PER_MIN},
};

static int s_freq_find(const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < (int)(sizeof s_freqs / sizeof s_freqs[0]); i++)
        if (strcmp(s_freqs[i].name, name) == 0)
            return i;
    return -1;
}

/* Fixed-date holidays: Jan 1, Jul 4, Dec 25 (no weekend shift). */
static bool s_trading_day(int64_t day)
{
    int64_t w = (day + 3) % 7; /* 1970-01-01 was a Thursday; 0 = Monday */
    if (w < 0)
        w += 7;
    if (w >= 5)
        return false;
    int y, m, d;
    bt_civil_from_days(day, &y, &m, &d);
    return !((m == 1 && d == 1) || (m == 7 && d == 4) || (m == 12 && d == 25));
}

static int64_t s_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* ---- Public ---- */

void bt_synth_opts_defaults(bt_synth_opts_t *o)
{
    o->nsym = 4;
    o->nbars = 2520;
    o->freq = "1d";
    o->seed = 42;
    o->start = bt_days_from_civil(2010, 1, 4) * BT_NS_PER_DAY;
}

bt_err_t bt_synth_check(const bt_synth_opts_t *o, bt_errbuf_t *eb)
{
    if (o->nsym < 1 || o->nsym > BT_SYNTH_MAX_SYMBOLS)
        return bt_errf(eb, BT_ERANGE, "--symbols %zu is out of range: give 1 to %d", o->nsym,
                       BT_SYNTH_MAX_SYMBOLS);
    if (o->nbars < 1 || (uint64_t)o->nbars > BT_SYNTH_MAX_BARS)
        return bt_errf(eb, BT_ERANGE, "--bars %zu is out of range: give 1 to %llu per symbol",
                       o->nbars, (unsigned long long)BT_SYNTH_MAX_BARS);
    int f = s_freq_find(o->freq);
    if (f < 0)
        return bt_errf(eb, BT_EINVAL, "--freq '%s' is not supported: use 1d, 1h or 1m",
                       o->freq ? o->freq : "(null)");
    int64_t start_day = s_floor_div(o->start, BT_NS_PER_DAY);
    int64_t lo = bt_days_from_civil(1700, 1, 1), hi = bt_days_from_civil(2262, 1, 1);
    if (start_day < lo || start_day >= hi)
        return bt_errf(eb, BT_ERANGE, "--start is out of range: give a date from 1700 to 2261");
    /* Upper bound of the calendar days needed: trading days plus weekends
     * plus at most 3 holidays a year, plus a week of slack. */
    uint64_t bpd = (uint64_t)s_freqs[f].bars_per_day;
    uint64_t tdays = ((uint64_t)o->nbars + bpd - 1) / bpd;
    uint64_t with_hol = tdays + 3 * (tdays / 250 + 1);
    uint64_t cal = with_hol * 7 / 5 + 7;
    if (cal >= (uint64_t)(hi - start_day))
        return bt_errf(eb, BT_ERANGE,
                       "--bars %zu at --freq %s from this --start runs past the year 2261 "
                       "(timestamps are int64 ns): use fewer bars or an earlier start",
                       o->nbars, s_freqs[f].name);
    return BT_OK;
}

void bt_synth_symbol(size_t sym_index, char *buf, size_t cap)
{
    snprintf(buf, cap, "SYN%03zu", sym_index);
}

typedef struct {
    double beta;    /* loading on the market factor */
    double mu;      /* own annual drift */
    double sigma;   /* own annual idiosyncratic volatility (calm) */
    double price0;  /* close before the first bar */
    double volume0; /* typical shares per day */
} s_sym_params_t;

static void s_draw_params(s_rng_t *r, s_sym_params_t *p)
{
    p->beta = s_uniform_in(r, 0.7, 1.3);
    p->mu = s_uniform_in(r, 0.0, 0.12);
    p->sigma = s_uniform_in(r, 0.10, 0.25);
    p->price0 = exp(s_uniform_in(r, log(20.0), log(200.0)));
    p->volume0 = exp(s_uniform_in(r, log(3e5), log(3e6)));
}

bt_err_t bt_synth_generate(const bt_synth_opts_t *o, size_t sym_index, bt_bars_t *out,
                           bt_errbuf_t *eb)
{
    assert(o && out);
    bt_err_t rc = bt_synth_check(o, eb);
    if (rc != BT_OK)
        return rc;
    const s_freq_info_t *fi = &s_freqs[s_freq_find(o->freq)];
    const int bpd = fi->bars_per_day;

    s_rng_t mkt, sym;
    s_rng_seed(&mkt, o->seed, S_TAG_MARKET);
    s_rng_seed(&sym, o->seed, S_TAG_SYMBOL + (uint64_t)sym_index);
    s_sym_params_t p;
    s_draw_params(&sym, &p);

    /* Per-regime constants (0 calm, 1 stressed), in units of one trading day. */
    const double dt_day = 1.0 / S_TDAYS_PER_YEAR;
    const double dt_on = S_OVERNIGHT_FRAC * dt_day;
    const double dt_bar = (1.0 - S_OVERNIGHT_FRAC) * dt_day / bpd;
    double mvol[2] = {S_MKT_VOL_CALM, S_MKT_VOL_STRESS};
    double ivol[2] = {p.sigma, p.sigma * S_IDIO_MULT_STRESS};
    double drift[2], var[2];
    for (int g = 0; g < 2; g++) {
        double mu_reg = p.mu + p.beta * (g ? S_MKT_DRIFT_STRESS : S_MKT_DRIFT_CALM);
        var[g] = p.beta * p.beta * mvol[g] * mvol[g] + ivol[g] * ivol[g];
        drift[g] = mu_reg - 0.5 * var[g]; /* log drift per year */
    }
    const double sd_bar_calm = sqrt(var[0] * dt_bar);
    const double sq_on = sqrt(dt_on), sq_bar = sqrt(dt_bar);
    const double sd_day_m[2] = {p.beta * mvol[0] * sqrt(dt_day), p.beta * mvol[1] * sqrt(dt_day)};
    const double sd_day_tot[2] = {sqrt(var[0] * dt_day), sqrt(var[1] * dt_day)};

    /* Intraday volume profile: U-shaped, mean 1 over the session. */
    double wsum = 0.0;
    for (int j = 0; j < bpd; j++) {
        double u = bpd > 1 ? 2.0 * (j + 0.5) / bpd - 1.0 : 0.0;
        wsum += 1.0 + 1.2 * u * u;
    }
    const double wnorm = bpd / wsum;
    const double vol_per_bar = p.volume0 / bpd;
    const double vol_bias = -0.5 * S_VOL_NOISE * S_VOL_NOISE; /* mean-1 log-normal */

    int64_t day = s_floor_div(o->start, BT_NS_PER_DAY);
    int regime = 0;
    bool first_day = true;
    double prev_close = p.price0;
    size_t done = 0;
    while (done < o->nbars) {
        if (!s_trading_day(day)) {
            day++;
            continue;
        }
        /* Market draws of the day, in a fixed order (same for every symbol). */
        if (!first_day) {
            double u = s_unif(&mkt);
            if (regime == 0 && u < S_P_CALM_TO_STRESS)
                regime = 1;
            else if (regime == 1 && u < S_P_STRESS_TO_CALM)
                regime = 0;
        }
        first_day = false;
        double mkt_gap = 0.0;
        if (s_unif(&mkt) < S_P_MKT_GAP)
            mkt_gap = S_GAP_SIGMAS * sd_day_m[regime] * s_normal(&mkt);
        double zm_on = s_normal(&mkt);
        /* The symbol's own draws of the day. */
        double zi_on = s_normal(&sym);
        double sym_gap = 0.0;
        if (s_unif(&sym) < S_P_SYM_GAP)
            sym_gap = S_GAP_SIGMAS * sd_day_tot[regime] * s_normal(&sym);

        const double bm = p.beta * mvol[regime], si = ivol[regime];
        const double s2_bar = var[regime] * dt_bar;
        const double mu_bar = drift[regime] * dt_bar;
        double gap = drift[regime] * dt_on + sq_on * (bm * zm_on + si * zi_on) + mkt_gap + sym_gap;
        int64_t t0 = day * BT_NS_PER_DAY + fi->first;

        for (int j = 0; j < bpd && done < o->nbars; j++, done++) {
            double zm = s_normal(&mkt);
            double zi = s_normal(&sym);
            double open = j == 0 ? prev_close * exp(gap) : prev_close;
            double x = mu_bar + sq_bar * (bm * zm + si * zi);
            /* Extremes of a Brownian bridge from 0 to x with variance s2:
             * max = (x + sqrt(x^2 - 2 s2 ln U)) / 2, min likewise. */
            double hi_up = 0.5 * (x + sqrt(x * x - 2.0 * s2_bar * log(s_unif_pos(&sym))));
            double lo_dn = 0.5 * (x - sqrt(x * x - 2.0 * s2_bar * log(s_unif_pos(&sym))));
            double close = open * exp(x);
            double high = open * exp(hi_up);
            double low = open * exp(lo_dn);
            if (high < open)
                high = open;
            if (high < close)
                high = close;
            if (low > open)
                low = open;
            if (low > close)
                low = close;
            /* Volume: profile * (more on big moves, relative to the calm
             * bar sigma, so stressed days trade more) * log-normal noise. */
            double u = bpd > 1 ? 2.0 * (j + 0.5) / bpd - 1.0 : 0.0;
            double move = fabs(x - mu_bar) + (j == 0 ? fabs(gap) * 0.5 : 0.0);
            double v = vol_per_bar * wnorm * (1.0 + 1.2 * u * u) *
                       (0.5 + 0.6 * move / sd_bar_calm) *
                       exp(S_VOL_NOISE * s_normal(&sym) + vol_bias);
            v = floor(v) + 1.0;
            bt_err_t prc = bt_bars_push(out, t0 + j * fi->step, open, high, low, close, v, NAN);
            if (prc != BT_OK)
                return bt_errf(eb, prc, "synth: out of memory after %zu bars of symbol %zu", done,
                               sym_index);
            prev_close = close;
        }
        day++;
    }
    return BT_OK;
}

bt_err_t bt_synth_write(const char *path, const bt_synth_opts_t *o, bool replace, bool deflate,
                        bt_errbuf_t *eb)
{
    assert(path && o);
    bt_err_t rc = bt_synth_check(o, eb);
    if (rc != BT_OK)
        return rc;
    const char *freq = s_freqs[s_freq_find(o->freq)].name;
    char name[BT_SYMBOL_MAX];

    /* Refuse before writing anything if a symbol exists and !replace. */
    if (!replace) {
        FILE *f = fopen(path, "rb");
        if (f) {
            fclose(f);
            char **names = NULL;
            size_t n = 0;
            rc = bt_store_names(path, &names, &n, eb);
            if (rc != BT_OK)
                return rc;
            for (size_t k = 0; k < o->nsym && rc == BT_OK; k++) {
                bt_synth_symbol(k, name, sizeof name);
                for (size_t i = 0; i < n; i++)
                    if (strcmp(names[i], name) == 0) {
                        rc = bt_errf(eb, BT_EEXIST,
                                     "%s already holds symbol %s: pass --replace to overwrite "
                                     "the synthetic symbols, or choose another --out",
                                     path, name);
                        break;
                    }
            }
            bt_store_names_free(names, n);
            if (rc != BT_OK)
                return rc;
        }
    }

    bt_store_meta_t meta;
    memset(&meta, 0, sizeof meta);
    snprintf(meta.source, sizeof meta.source, "synth seed=%llu freq=%s",
             (unsigned long long)o->seed, freq);
    snprintf(meta.frequency, sizeof meta.frequency, "%s", freq);

    /* One buffer for every symbol; the view carries each symbol's name. */
    bt_bars_t *bars = bt_bars_new("SYN", o->nbars);
    if (!bars)
        return bt_errf(eb, BT_ENOMEM, "synth: cannot allocate %zu bars", o->nbars);
    for (size_t k = 0; k < o->nsym && rc == BT_OK; k++) {
        bt_bars_clear(bars);
        rc = bt_synth_generate(o, k, bars, eb);
        if (rc == BT_OK) {
            bt_series_t s = bt_bars_view(bars);
            bt_synth_symbol(k, s.symbol, sizeof s.symbol);
            rc = bt_store_write(path, &s, &meta, replace, deflate, eb);
        }
    }
    bt_bars_destroy(&bars);
    return rc;
}
