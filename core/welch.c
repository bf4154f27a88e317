/* welch: mean, standard deviation, Welch's t-test (see welch.h). */
#include "core/welch.h"

#include <math.h>

void welch_mean_sd(const double *x, int n, double *mean, double *sd)
{
    *mean = *sd = NAN;
    if (n < 1)
        return;
    double s = 0;
    for (int i = 0; i < n; i++)
        s += x[i];
    *mean = s / n;
    if (n < 2)
        return;
    double q = 0;
    for (int i = 0; i < n; i++)
        q += (x[i] - *mean) * (x[i] - *mean);
    *sd = sqrt(q / (n - 1));
}

/* Lentz's guard: a denominator of 0 becomes a tiny one. */
static double nonzero(double v)
{
    return fabs(v) < 1e-300 ? 1e-300 : v;
}

/* One step of the continued fraction with coefficient aa: updates c and
 * d, returns the factor h is multiplied by. */
static double lentz_step(double aa, double *c, double *d)
{
    *d = 1 / nonzero(1 + aa * *d);
    *c = nonzero(1 + aa / *c);
    return *d * *c;
}

/* The continued fraction of the incomplete beta function (modified
 * Lentz), converging for x < (a + 1) / (a + b + 2). */
static double betacf(double a, double b, double x)
{
    const double eps = 1e-15;
    double qab = a + b, qap = a + 1, qam = a - 1;
    double c = 1, d = 1 / nonzero(1 - qab * x / qap);
    double h = d;
    for (int m = 1; m <= 300; m++) {
        int m2 = 2 * m;
        h *= lentz_step(m * (b - m) * x / ((qam + m2) * (a + m2)), &c, &d);
        double del = lentz_step(-(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)), &c, &d);
        h *= del;
        if (fabs(del - 1) < eps)
            break;
    }
    return h;
}

double welch_betai(double a, double b, double x)
{
    if (!(x > 0))
        return 0;
    if (!(x < 1))
        return 1;
    double lbt = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
    double bt = exp(lbt);
    if (x < (a + 1) / (a + b + 2))
        return bt * betacf(a, b, x) / a;
    return 1 - bt * betacf(b, a, 1 - x) / b;
}

double welch_t_two_sided(double t, double df)
{
    if (isnan(t) || !(df > 0))
        return NAN;
    if (isinf(t))
        return 0;
    return welch_betai(df / 2, 0.5, df / (df + t * t));
}

bool welch_test(double mean1, double sd1, int n1, double mean2, double sd2, int n2, double *t,
                double *df, double *p)
{
    *t = *df = *p = NAN;
    if (n1 < 2 || n2 < 2 || !isfinite(mean1) || !isfinite(mean2) || !isfinite(sd1) ||
        !isfinite(sd2))
        return false;
    double v1 = sd1 * sd1 / n1, v2 = sd2 * sd2 / n2;
    double diff = mean1 - mean2;
    if (v1 + v2 == 0) {
        /* no spread at all: any difference is beyond it */
        *t = diff == 0 ? 0 : diff > 0 ? INFINITY : -INFINITY;
        *df = n1 + n2 - 2;
        *p = diff == 0 ? 1 : 0;
        return true;
    }
    *t = diff / sqrt(v1 + v2);
    *df = (v1 + v2) * (v1 + v2) / (v1 * v1 / (n1 - 1) + v2 * v2 / (n2 - 1));
    *p = welch_t_two_sided(*t, *df);
    return true;
}
