/* NSGA-II against fronts and crowding distances worked out by hand (the
 * arithmetic is in the comments), environmental selection, tournaments,
 * ties, failed individuals, three objectives, objective lists, accuracy
 * tolerance (epsilon-dominance) and comparison on the highest common rung. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/nsga2.h"
#include "tests/harness.h"

#define CLOSE(a, b) (fabs((a) - (b)) < 1e-9)

static nsga2_measure M(double acc, double params)
{
    nsga2_measure m = {.val_acc = acc, .params = params, .flops = 0, .seconds = 0, .failed = false};
    return m;
}

static nsga2_measure FAILED(void)
{
    nsga2_measure m = {.val_acc = 0.99, .params = 1, .failed = true};
    return m;
}

/* Eight individuals, objectives val_acc (max) and params (min):
 *
 *   i  acc   params
 *   0  0.90  100
 *   1  0.85   50
 *   2  0.80  200   dominated by 0, 1 and 5 (0.88 > 0.80, 150 < 200)
 *   3  0.95  300
 *   4  0.70   40
 *   5  0.88  150   dominated by 0 only
 *   6  0.60   60   dominated by 1 and 4
 *   7  failed
 *
 * Front 0 = {0, 1, 3, 4}: each trades accuracy for size against the others.
 * Front 1 = {5, 6}: once front 0 is removed nobody dominates them.
 * Front 2 = {2}: dominated by 5.  Front 3 = {7}: failed, last.
 *
 * Crowding in front 0:
 *   accuracy, ascending: 4 (0.70), 1 (0.85), 0 (0.90), 3 (0.95); range 0.25
 *     4 and 3 are extremes: inf
 *     1: (0.90 - 0.70) / 0.25 = 0.8      0: (0.95 - 0.85) / 0.25 = 0.4
 *   params, ascending: 4 (40), 1 (50), 0 (100), 3 (300); range 260
 *     1: (100 - 40) / 260 = 0.230769..  0: (300 - 50) / 260 = 0.961538..
 *   totals: 0 = 1.361538..,  1 = 1.030769..,  3 = 4 = inf
 * Fronts 1 and 2 have at most two members: inf. The failed front: 0.
 * Order: 3, 4 (inf, by index), 0, 1, then 5, 6, then 2, then 7. */
/* The n measures in m ranked into r on the default objectives (val_acc
 * and params), which objs gets. */
static void rank_default(nsga2_ranking *r, const nsga2_measure *m, int n, nsga2_objectives *objs)
{
    nsga2_objectives_default(objs);
    gerr err = GERR_INIT;
    CHECK(nsga2_rank(r, m, n, objs, &err) == 0, "rank: %s", err.msg);
}

/* The eight above in m, ranked into r on val_acc and params. */
static void rank_hand_set(nsga2_measure m[8], nsga2_objectives *objs, nsga2_ranking *r)
{
    const nsga2_measure set[8] = {M(0.90, 100), M(0.85, 50),  M(0.80, 200), M(0.95, 300),
                                  M(0.70, 40),  M(0.88, 150), M(0.60, 60),  FAILED()};
    memcpy(m, set, sizeof set);
    rank_default(r, m, 8, objs);
}

