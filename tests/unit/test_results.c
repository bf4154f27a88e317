/* From a session to a result: fidelity rungs (parsing, which individual
 * successive halving promotes next, worked out by hand), the noise's
 * tolerance, Welch's t-test against published values, and that the test
 * split never reaches selection. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/noise.h"
#include "core/nsga2.h"
#include "core/rungs.h"
#include "core/welch.h"
#include "engine/base/file.h"
#include "tests/harness.h"

static void test_rungs_parse(void)
{
    rungs base, r;
    gerr err = GERR_INIT;
    CHECK(rungs_preset(&base, "quick") == 0 && base.n == 3, "quick has three rungs");
    CHECK(rungs_parse(&r, "10000:1,30000:1,all:3", &base, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(r.n, 3);
    CHECK_EQ_INT(r.r[1].images, 30000);
    CHECK_EQ_INT(r.r[2].images, 0);
    CHECK_EQ_INT(r.r[2].epochs, 3);
    char buf[128];
    rungs_format(&r, buf, sizeof buf);
    CHECK(!strcmp(buf, "10000:1,30000:1,all:3"), "formats back: %s", buf);
    /* 30000 x 1 over 10000 x 1; all (60000) x 3 over 10000 x 1 */
    CHECK(fabs(rungs_cost_ratio(&r, 1) - 3) < 1e-9, "rung 1 costs 3x");
    CHECK(fabs(rungs_cost_ratio(&r, 2) - 18) < 1e-9, "rung 2 costs 18x");
    CHECK(rungs_parse(&r, "1", &base, &err) == 0 && r.n == 1, "1: promotion off");
    CHECK(rungs_parse(&r, "2", &base, &err) == 0 && r.n == 2 && r.r[1].images == 30000,
          "2: the preset's first two");
    rungs keep = r;
    CHECK(rungs_parse(&r, "4", &base, &err) == -1 && strstr(err.msg, "rungs"), "4 of 3: %s",
          err.msg);
    CHECK(rungs_parse(&r, "1000:2,1000:1", &base, &err) == -1 && strstr(err.msg, "no more"),
          "a rung must give more than the one below: %s", err.msg);
    CHECK(rungs_parse(&r, "1000:x", &base, &err) == -1 && strstr(err.msg, "epochs"), "%s", err.msg);
    CHECK(rungs_parse(&r, "1000,,2000", &base, &err) == -1 && strstr(err.msg, "empty"), "%s",
          err.msg);
    CHECK(!memcmp(&r, &keep, sizeof r), "unchanged on error");
}

/* A screening measure (rung 0) or one promoted to rung 1. */
static rungs_ind IND(double acc0, double params, double acc1, bool front)
{
    rungs_ind x = {.on_front = front};
    x.m.params = params;
    if (isnan(acc1)) {
        x.m.val_acc = acc0;
    } else {
        x.m.rung = 1;
        x.m.val_acc = acc1;
        for (int r = 0; r < NSGA2_MAX_RUNGS; r++)
            x.m.rung_acc[r] = x.m.rung_seconds[r] = NAN;
        x.m.rung_acc[0] = acc0;
        x.m.rung_seconds[0] = 0;
    }
    x.tried = x.m.rung;
    return x;
}

/* Three rungs, eta 3, objectives val_acc and params. Screening (rung 0):
 *
 *   i  acc   params  front
 *   0  0.90  100     yes   (best accuracy)
 *   1  0.70   50     yes   (smallest)
 *   2  0.80  200     no    dominated by 0
 *   3  0.85  300     no    dominated by 0
 *   4  0.60  400     no
 *   5  0.50  500     no
 *
 * Six at rung 0: the best floor(6/3) = 2 in NSGA-II's order are 0 and 1
 * (front 0; crowding: both extremes, INFINITY, then index order). So 0
 * goes to rung 1 first, then 1; then nothing (2..5 are neither in the top
 * third nor on the front). Once 0 and 1 are at rung 1, rung 1 has two
 * members: floor(2/3) = 0 by quota, but both are on the front, so the
 * highest rung first: 0, then 1 go to rung 2. */
