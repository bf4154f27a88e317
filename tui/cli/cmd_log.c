/* `gevo log DIR`: a session's generations and individuals, with the
 * Pareto front the journal recorded for each. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/noise.h"
#include "tui/cli/cli.h"

static const cli_spec spec = {
    "log",
    "Lists the generations and individuals of a session: operator, persona, status,\n"
    "objectives (val_acc, params, FLOPs) and review; and how many proposals of each\n"
    "generation failed (their records: git for-each-ref refs/failed). VAL is the\n"
    "validation accuracy: at screening with the measured noise (74.9% ±0.7: one\n"
    "standard deviation of the seed's runs), at a higher fidelity rung with the\n"
    "rung (81.2% r2).\n",
    NULL,
    1,
    "the session folder is missing",
};

typedef struct fronts {
    char **front; /* per generation: the latest journal front, "" if none */
    int n;
} fronts;

static int front_cb(const session_journal_entry *e, void *arg)
{
    fronts *f = arg;
    if (e->generation < 0 || e->generation > 1000000)
        return 0;
    if (e->generation >= f->n) {
        int n = e->generation + 1;
        char **v = realloc(f->front, (size_t)n * sizeof *v);
        if (!v)
            return -1;
        for (int i = f->n; i < n; i++)
            v[i] = NULL;
        f->front = v;
        f->n = n;
    }
    json_t *j = json_loads(e->front_json, 0, NULL);
    json_t *arr = json_object_get(j, "front");
    char buf[512] = "";
    size_t o = 0;
    for (size_t i = 0; i < json_array_size(arr) && o < sizeof buf - 40; i++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%s", i ? " " : "",
                              json_string_value(json_array_get(arr, i)));
    json_decref(j);
    free(f->front[e->generation]);
    f->front[e->generation] = strdup(buf);
    return 0;
}

static void fmt_num(char *buf, size_t size, double v, const char *fmt)
{
    if (v < 0)
        snprintf(buf, size, "-");
    else
        snprintf(buf, size, fmt, v);
}

/* The header of a generation with failed proposals and no individual;
 * moves *fi past them. */
static void failed_header(int g, const session_failed_info *fv, size_t nf, size_t *fi, bool blank,
                          const fronts *f)
{
    size_t cnt = 0;
    while (*fi < nf && fv[*fi].generation == g) {
        cnt++;
        (*fi)++;
    }
    const char *front = g < f->n && f->front[g] ? f->front[g] : NULL;
    if (blank)
        putchar('\n');
    cli_line(stdout, "generation %d: 0 individuals, %zu failed proposal%s%s%s", g, cnt,
             cnt == 1 ? "" : "s", front ? ", front: " : "",
             front ? (front[0] ? front : "(empty)") : "");
}

/* The options, parsed into (tui/cli/opts.h). */
typedef struct options {
    int gen;
} options;

static const cli_opt opts[] = {
    CLI_INT("generation", options, gen, 0, 1000000, "N", "only generation N"),
    CLI_END,
};

static void init(void *vo)
{
    ((options *)vo)->gen = -1;
}

static int run(void *vo, const cli_args *args)
{
    int gen = ((const options *)vo)->gen;
    const char *dir = args->v[0];
    session *s = cli_session_open("log", dir, SESSION_READ);
    if (!s)
        return CLI_FAIL;
    session_info *v = NULL;
    size_t n = 0;
    fronts f = {NULL, 0};
    gerr serr = GERR_INIT;
    if (session_list(s, gen, &v, &n, &serr) != 0 ||
        session_journal_foreach(s, front_cb, &f, &serr) != 0) {
        cli_error("log", "%s", serr.msg);
        free(v);
        session_close(s);
        return CLI_FAIL;
    }
    session_failed_info *fv = NULL;
    size_t nf = 0;
    if (session_failed_list(s, gen, &fv, &nf, &serr) != 0) {
        cli_error("log", "%s", serr.msg);
        free(v);
        for (int i = 0; i < f.n; i++)
            free(f.front[i]);
        free(f.front);
        session_close(s);
        return CLI_FAIL;
    }
    if (session_lock_holder(s)[0])
        cli_line(stdout, "(being written by gevo, %s)", session_lock_holder(s));
    noise_info ni;
    double eps = 0;
    char how[96] = "", line[1024];
    if (noise_read(s, &ni, &serr) || noise_epsilon(s, &ni, &eps, how, sizeof how, &serr)) {
        cli_line(stdout, "noise: %s", serr.msg);
        ni.k = 0;
        ni.std = NAN;
    } else {
        noise_describe(&ni, eps, how, line, sizeof line);
        cli_line(stdout, "%s", line);
    }
    int cur = -1;
    size_t fi = 0; /* failed proposals, by generation as the individuals */
    for (size_t i = 0; i < n || fi < nf; i++) {
        /* a generation whose proposals all failed has a header of its own */
        while (fi < nf && (i >= n || fv[fi].generation < v[i].generation)) {
            int g = fv[fi].generation;
            failed_header(g, fv, nf, &fi, cur >= 0 || i > 0, &f);
            cur = g;
        }
        if (i >= n)
            break;
        const session_info *x = &v[i];
        if (x->generation != cur) {
            cur = x->generation;
            size_t cnt = 0;
            for (size_t k = i; k < n && v[k].generation == cur; k++)
                cnt++;
            size_t nfail = 0;
            while (fi < nf && fv[fi].generation == cur) {
                nfail++;
                fi++;
            }
            const char *front = cur < f.n && f.front[cur] ? f.front[cur] : NULL;
            if (i)
                putchar('\n');
            char failed[48] = "";
            if (nfail)
                snprintf(failed, sizeof failed, ", %zu failed proposal%s", nfail,
                         nfail == 1 ? "" : "s");
            cli_line(stdout, "generation %d: %zu individual%s%s%s%s", cur, cnt, cnt == 1 ? "" : "s",
                     failed, front ? ", front: " : "", front ? (front[0] ? front : "(empty)") : "");
            printf("  %-9s %-8s %-10s %-12s %-9s %-11s %10s %9s %s\n", "ID", "COMMIT", "OPERATOR",
                   "PERSONA", "STATUS", "VAL", "PARAMS", "FLOPS", "REVIEW");
        }
        char acc[48], params[24], flops[16];
        noise_format_acc(acc, sizeof acc, x->val_acc, x->rung, &ni);
        /* "±" is two bytes and one column: pad by columns */
        if (strstr(acc, "±"))
            strcat(acc, " ");
        fmt_num(params, sizeof params, (double)x->params, "%.0f");
        fmt_num(flops, sizeof flops, x->flops, "%.3g");
        /* the offline proposer's long label would break the columns */
        const char *persona = !strncmp(x->persona, "random mutation", 15) ? "(no LLM)"
                              : x->persona[0]                             ? x->persona
                                                                          : "-";
        cli_line(stdout, "  %-9s %.7s  %-10s %-12.12s %-9s %-11s %10s %9s %s%s", x->id, x->commit,
                 x->op, persona, x->status, acc, params, flops, x->decision[0] ? x->decision : "-",
                 x->edited ? " (edited)" : "");
    }
    for (int i = 0; i < f.n; i++)
        free(f.front[i]);
    free(f.front);
    free(v);
    free(fv);
    session_close(s);
    return CLI_OK;
}

const cli_def cmd_log = {&spec, opts, sizeof(options), init, run};