static void test_two_objectives_by_hand(void)
{
    nsga2_measure m[8];
    nsga2_objectives objs;
    nsga2_ranking r;
    rank_hand_set(m, &objs, &r);
    CHECK_EQ_INT(r.n_fronts, 4);
    int want_rank[8] = {0, 0, 2, 0, 0, 1, 1, 3};
    for (int i = 0; i < 8; i++)
        CHECK(r.rank[i] == want_rank[i], "rank[%d] = %d, want %d", i, r.rank[i], want_rank[i]);
    CHECK(CLOSE(r.crowding[0], 0.4 + 250.0 / 260), "crowding[0] = %g", r.crowding[0]);
    CHECK(CLOSE(r.crowding[1], 0.8 + 60.0 / 260), "crowding[1] = %g", r.crowding[1]);
    CHECK(isinf(r.crowding[3]) && isinf(r.crowding[4]), "extremes %g %g", r.crowding[3],
          r.crowding[4]);
    CHECK(isinf(r.crowding[5]) && isinf(r.crowding[6]) && isinf(r.crowding[2]),
          "small fronts are inf");
    CHECK(r.crowding[7] == 0, "failed crowding %g", r.crowding[7]);
    int want_order[8] = {3, 4, 0, 1, 5, 6, 2, 7};
    for (int i = 0; i < 8; i++)
        CHECK(r.order[i] == want_order[i], "order[%d] = %d, want %d", i, r.order[i], want_order[i]);
    int want_start[5] = {0, 4, 6, 7, 8};
    for (int f = 0; f <= 4; f++)
        CHECK_EQ_INT(r.front_start[f], want_start[f]);

    /* selection of 5: all of front 0, then 5 (front 1 tie: both inf, lower index) */
    int chosen[8];
    CHECK_EQ_INT(nsga2_select(&r, 5, chosen), 5);
    int want5[5] = {3, 4, 0, 1, 5};
    for (int i = 0; i < 5; i++)
        CHECK_EQ_INT(chosen[i], want5[i]);
    /* selection of 3 cuts front 0 by crowding: the two extremes, then 0 (1.36 > 1.03) */
    CHECK_EQ_INT(nsga2_select(&r, 3, chosen), 3);
    CHECK(chosen[0] == 3 && chosen[1] == 4 && chosen[2] == 0, "chosen %d %d %d", chosen[0],
          chosen[1], chosen[2]);
    /* more than there are: everyone, the failed one last */
    CHECK_EQ_INT(nsga2_select(&r, 20, chosen), 8);
    CHECK_EQ_INT(chosen[7], 7);

    int front[8];
    int nf = nsga2_pareto_front(m, 8, &objs, front, NULL);
    CHECK_EQ_INT(nf, 4);
    int want_front[4] = {0, 1, 3, 4};
    for (int i = 0; i < 4 && i < nf; i++)
        CHECK_EQ_INT(front[i], want_front[i]);
    nsga2_ranking_release(&r);
}

/* A chain where each dominates the next: ranks 0, 1, 2, whatever the input order.
 *   i  acc  params
 *   0  0.7  30      rank 2
 *   1  0.9  10      rank 0
 *   2  0.8  20      rank 1 */
static void test_chain(void)
{
    nsga2_measure m[3] = {M(0.7, 30), M(0.9, 10), M(0.8, 20)};
    nsga2_objectives objs;
    nsga2_ranking r;
    rank_default(&r, m, 3, &objs);
    CHECK(r.rank[0] == 2 && r.rank[1] == 0 && r.rank[2] == 1, "ranks %d %d %d", r.rank[0],
          r.rank[1], r.rank[2]);
    CHECK_EQ_INT(r.n_fronts, 3);
    CHECK(nsga2_dominates(&m[1], &m[2], &objs) && !nsga2_dominates(&m[2], &m[1], &objs),
          "dominance");
    nsga2_ranking_release(&r);
}

/* Six individuals in three objectives: val_acc (max), params, seconds (min).
 *
 *   i  acc   params  seconds
 *   0  0.90  100     10
 *   1  0.85   80     20
 *   2  0.80   60     15
 *   3  0.95  120     30
 *   4  0.70   40     25
 *   5  0.88   90     12
 *
 * Accuracy and params fall together, so nobody dominates: one front.
 * accuracy, best first: 3, 0, 5, 1, 2, 4; range 0.25; 3 and 4 inf
 *   0: (0.95-0.88)/0.25 = 0.28   5: (0.90-0.85)/0.25 = 0.20
 *   1: (0.88-0.80)/0.25 = 0.32   2: (0.85-0.70)/0.25 = 0.60
 * params, ascending: 4, 2, 1, 5, 0, 3; range 80; 4 and 3 inf
 *   2: (80-40)/80 = 0.5    1: (90-60)/80 = 0.375
 *   5: (100-80)/80 = 0.25  0: (120-90)/80 = 0.375
 * seconds, ascending: 0, 5, 2, 1, 4, 3; range 20; 0 and 3 inf
 *   5: (15-10)/20 = 0.25   2: (20-12)/20 = 0.4   1: (25-15)/20 = 0.5
 * totals: 0 inf, 1 = 0.32+0.375+0.5 = 1.195, 2 = 0.6+0.5+0.4 = 1.5,
 *         3 inf, 4 inf, 5 = 0.2+0.25+0.25 = 0.7
 * Best four: 0, 3, 4 (inf, by index), then 2.
 *
 * On val_acc and params alone: 0 = 0.655, 1 = 0.695, 2 = 1.1, 5 = 0.45,
 * so the best four are 3, 4, 2, 1: the third objective saves 0. */
