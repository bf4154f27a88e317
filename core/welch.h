/* welch: the few statistics gevo reports: mean and sample standard
 * deviation, and Welch's t-test (two samples, unequal variances), with
 * the Student t distribution from the regularised incomplete beta
 * function (Numerical Recipes' continued fraction, as Cephes does). */
#ifndef GEVO_CORE_WELCH_H
#define GEVO_CORE_WELCH_H

#include <stdbool.h>

/* Mean of x[0..n-1] and its sample standard deviation (n - 1 in the
 * denominator); NAN for what n is too small for (mean: n < 1, sd: n < 2). */
void welch_mean_sd(const double *x, int n, double *mean, double *sd);

/* Welch's two-sided t-test of the difference of two means: t, the
 * Welch-Satterthwaite degrees of freedom and the p value. Returns false
 * (all NAN) when it cannot be computed: a sample of fewer than two, or no
 * variance in either (then *t is the sign of the difference times
 * infinity when the means differ, and p is 0, or 1 when they do not:
 * still returns true). */
bool welch_test(double mean1, double sd1, int n1, double mean2, double sd2, int n2, double *t,
                double *df, double *p);

/* The regularised incomplete beta function I_x(a, b). */
double welch_betai(double a, double b, double x);
/* P(|T| > |t|) for Student's t with df degrees of freedom. */
double welch_t_two_sided(double t, double df);

#endif
