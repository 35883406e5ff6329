/* bt_overfit — how much a sweep's winner is owed to luck: the deflated
 * Sharpe ratio (Bailey & Lopez de Prado 2014) and the probability of
 * backtest overfitting by combinatorially symmetric cross-validation (Bailey,
 * Borwein, Lopez de Prado & Zhu 2015). Pure functions; definitions, choices
 * and figures are in docs/overfitting.md.
 *
 * Every Sharpe ratio here is per step (not annualised): mean / sample
 * standard deviation of the per-step returns, 0 when the deviation is 0. */
#ifndef BT_OVERFIT_H
#define BT_OVERFIT_H

#include <stddef.h>
#include <stdint.h>

#include "bt_err.h"

/* Standard normal distribution function Phi(x) (erfc from libm). */
double bt_overfit_norm_cdf(double x);
/* Its inverse Phi^-1(p): Acklam's rational approximation plus one Newton
 * (Halley) step, |error| < 1e-13 on (0, 1). p is clamped to
 * [1e-300, 1 - 2^-53]; the result is always finite. */
double bt_overfit_norm_ppf(double p);

/* Expected maximum of ntrials per-step Sharpe ratios of zero true skill whose
 * sample variance across trials is var_sr:
 *   sqrt(V) ((1 - g) Phi^-1(1 - 1/N) + g Phi^-1(1 - 1/(N e))), g = 0.5772...
 * 0 when ntrials < 2 or var_sr <= 0 (no selection, or nothing to select). */
double bt_overfit_expected_max_sharpe(uint64_t ntrials, double var_sr);

/* Deflated Sharpe ratio of the best of ntrials trials. */
typedef struct bt_dsr {
    double dsr;        /* PSR of the best trial against sr0: in [0, 1] */
    double sr_best;    /* per-step Sharpe of the best trial */
    double sr0;        /* expected max Sharpe of ntrials noise trials */
    double var_sr;     /* sample variance of the trials' Sharpe ratios */
    uint64_t ntrials;  /* trials */
    double n;          /* returns of the best trial */
} bt_dsr_t;

/* sr: ntrials per-step Sharpe ratios (finite); best: index of the winner;
 * n, skew, kurt: its number of returns, skewness and Pearson kurtosis.
 * BT_EINVAL with a message when ntrials == 0 or n < 2 (too few returns).
 * One trial is valid: sr0 = 0 and the DSR is the plain PSR. */
bt_err_t bt_overfit_dsr(const double *sr, size_t ntrials, size_t best, double n, double skew,
                        double kurt, bt_dsr_t *out, bt_errbuf_t *eb);

/* Per-step Sharpe from summed block statistics: count, sum and sum of
 * squares of returns. 0 when count < 2 or the variance is not positive. */
double bt_overfit_sharpe_sums(double count, double sum, double sumsq);

/* PBO by CSCV. */
typedef struct bt_pbo {
    double pbo;           /* fraction of splits whose IS-best trial is at or below the OOS median */
    double median_logit;  /* median over splits of lambda = logit(OOS relative rank) */
    double prob_oos_loss; /* fraction of splits where the IS-best trial loses money OOS */
    uint64_t splits;      /* splits evaluated */
    uint64_t splits_all;  /* C(S, S/2) */
    uint32_t blocks;      /* S */
    uint64_t trials;      /* T */
    int sampled;          /* 1 when splits < splits_all (deterministic sample) */
} bt_pbo_t;

/* Splits evaluated by default (docs/overfitting.md "Splits"): every one of
 * the C(S, S/2) when trials x C(S, S/2) x S <= BT_PBO_FULL_WORK (the rule
 * of earlier versions, so small sweeps keep their figures; 1,953 trials at
 * S = 16), else BT_PBO_SAMPLE_SPLITS of them: complement pairs drawn
 * without replacement with the fixed seed BT_PBO_SEED, enough for the PBO
 * to be within +-0.01 of the all-splits figure (measured up to 1M trials:
 * bench_sweep, scale part). */
#define BT_PBO_FULL_WORK 4.0e8
#define BT_PBO_SAMPLE_SPLITS 6000u
#define BT_PBO_MAX_ALL (1u << 22)
#define BT_PBO_SEED 0x5bd1e9955bd1e995ull

/* The number of splits bt_overfit_pbo evaluates for ntrials trials of
 * nblocks blocks (0 when nblocks is invalid). */
uint64_t bt_overfit_pbo_default_splits(size_t ntrials, uint32_t nblocks);

/* stats: ntrials x nblocks pairs (mean, M2) of each block's returns, trial-
 * major: stats[2 (t nblocks + b)] = mean, [+1] = sum of squared deviations
 * from it; count: the nblocks block sizes, the same for every trial.
 * nblocks even in [2, 32]. Evaluates bt_overfit_pbo_default_splits splits.
 * The IS-best is the trial with the highest IS Sharpe (ties: lowest index);
 * its OOS rank counts ties as half. Errors (BT_EINVAL, with a message fit for
 * summary.txt): fewer than 2 trials, a block with fewer than 2 returns
 * (series shorter than 2 x blocks), nblocks invalid; BT_ENOMEM. */
bt_err_t bt_overfit_pbo(const float *stats, const double *count, size_t ntrials,
                        uint32_t nblocks, bt_pbo_t *out, bt_errbuf_t *eb);
/* The same, and *logits (malloc'd, caller frees; NULL on error) gets every
 * evaluated split's logit lambda, ascending (out->splits of them): the
 * distribution report.html draws. */
bt_err_t bt_overfit_pbo_logits(const float *stats, const double *count, size_t ntrials,
                               uint32_t nblocks, bt_pbo_t *out, double **logits,
                               bt_errbuf_t *eb);
/* The same with a chosen number of splits (0: the default; rounded up to
 * whole complement pairs, at most C(S, S/2)) and sample seed: how the
 * estimate varies with them (bench_sweep --scale). logits may be NULL. */
bt_err_t bt_overfit_pbo_sample(const float *stats, const double *count, size_t ntrials,
                               uint32_t nblocks, uint64_t nsplits, uint64_t seed, bt_pbo_t *out,
                               double **logits, bt_errbuf_t *eb);

/* The code path of the PBO's passes (all give the same figures, bit for
 * bit): chosen once from the CPU (AUTO), or forced by tests and
 * benchmarks. */
typedef enum bt_overfit_isa {
    BT_OVERFIT_ISA_AUTO = 0, /* the best the CPU has */
    BT_OVERFIT_ISA_SCALAR,   /* plain C */
    BT_OVERFIT_ISA_AVX2,     /* 4 trials at a time */
    BT_OVERFIT_ISA_AVX512    /* 8 trials at a time (AVX-512F/DQ) */
} bt_overfit_isa_t;

/* For tests and benchmarks only: the path later PBO calls take (not to be
 * called while one runs). A path the CPU lacks falls back to the best one
 * below it. Returns the path that will be used (never AUTO). */
bt_overfit_isa_t bt_overfit_pbo_force(bt_overfit_isa_t isa);

#endif