static void test_three_objectives(void)
{
    double v[6][3] = {{0.90, 100, 10}, {0.85, 80, 20}, {0.80, 60, 15},
                      {0.95, 120, 30}, {0.70, 40, 25}, {0.88, 90, 12}};
    nsga2_measure m[6];
    for (int i = 0; i < 6; i++) {
        m[i] = M(v[i][0], v[i][1]);
        m[i].seconds = v[i][2];
    }
    nsga2_objectives objs;
    gerr err = GERR_INIT;
    CHECK(nsga2_objectives_parse(&objs, "val_acc,params,seconds", &err) == 0, "parse: %s", err.msg);
    nsga2_ranking r;
    CHECK(nsga2_rank(&r, m, 6, &objs, &err) == 0, "rank: %s", err.msg);
    CHECK_EQ_INT(r.n_fronts, 1);
    CHECK(isinf(r.crowding[0]) && isinf(r.crowding[3]) && isinf(r.crowding[4]), "inf");
    CHECK(CLOSE(r.crowding[1], 1.195), "crowding[1] = %.12g", r.crowding[1]);
    CHECK(CLOSE(r.crowding[2], 1.5), "crowding[2] = %.12g", r.crowding[2]);
    CHECK(CLOSE(r.crowding[5], 0.7), "crowding[5] = %.12g", r.crowding[5]);
    int chosen[6], want[4] = {0, 3, 4, 2};
    CHECK_EQ_INT(nsga2_select(&r, 4, chosen), 4);
    for (int i = 0; i < 4; i++)
        CHECK_EQ_INT(chosen[i], want[i]);
    nsga2_ranking_release(&r);

    nsga2_objectives_default(&objs);
    CHECK(nsga2_rank(&r, m, 6, &objs, &err) == 0, "rank: %s", err.msg);
    CHECK(CLOSE(r.crowding[0], 0.655), "2-obj crowding[0] = %.12g", r.crowding[0]);
    CHECK(CLOSE(r.crowding[1], 0.695), "2-obj crowding[1] = %.12g", r.crowding[1]);
    CHECK(CLOSE(r.crowding[2], 1.1), "2-obj crowding[2] = %.12g", r.crowding[2]);
    CHECK(CLOSE(r.crowding[5], 0.45), "2-obj crowding[5] = %.12g", r.crowding[5]);
    int want2[4] = {3, 4, 2, 1};
    CHECK_EQ_INT(nsga2_select(&r, 4, chosen), 4);
    for (int i = 0; i < 4; i++)
        CHECK_EQ_INT(chosen[i], want2[i]);
    nsga2_ranking_release(&r);
}

/* Ties: identical individuals never dominate each other, so all share
 * front 0; no objective has any spread, so every crowding distance is 0
 * (four members) and the order is by index. Two identical ones: inf. */
static void test_ties(void)
{
    nsga2_measure m[4] = {M(0.8, 10), M(0.8, 10), M(0.8, 10), M(0.8, 10)};
    nsga2_objectives objs;
    nsga2_ranking r;
    rank_default(&r, m, 4, &objs);
    gerr err = GERR_INIT;
    CHECK_EQ_INT(r.n_fronts, 1);
    for (int i = 0; i < 4; i++) {
        CHECK_EQ_INT(r.rank[i], 0);
        CHECK(r.crowding[i] == 0, "crowding[%d] = %g", i, r.crowding[i]);
        CHECK_EQ_INT(r.order[i], i);
    }
    CHECK_EQ_INT(nsga2_better(&r, 2, 1), 1);
    int front[4];
    CHECK_EQ_INT(nsga2_pareto_front(m, 4, &objs, front, &err), 4);
    nsga2_ranking_release(&r);

    CHECK(nsga2_rank(&r, m, 2, &objs, &err) == 0, "rank: %s", err.msg);
    CHECK(isinf(r.crowding[0]) && isinf(r.crowding[1]), "pair is inf");
    nsga2_ranking_release(&r);

    /* A duplicate in a front with spread: 1 and 2 are equal.
     *   i  acc  params
     *   0  0.75  30
     *   1  0.50  20
     *   2  0.50  20
     *   3  0.25  10
     * (binary fractions, so the two sums below are exactly equal)
     * accuracy, best first (ties by index): 0, 1, 2, 3; range 0.5
     *   1: (0.75-0.50)/0.5 = 0.5   2: (0.50-0.25)/0.5 = 0.5
     * params ascending: 3, 1, 2, 0; range 20
     *   1: (20-10)/20 = 0.5        2: (30-20)/20 = 0.5
     * both 1.0: the tie goes to the lower index */
    nsga2_measure d[4] = {M(0.75, 30), M(0.5, 20), M(0.5, 20), M(0.25, 10)};
    CHECK(nsga2_rank(&r, d, 4, &objs, &err) == 0, "rank: %s", err.msg);
    CHECK(CLOSE(r.crowding[1], 1.0) && CLOSE(r.crowding[2], 1.0), "dup crowding %g %g",
          r.crowding[1], r.crowding[2]);
    int chosen[4];
    nsga2_select(&r, 3, chosen);
    CHECK(chosen[0] == 0 && chosen[1] == 3 && chosen[2] == 1, "chosen %d %d %d", chosen[0],
          chosen[1], chosen[2]);
    nsga2_ranking_release(&r);
}

