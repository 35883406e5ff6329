/* bt_overfit — the deflated Sharpe ratio and the Sharpe of sums
 * (docs/overfitting.md); the PBO by CSCV is in bt_pbo.c. */
#include "bt_overfit.h"

#include <assert.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bt_metrics.h"

#define S_EULER_GAMMA 0.5772156649015329
#define S_E 2.718281828459045
#define S_SQRT_2PI 2.5066282746310002

double bt_overfit_norm_cdf(double x)
{
    return 0.5 * erfc(-x / sqrt(2.0));
}

double bt_overfit_norm_ppf(double p)
{
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                               -2.759285104469687e+02, 1.383577518672690e+02,
                               -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                               -1.556989798598866e+02, 6.680131188771972e+01,
                               -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                               -2.400758277161838e+00, -2.549732539343734e+00,
                               4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                               2.445134137142996e+00, 3.754408661907416e+00};
    const double lo = 0.02425;
    if (!(p >= 1e-300)) /* also NaN */
        p = 1e-300;
    if (p > 1.0 - DBL_EPSILON / 2.0)
        p = 1.0 - DBL_EPSILON / 2.0;
    double x;
    if (p < lo) {
        double q = sqrt(-2.0 * log(p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
    } else if (p <= 1.0 - lo) {
        double q = p - 0.5, r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0);
    } else {
        double q = sqrt(-2.0 * log1p(-p));
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
    }
    /* One Halley step on Phi(x) - p. In the upper tail, work with the upper
     * tail probability so 1 - p does not lose digits. */
    double e = p > 0.5 ? (1.0 - p) - 0.5 * erfc(x / sqrt(2.0)) : bt_overfit_norm_cdf(x) - p;
    double u = e * S_SQRT_2PI * exp(x * x / 2.0);
    if (isfinite(u))
        x = x - u / (1.0 + x * u / 2.0);
    return x;
}

double bt_overfit_expected_max_sharpe(uint64_t ntrials, double var_sr)
{
    if (ntrials < 2 || !(var_sr > 0.0) || !isfinite(var_sr))
        return 0.0;
    double n = (double)ntrials;
    return sqrt(var_sr) * ((1.0 - S_EULER_GAMMA) * bt_overfit_norm_ppf(1.0 - 1.0 / n) +
                           S_EULER_GAMMA * bt_overfit_norm_ppf(1.0 - 1.0 / (n * S_E)));
}

bt_err_t bt_overfit_dsr(const double *sr, size_t ntrials, size_t best, double n, double skew,
                        double kurt, bt_dsr_t *out, bt_errbuf_t *eb)
{
    assert(out);
    memset(out, 0, sizeof *out);
    if (ntrials == 0 || !sr)
        return bt_errf(eb, BT_EINVAL, "needs at least 1 trial with a result");
    assert(best < ntrials);
    if (!(n >= 2.0))
        return bt_errf(eb, BT_EINVAL, "the best trial has %.0f return(s); needs at least 2",
                       n > 0 ? n : 0.0);
    /* Sample variance of the trials' Sharpe ratios (Welford). */
    double mean = 0.0, m2 = 0.0;
    for (size_t i = 0; i < ntrials; i++) {
        double d = sr[i] - mean;
        mean += d / (double)(i + 1);
        m2 += d * (sr[i] - mean);
    }
    out->var_sr = ntrials > 1 ? m2 / (double)(ntrials - 1) : 0.0;
    out->ntrials = ntrials;
    out->n = n;
    out->sr_best = sr[best];
    out->sr0 = bt_overfit_expected_max_sharpe(ntrials, out->var_sr);
    out->dsr = bt_metrics_psr(out->sr_best, n, skew, kurt, out->sr0);
    return BT_OK;
}

double bt_overfit_sharpe_sums(double count, double sum, double sumsq)
{
    if (!(count >= 2.0))
        return 0.0;
    double mean = sum / count;
    double var = (sumsq - sum * mean) / (count - 1.0);
    if (!(var > 0.0))
        return 0.0;
    double sd = sqrt(var);
    /* Same rule as bt_metrics: a spread below 1e-12 of the mean is rounding
     * noise of a constant-return curve. */
    if (!(sd > 1e-12 * fabs(mean)))
        return 0.0;
    return mean / sd;
}