static void test_promotion_by_hand(void)
{
    rungs rs;
    rungs_preset(&rs, "quick");
    nsga2_objectives objs;
    nsga2_objectives_default(&objs);
    rungs_ind v[6] = {IND(0.90, 100, NAN, true),  IND(0.70, 50, NAN, true),
                      IND(0.80, 200, NAN, false), IND(0.85, 300, NAN, false),
                      IND(0.60, 400, NAN, false), IND(0.50, 500, NAN, false)};
    int to = -1;
    gerr err = GERR_INIT;
    int p = rungs_next_promotion(&rs, 3, v, 6, &objs, &to, &err);
    CHECK(p == 0 && to == 1, "first 0 to rung 1, got %d to %d", p, to);
    v[0].tried = 1; /* in flight */
    p = rungs_next_promotion(&rs, 3, v, 6, &objs, &to, &err);
    CHECK(p == 1 && to == 1, "then 1 to rung 1, got %d to %d", p, to);
    v[1].tried = 1;
    p = rungs_next_promotion(&rs, 3, v, 6, &objs, &to, &err);
    CHECK(p == -1, "then nothing, got %d", p);
    /* both measured at rung 1: the front members go on to rung 2 */
    v[0] = IND(0.90, 100, 0.93, true);
    v[1] = IND(0.70, 50, 0.80, true);
    p = rungs_next_promotion(&rs, 3, v, 6, &objs, &to, &err);
    CHECK(p == 0 && to == 2, "0 to rung 2 first, got %d to %d", p, to);
    v[0].tried = 2;
    p = rungs_next_promotion(&rs, 3, v, 6, &objs, &to, &err);
    CHECK(p == 1 && to == 2, "then 1 to rung 2, got %d to %d", p, to);
    v[1].tried = 2;
    CHECK(rungs_next_promotion(&rs, 3, v, 6, &objs, &to, &err) == -1, "then nothing");
    /* a failed promotion counts as tried: not retried */
    v[1] = IND(0.70, 50, 0.80, true);
    v[1].tried = 2;
    CHECK(rungs_next_promotion(&rs, 3, v, 6, &objs, &to, &err) == -1, "a tried rung stays tried");
    /* one rung: promotion off */
    rungs one = rs;
    one.n = 1;
    CHECK(rungs_next_promotion(&one, 3, v, 6, &objs, &to, &err) == -1, "one rung: off");
}

/* A failed promotion keeps the screening numbers and lists the rung as
 * tried; an ok one replaces them and says its rung. */
static void test_promoted_note(void)
{
    const char *old = "{\"status\":\"ok\",\"val_acc\":0.75,\"params\":100,\"flops\":5,"
                      "\"seconds\":3,\"images\":9000,\"recipe\":{\"epochs\":1}}";
    gerr err = GERR_INIT;
    char *bad = rungs_promoted_note(old, NULL, 1, "killed by signal 9", &err);
    CHECK(bad != NULL, "%s", err.msg);
    nsga2_measure m;
    CHECK(nsga2_measure_from_result(&m, bad, &err) == 0, "%s", err.msg);
    CHECK(m.rung == 0 && fabs(m.val_acc - 0.75) < 1e-12, "screening kept: rung %d acc %g", m.rung,
          m.val_acc);
    CHECK(bad && strstr(bad, "killed by signal 9"), "why kept: %s", bad ? bad : "");
    const char *now = "{\"status\":\"ok\",\"val_acc\":0.81,\"params\":100,\"flops\":5,"
                      "\"seconds\":9,\"images\":27000,\"recipe\":{\"epochs\":1}}";
    char *good = rungs_promoted_note(old, now, 1, NULL, &err);
    CHECK(good && nsga2_measure_from_result(&m, good, &err) == 0, "%s", err.msg);
    CHECK(m.rung == 1 && fabs(m.val_acc - 0.81) < 1e-12 && fabs(m.rung_acc[0] - 0.75) < 1e-12,
          "rung 1: %g, rung 0: %g", m.val_acc, m.rung_acc[0]);
    free(bad);
    free(good);
}

static void test_epsilon_spec(void)
{
    double mult, abs;
    gerr err = GERR_INIT;
    CHECK(noise_epsilon_parse(NULL, &mult, &abs, &err) == 0 && mult == 2, "default 2 sd");
    CHECK(noise_epsilon_parse("auto", &mult, &abs, &err) == 0 && mult == 2, "auto: 2 sd");
    CHECK(noise_epsilon_parse("3sd", &mult, &abs, &err) == 0 && mult == 3, "3sd");
    CHECK(noise_epsilon_parse("0.01", &mult, &abs, &err) == 0 && mult < 0 && abs == 0.01,
          "absolute");
    CHECK(noise_epsilon_parse("0", &mult, &abs, &err) == 0 && mult < 0 && abs == 0, "0: off");
    CHECK(noise_epsilon_parse("lots", &mult, &abs, &err) == -1 && strstr(err.msg, "epsilon"),
          "bad: %s", err.msg);
    CHECK(noise_epsilon_parse("2", &mult, &abs, &err) == -1, "an accuracy above 1 is refused");
    char buf[64];
    noise_info ni;
    noise_plan(&ni, "g0-1", 3, 10000, 1, 2);
    ni.std = 0.007;
    noise_format_acc(buf, sizeof buf, 0.749, 0, &ni);
    CHECK(!strcmp(buf, "74.9% ±0.7"), "screening with noise: %s", buf);
    noise_format_acc(buf, sizeof buf, 0.812, 2, &ni);
    CHECK(!strcmp(buf, "81.2% r2"), "a higher rung: %s", buf);
    noise_format_acc(buf, sizeof buf, -1, 0, &ni);
    CHECK(!strcmp(buf, "-"), "unknown: %s", buf);
}