/* Failed individuals rank after every valid one, however good their
 * numbers; a non-finite objective counts as failed; all failed: one front,
 * an empty Pareto front. */
static void test_failed(void)
{
    nsga2_measure m[4] = {FAILED(), M(0.1, 1e9), M(NAN, 5), FAILED()};
    nsga2_objectives objs;
    nsga2_ranking r;
    rank_default(&r, m, 4, &objs);
    gerr err = GERR_INIT;
    CHECK_EQ_INT(r.n_fronts, 2);
    CHECK(r.rank[1] == 0 && r.rank[0] == 1 && r.rank[2] == 1 && r.rank[3] == 1, "ranks %d %d %d %d",
          r.rank[0], r.rank[1], r.rank[2], r.rank[3]);
    CHECK(r.order[0] == 1 && r.order[1] == 0 && r.order[2] == 2 && r.order[3] == 3, "order");
    CHECK(nsga2_dominates(&m[1], &m[0], &objs) && !nsga2_dominates(&m[0], &m[1], &objs),
          "valid beats failed");
    CHECK(!nsga2_dominates(&m[0], &m[3], &objs), "failed dominate nobody");
    int front[4];
    int nf = nsga2_pareto_front(m, 4, &objs, front, &err);
    CHECK(nf == 1 && front[0] == 1, "front %d", nf);
    nsga2_ranking_release(&r);

    nsga2_measure all[3] = {FAILED(), FAILED(), FAILED()};
    CHECK(nsga2_rank(&r, all, 3, &objs, &err) == 0, "rank: %s", err.msg);
    CHECK_EQ_INT(r.n_fronts, 1);
    for (int i = 0; i < 3; i++)
        CHECK(r.rank[i] == 0 && r.crowding[i] == 0 && r.order[i] == i, "all failed %d", i);
    CHECK_EQ_INT(nsga2_pareto_front(all, 3, &objs, front, &err), 0);
    nsga2_ranking_release(&r);

    /* empty set */
    CHECK(nsga2_rank(&r, NULL, 0, &objs, &err) == 0, "empty: %s", err.msg);
    CHECK_EQ_INT(r.n_fronts, 0);
    CHECK_EQ_INT(nsga2_select(&r, 3, front), 0);
    rng g;
    rng_seed(&g, 1);
    CHECK_EQ_INT(nsga2_tournament(&r, NULL, 0, &g), -1);
    nsga2_ranking_release(&r);

    /* bad arguments are errors, not crashes */
    nsga2_objectives none = {0};
    CHECK(nsga2_rank(&r, m, 4, &none, &err) == -1 && strstr(err.msg, "objectives"),
          "no objectives: %s", err.msg);
    CHECK(nsga2_rank(&r, m, -1, &objs, &err) == -1, "negative n");
}

/* Tournaments: the lower rank always wins; in a front, the larger crowding
 * distance; equal seeds repeat; the worst never wins against anyone. */
static void test_tournament(void)
{
    nsga2_measure m[8];
    nsga2_objectives objs;
    nsga2_ranking r;
    rank_hand_set(m, &objs, &r);
    rng g;
    rng_seed(&g, 42);
    int pool_rank[2] = {2, 5};  /* rank 2 vs rank 1 */
    int pool_crowd[2] = {1, 3}; /* both rank 0: 1.03 vs inf */
    int pool_idx[2] = {6, 5};   /* both rank 1, both inf: lower index */
    for (int t = 0; t < 50; t++) {
        CHECK_EQ_INT(nsga2_tournament(&r, pool_rank, 2, &g), 5);
        CHECK_EQ_INT(nsga2_tournament(&r, pool_crowd, 2, &g), 3);
        CHECK_EQ_INT(nsga2_tournament(&r, pool_idx, 2, &g), 5);
    }
    int one[1] = {7};
    CHECK_EQ_INT(nsga2_tournament(&r, one, 1, &g), 7);

    /* over the whole set: the failed 7 never wins; the winners repeat
       with the seed; each of the best, 3, wins whenever drawn */
    rng a, b;
    rng_seed(&a, 7);
    rng_seed(&b, 7);
    int wins[8] = {0};
    bool same = true;
    for (int t = 0; t < 4000; t++) {
        int x = nsga2_tournament(&r, NULL, 0, &a), y = nsga2_tournament(&r, NULL, 0, &b);
        if (x != y)
            same = false;
        CHECK(x >= 0 && x < 8, "winner %d", x);
        if (x >= 0 && x < 8)
            wins[x]++;
    }
    CHECK(same, "same seed, same winners");
    CHECK_EQ_INT(wins[7], 0);
    /* 3 is drawn in 2 of 8 slots: 1 - (7/8)(6/7) = 1/4 of tournaments */
    CHECK(wins[3] > 800 && wins[3] < 1200, "3 won %d of 4000", wins[3]);
    CHECK(wins[3] > wins[0] && wins[0] > wins[5] && wins[5] > wins[2], "wins %d %d %d %d", wins[3],
          wins[0], wins[5], wins[2]);
    rng_seed(&b, 8);
    bool differ = false;
    rng_seed(&a, 7);
    for (int t = 0; t < 100; t++)
        if (nsga2_tournament(&r, NULL, 0, &a) != nsga2_tournament(&r, NULL, 0, &b))
            differ = true;
    CHECK(differ, "another seed, other winners");
    nsga2_ranking_release(&r);
}

/* The names of objs, as "val_acc,params". */
static void format_objectives(const nsga2_objectives *objs, char *buf, size_t size)
{
    buf[0] = 0;
    for (int i = 0, l = 0; i < objs->n; i++)
        l += snprintf(buf + l, size - (size_t)l, "%s%s", i ? "," : "", objs->o[i]->name);
}

static void test_objective_lists(void)
{
    nsga2_objectives objs;
    gerr err = GERR_INIT;
    char buf[128];
    nsga2_objectives_default(&objs);
    format_objectives(&objs, buf, sizeof buf);
    CHECK(!strcmp(buf, "val_acc,params"), "default %s", buf);
    CHECK(nsga2_objectives_parse(&objs, "val_acc, flops,seconds", &err) == 0, "parse: %s", err.msg);
    format_objectives(&objs, buf, sizeof buf);
    CHECK(!strcmp(buf, "val_acc,flops,seconds"), "parsed %s", buf);
    CHECK(objs.o[1]->dir == NSGA2_MINIMIZE && objs.o[0]->dir == NSGA2_MAXIMIZE, "directions");
    CHECK(nsga2_objectives_parse(&objs, "val_acc,size", &err) == -1 && strstr(err.msg, "'size'") &&
              strstr(err.msg, "params"),
          "unknown: %s", err.msg);
    CHECK(nsga2_objectives_parse(&objs, "params,params", &err) == -1 && strstr(err.msg, "twice"),
          "twice: %s", err.msg);
    CHECK(nsga2_objectives_parse(&objs, "", &err) == -1, "empty");
    CHECK(nsga2_objectives_parse(&objs, "val_acc,", &err) == -1, "trailing comma");
    format_objectives(&objs, buf, sizeof buf);
    CHECK(!strcmp(buf, "val_acc,flops,seconds"), "unchanged after errors: %s", buf);
    const nsga2_objective *o = nsga2_objective_find("seconds");
    CHECK(o && o->dir == NSGA2_MINIMIZE && !nsga2_objective_find("size"), "find");
}