/* Welch's t-test against values computed by hand (p: the t density
 * integrated numerically): a = {1, 2, 3}, b = {4, 5, 6}: means 2 and
 * 5, both sd 1, t = -3 / sqrt(1/3 + 1/3) = -3.674235, df = 4,
 * p = 0.021311. */
static void test_welch(void)
{
    double a[] = {1, 2, 3}, b[] = {4, 5, 6}, ma, sa, mb, sb, t, df, p;
    welch_mean_sd(a, 3, &ma, &sa);
    welch_mean_sd(b, 3, &mb, &sb);
    CHECK(fabs(ma - 2) < 1e-12 && fabs(sa - 1) < 1e-12, "mean %g sd %g", ma, sa);
    CHECK(welch_test(ma, sa, 3, mb, sb, 3, &t, &df, &p), "computable");
    CHECK(fabs(t + 3.674235) < 1e-5 && fabs(df - 4) < 1e-9, "t %g df %g", t, df);
    CHECK(fabs(p - 0.021311) < 1e-5, "p %g", p);
    /* unequal: {0.80, 0.81, 0.82} vs {0.80, 0.90, 1.00}: se^2 = 0.0001/3 +
       0.01/3, t = -0.09 / 0.058023 = -1.551109, Welch-Satterthwaite
       df = 2.039996, p = 0.258664 (the t density integrated numerically) */
    double c[] = {0.80, 0.81, 0.82}, d[] = {0.80, 0.90, 1.00}, mc, sc, md, sd;
    welch_mean_sd(c, 3, &mc, &sc);
    welch_mean_sd(d, 3, &md, &sd);
    CHECK(welch_test(mc, sc, 3, md, sd, 3, &t, &df, &p), "computable");
    CHECK(fabs(t + 1.551109) < 1e-5 && fabs(df - 2.039996) < 1e-5 && fabs(p - 0.258664) < 1e-5,
          "t %g df %g p %g", t, df, p);
    CHECK(!welch_test(0.8, NAN, 1, 0.9, 0.1, 3, &t, &df, &p), "one run: not computable");
}

/* The test split stays out of selection: a result whose test accuracy is
 * poisoned gives the same measure, and no selection or promotion source
 * names a test accuracy at all. */
static void test_test_split_unread(void)
{
    const char *clean = "{\"status\":\"ok\",\"val_acc\":0.75,\"params\":100,\"flops\":5,"
                        "\"seconds\":3}";
    const char *poisoned = "{\"status\":\"ok\",\"val_acc\":0.75,\"params\":100,\"flops\":5,"
                           "\"seconds\":3,\"test_acc\":1.0,\"test_loss\":0,"
                           "\"rung\":0,\"rungs\":[{\"rung\":0,\"status\":\"ok\",\"val_acc\":0.75,"
                           "\"test_acc\":1.0}]}";
    nsga2_measure a, b;
    CHECK(nsga2_measure_from_result(&a, clean, NULL) == 0, "clean");
    CHECK(nsga2_measure_from_result(&b, poisoned, NULL) == 0, "poisoned");
    CHECK(a.val_acc == b.val_acc && a.params == b.params && a.rung == b.rung &&
              a.failed == b.failed,
          "the same measure");
    static const char *const files[] = {"core/nsga2.c", "core/rungs.c", "core/noise.c",
                                        "core/evolve.c"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char path[1024], *text = NULL;
        snprintf(path, sizeof path, "%s/%s", harness_root(), files[i]);
        CHECK(file_read(path, 1 << 24, &text, NULL, NULL) == 0 && text, "read %s", path);
        CHECK(text && !strstr(text, "test_acc") && !strstr(text, "test_mean"),
              "%s names no test accuracy", files[i]);
        free(text);
    }
}

int main(void)
{
    RUN(test_rungs_parse);
    RUN(test_promotion_by_hand);
    RUN(test_promoted_note);
    RUN(test_epsilon_spec);
    RUN(test_welch);
    RUN(test_test_split_unread);
    return harness_done();
}