static void test_measure_from_result(void)
{
    nsga2_measure m;
    gerr err = GERR_INIT;
    CHECK(nsga2_measure_from_result(
              &m,
              "{\"status\":\"ok\",\"val_acc\":0.91,\"params\":14634,\"flops\":2.5e6,"
              "\"seconds\":12.5}",
              &err) == 0,
          "ok: %s", err.msg);
    CHECK(!m.failed && CLOSE(m.val_acc, 0.91) && m.params == 14634 && m.flops == 2.5e6 &&
              m.seconds == 12.5,
          "values");
    CHECK(nsga2_measure_from_result(&m, "{\"status\":\"diverged\",\"val_acc\":0.1,\"params\":5}",
                                    &err) == 0 &&
              m.failed,
          "diverged fails");
    CHECK(nsga2_measure_from_result(&m, "{\"status\":\"timeout\",\"val_acc\":0.5,\"params\":5}",
                                    &err) == 0 &&
              !m.failed,
          "timeout with a val_acc counts");
    CHECK(nsga2_measure_from_result(&m, "{\"status\":\"stopped\",\"val_acc\":null}", &err) == 0 &&
              m.failed,
          "stopped without val_acc fails");
    CHECK(nsga2_measure_from_result(&m, "not json", &err) == -1 && m.failed, "garbage");
    CHECK(nsga2_measure_from_result(&m, "{\"status\":\"great\"}", &err) == -1 &&
              strstr(err.msg, "great"),
          "unknown status: %s", err.msg);
}

/* Epsilon-dominance: accuracy differences of at most eps = 1/16 are ties
 * (binary fractions, so "exactly eps" is exact).
 *
 *   i  acc       params
 *   0  0.5        100
 *   1  0.546875   150    0 + 3/64: a tie with 0, more parameters
 *   2  0.625      200    0 + 8/64: better than 0 beyond eps
 *   3  0.4375      90    0 - 4/64: exactly eps below 0: a tie
 *   4  0.5625     300    ties with 0 (4/64), 1 (1/64) and 2 (4/64)
 *
 * Without tolerance 3 < 0 < 1 < 2 rise together in both objectives (one
 * front) and only 4 is dominated (by 2): fronts {0,1,2,3}, {4}.
 * With eps: 3 dominates 0 (tie, 90 < 100), 0 dominates 1 (tie, 100 <
 * 150), 0, 1 and 2 dominate 4; 3 vs 1 (7/64) and 1 vs 2 (5/64) are beyond
 * eps, so trade-offs. Counts: 0:1, 1:1, 2:0, 3:0, 4:3. Peeling: {2,3};
 * 3 frees 0: {0}; 0 frees 1 (4 is at 1): {1}; then {4}.
 * Ranks 0:1, 1:2, 2:0, 3:0, 4:3; the Pareto front is {2, 3}. */
static void test_epsilon_by_hand(void)
{
    nsga2_measure m[5] = {M(0.5, 100), M(0.546875, 150), M(0.625, 200), M(0.4375, 90),
                          M(0.5625, 300)};
    nsga2_objectives objs;
    nsga2_ranking r;
    rank_default(&r, m, 5, &objs);
    gerr err = GERR_INIT;
    int plain[5] = {0, 0, 0, 0, 1};
    for (int i = 0; i < 5; i++)
        CHECK(r.rank[i] == plain[i], "no tolerance: rank[%d] = %d, want %d", i, r.rank[i],
              plain[i]);
    nsga2_ranking_release(&r);

    CHECK_EQ_INT(nsga2_objectives_tolerance(&objs, "val_acc", 0.0625), 0);
    CHECK_EQ_INT(nsga2_objectives_tolerance(&objs, "flops", 1), 1);
    CHECK_EQ_INT(nsga2_objectives_tolerance(&objs, "val_acc", -1), -1);
    CHECK_EQ_INT(nsga2_objectives_tolerance(&objs, "val_acc", NAN), -1);
    CHECK(objs.tol[0] == 0.0625 && objs.tol[1] == 0, "tolerances %g %g", objs.tol[0], objs.tol[1]);
    CHECK(nsga2_rank(&r, m, 5, &objs, &err) == 0, "rank: %s", err.msg);
    int want[5] = {1, 2, 0, 0, 3};
    for (int i = 0; i < 5; i++)
        CHECK(r.rank[i] == want[i], "eps: rank[%d] = %d, want %d", i, r.rank[i], want[i]);
    CHECK_EQ_INT(r.n_fronts, 4);
    CHECK(nsga2_dominates(&m[3], &m[0], &objs) && !nsga2_dominates(&m[0], &m[3], &objs),
          "a tie at exactly eps: fewer parameters win");
    CHECK(!nsga2_dominates(&m[3], &m[1], &objs) && !nsga2_dominates(&m[1], &m[3], &objs),
          "beyond eps: a trade-off");
    int front[5];
    int nf = nsga2_pareto_front(m, 5, &objs, front, &err);
    CHECK(nf == 2 && front[0] == 2 && front[1] == 3, "eps front: %d members", nf);
    nsga2_ranking_release(&r);

    /* tolerance 0 turns it off again */
    CHECK_EQ_INT(nsga2_objectives_tolerance(&objs, "val_acc", 0), 0);
    CHECK_EQ_INT(nsga2_pareto_front(m, 5, &objs, front, &err), 4);
}

/* A measure promoted to rung 1: acc0 at rung 0, acc1 at rung 1. */
static nsga2_measure R1(double acc0, double acc1, double params)
{
    nsga2_measure m = M(acc1, params);
    m.rung = 1;
    m.rung_acc[0] = acc0;
    m.rung_seconds[0] = 0;
    return m;
}

/* Comparison on the highest rung both have.
 *
 *   i  rung  acc r0  acc r1  params
 *   0  1     0.70    0.95    200
 *   1  1     0.74    0.80    200
 *   2  0     0.90    -       300
 *   3  0     0.60    -       100
 *
 * 0 vs 1 at rung 1: 0.95 > 0.80, same size: 0 dominates 1 (at rung 0
 * alone 1 would dominate 0). 0, 1 vs 2 and 3 at rung 0: trade-offs.
 * Fronts {0, 2, 3}, {1}. Crowding of front 0 at rung 0 (the highest all
 * three have): acc 3 (0.60) < 0 (0.70) < 2 (0.90), range 0.3:
 * 0 gets (0.90 - 0.60) / 0.3 = 1; params 3 (100) < 0 (200) < 2 (300):
 * (300 - 100) / 200 = 1; so 0 is 2 and not an extreme (at rung 1, 0.95,
 * it would be one: inf). */
static void test_rungs_by_hand(void)
{
    nsga2_measure m[4] = {R1(0.70, 0.95, 200), R1(0.74, 0.80, 200), M(0.90, 300), M(0.60, 100)};
    nsga2_objectives objs;
    nsga2_objectives_default(&objs);
    nsga2_ranking r;
    gerr err = GERR_INIT;
    CHECK_EQ_INT(nsga2_common_rung(&m[0], &m[1]), 1);
    CHECK_EQ_INT(nsga2_common_rung(&m[0], &m[2]), 0);
    CHECK(nsga2_dominates(&m[0], &m[1], &objs) && !nsga2_dominates(&m[1], &m[0], &objs),
          "rung 1 decides");
    CHECK(nsga2_compare_acc(&m[0], &m[1]) == 1 && nsga2_compare_acc(&m[0], &m[2]) == -1,
          "accuracy comparison on the common rung");
    CHECK(nsga2_rank(&r, m, 4, &objs, &err) == 0, "rank: %s", err.msg);
    int want[4] = {0, 1, 0, 0};
    for (int i = 0; i < 4; i++)
        CHECK(r.rank[i] == want[i], "rank[%d] = %d, want %d", i, r.rank[i], want[i]);
    CHECK(CLOSE(r.crowding[0], 2.0), "crowding[0] = %.12g (rung 0's numbers)", r.crowding[0]);
    CHECK(isinf(r.crowding[2]) && isinf(r.crowding[3]), "extremes");
    nsga2_ranking_release(&r);

    /* the same four as screening measures: 1 dominates 0 */
    nsga2_measure s[4];
    for (int i = 0; i < 4; i++)
        s[i] = nsga2_measure_at(&m[i], 0);
    CHECK(s[0].rung == 0 && CLOSE(s[0].val_acc, 0.70), "measure at rung 0: %g", s[0].val_acc);
    CHECK(nsga2_measure_at(&m[2], 1).failed, "no rung 1 measured: failed at it");
    CHECK(nsga2_rank(&r, s, 4, &objs, &err) == 0, "rank: %s", err.msg);
    CHECK(r.rank[0] == 1 && r.rank[1] == 0, "screening alone: ranks %d %d", r.rank[0], r.rank[1]);
    nsga2_ranking_release(&r);
}

/* A cycle across rungs: a beats b at rung 1, b beats c and c beats a at
 * rung 0 (same size throughout):
 *
 *   i  rung  acc r0  acc r1
 *   0  1     0.70    0.80
 *   1  1     0.75    0.78
 *   2  0     0.72    -
 *   3  0     0.60    -      dominated by all three at rung 0
 *
 * Each of 0, 1, 2 has one dominator: none is free, so the three with the
 * fewest (1) make front 0; 3 follows in front 1. */
static void test_rung_cycle(void)
{
    nsga2_measure m[4] = {R1(0.70, 0.80, 100), R1(0.75, 0.78, 100), M(0.72, 100), M(0.60, 100)};
    nsga2_objectives objs;
    nsga2_objectives_default(&objs);
    CHECK(nsga2_dominates(&m[0], &m[1], &objs) && nsga2_dominates(&m[1], &m[2], &objs) &&
              nsga2_dominates(&m[2], &m[0], &objs),
          "the cycle");
    nsga2_ranking r;
    gerr err = GERR_INIT;
    CHECK(nsga2_rank(&r, m, 4, &objs, &err) == 0, "rank: %s", err.msg);
    CHECK_EQ_INT(r.n_fronts, 2);
    int want[4] = {0, 0, 0, 1};
    for (int i = 0; i < 4; i++)
        CHECK(r.rank[i] == want[i], "rank[%d] = %d, want %d", i, r.rank[i], want[i]);
    /* every index exactly once in the order */
    int seen[4] = {0};
    for (int i = 0; i < 4; i++)
        if (r.order[i] >= 0 && r.order[i] < 4)
            seen[r.order[i]]++;
    CHECK(seen[0] == 1 && seen[1] == 1 && seen[2] == 1 && seen[3] == 1, "order is a permutation");
    nsga2_ranking_release(&r);
}

/* A promoted result's rungs; a failed promotion leaves its rung out; the
 * test split's numbers do not change what selection sees. */
static void test_measure_rungs(void)
{
    nsga2_measure m, p;
    gerr err = GERR_INIT;
    const char *promoted =
        "{\"status\":\"ok\",\"val_acc\":0.85,\"params\":100,\"flops\":5,\"seconds\":30,"
        "\"rung\":2,\"rungs\":[{\"rung\":0,\"status\":\"ok\",\"val_acc\":0.7,\"seconds\":3},"
        "{\"rung\":1,\"status\":\"timeout\",\"val_acc\":0.72,\"seconds\":9},"
        "{\"rung\":2,\"status\":\"ok\",\"val_acc\":0.85,\"seconds\":30}]}";
    CHECK(nsga2_measure_from_result(&m, promoted, &err) == 0, "promoted: %s", err.msg);
    CHECK(!m.failed && m.rung == 2 && CLOSE(m.val_acc, 0.85) && CLOSE(m.rung_acc[0], 0.7) &&
              isnan(m.rung_acc[1]) && CLOSE(m.rung_seconds[0], 3),
          "rungs: %d %g %g %g", m.rung, m.val_acc, m.rung_acc[0], m.rung_acc[1]);
    CHECK(nsga2_measure_from_result(&m, "{\"status\":\"ok\",\"val_acc\":0.5,\"rung\":9}", &err) ==
                  -1 &&
              strstr(err.msg, "rung"),
          "rung out of range: %s", err.msg);
    const char *with_test =
        "{\"status\":\"ok\",\"val_acc\":0.85,\"params\":100,\"flops\":5,\"seconds\":30,"
        "\"test_acc\":0.01,\"test_loss\":99,\"rung\":2,\"rungs\":[{\"rung\":0,\"status\":\"ok\","
        "\"val_acc\":0.7,\"seconds\":3,\"test_acc\":1},{\"rung\":1,\"status\":\"timeout\","
        "\"val_acc\":0.72,\"seconds\":9},{\"rung\":2,\"status\":\"ok\",\"val_acc\":0.85,"
        "\"seconds\":30,\"test_acc\":0.99}]}";
    CHECK(nsga2_measure_from_result(&m, promoted, &err) == 0 &&
              nsga2_measure_from_result(&p, with_test, &err) == 0,
          "parse: %s", err.msg);
    CHECK(!memcmp(&m, &p, sizeof m), "test-split fields change the measure");
}

int main(void)
{
    RUN(test_two_objectives_by_hand);
    RUN(test_chain);
    RUN(test_three_objectives);
    RUN(test_ties);
    RUN(test_failed);
    RUN(test_tournament);
    RUN(test_objective_lists);
    RUN(test_measure_from_result);
    RUN(test_epsilon_by_hand);
    RUN(test_rungs_by_hand);
    RUN(test_rung_cycle);
    RUN(test_measure_rungs);
    return harness_done();
}
