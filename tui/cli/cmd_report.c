/* `gevo report SESSION [--markdown|--csv|--json]`: the seed paper's table
 * for a session (core/report.h). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/report.h"
#include "tui/cli/cli.h"
#include "tui/cli/progress.h"

static const cli_spec spec = {
    "report",
    "Prints the session's result: the seed and every individual gevo confirm retrained\n"
    "at the seed's fidelity, with mean ± standard deviation over seeds of validation and\n"
    "test accuracy. L: the highest mean test accuracy at no more parameters than the\n"
    "seed; M: the fewest parameters at a mean test accuracy at least the seed's; then\n"
    "the rest by size. A change in test accuracy is beyond noise when " REPORT_TEST ".\n",
    NULL,
    1,
    "the session folder is missing",
};

typedef enum {
    FMT_TEXT,
    FMT_MARKDOWN,
    FMT_CSV,
    FMT_JSON
} format;

static void signed_num(char *buf, size_t size, double v, const char *unit)
{
    if (isfinite(v))
        snprintf(buf, size, "%+.1f%s", v, unit);
    else
        snprintf(buf, size, "-");
}

static const char *beyond(const report_row *r, bool seed)
{
    return seed ? "-" : r->beyond_noise ? "yes" : "no";
}

static void print_table(const report *rp, format f)
{
    static const char *const head[] = {"id",
                                       "label",
                                       "params",
                                       "Δparams",
                                       "FLOPs",
                                       "val % (mean ±sd)",
                                       "test % (mean ±sd)",
                                       "Δtest (pts)",
                                       "p",
                                       "beyond noise",
                                       "seeds",
                                       "gen",
                                       "operator",
                                       "persona"};
    const int n_col = (int)(sizeof head / sizeof *head);
    if (f == FMT_MARKDOWN) {
        for (int c = 0; c < n_col; c++)
            printf("| %s ", head[c]);
        printf("|\n");
        for (int c = 0; c < n_col; c++)
            printf("|---");
        printf("|\n");
    } else {
        printf("%-10s %-5s %9s %8s %10s %-14s %-14s %7s %6s %-6s %5s %4s %-9s %s\n", "id", "label",
               "params", "Δparams", "FLOPs", "val %", "test %", "Δtest", "p", "noise?", "seeds",
               "gen", "operator", "persona");
    }
    for (size_t i = 0; i < rp->n; i++) {
        const report_row *r = &rp->rows[i];
        char val[48], test[48], dp[32], dt[32], p[32];
        report_format_pm(val, sizeof val, r->val_mean, r->val_std);
        report_format_pm(test, sizeof test, r->test_mean, r->test_std);
        signed_num(dp, sizeof dp, i ? r->delta_params_pct : NAN, "%");
        signed_num(dt, sizeof dt, i ? r->delta_test : NAN, "");
        if (isfinite(r->p))
            snprintf(p, sizeof p, "%.3f", r->p);
        else
            snprintf(p, sizeof p, "-");
        if (f == FMT_MARKDOWN)
            cli_line(stdout,
                     "| %s | %s | %.0f | %s | %.3g | %s | %s | %s | %s | %s | %d | %d | %s | %s |",
                     r->id, r->label, r->params, dp, r->flops, val, test, dt, p, beyond(r, i == 0),
                     r->seeds, r->generation, r->op, r->persona[0] ? r->persona : "-");
        else
            cli_line(stdout, "%-10s %-5s %9.0f %8s %10.3g %-14s %-14s %7s %6s %-6s %5d %4d %-9s %s",
                     r->id, r->label, r->params, dp, r->flops, val, test, dt, p, beyond(r, i == 0),
                     r->seeds, r->generation, r->op, r->persona[0] ? r->persona : "-");
    }
}

/* A CSV field (RFC 4180): quoted when it holds a comma, a quote or a
 * line break, its quotes doubled; shown safely as cli_line does. */
static char *csv_field(const char *v, char *buf, size_t size)
{
    if (!strpbrk(v, ",\"\r\n")) {
        snprintf(buf, size, "%s", v);
        return buf;
    }
    size_t o = 0;
    buf[o++] = '"';
    for (; *v && o + 3 < size; v++) {
        if (*v == '"')
            buf[o++] = '"';
        buf[o++] = *v;
    }
    buf[o++] = '"';
    buf[o] = 0;
    return buf;
}

static void print_csv(const report *rp)
{
    printf("id,label,params,delta_params_pct,flops,seeds,val_mean,val_std,test_mean,test_std,"
           "delta_test,p_value,beyond_noise,generation,operator,persona\n");
    for (size_t i = 0; i < rp->n; i++) {
        const report_row *r = &rp->rows[i];
        char op[80], persona[112];
        cli_line(stdout, "%s,%s,%.0f,%.4f,%.6g,%d,%.6f,%.6f,%.6f,%.6f,%.4f,%.6g,%s,%d,%s,%s", r->id,
                 r->label, r->params, r->delta_params_pct, r->flops, r->seeds, r->val_mean,
                 r->val_std, r->test_mean, r->test_std, r->delta_test, r->p,
                 i == 0            ? ""
                 : r->beyond_noise ? "true"
                                   : "false",
                 r->generation, csv_field(r->op, op, sizeof op),
                 csv_field(r->persona, persona, sizeof persona));
    }
}

/* Row i (0: the seed). Its texts are cut to their buffers (report_row):
   one that is no longer UTF-8 leaves its key out (o*). */
static json_t *row_json(const report_row *r, size_t i)
{
    return json_pack(
        "{s:o*, s:o*, s:I, s:i, s:o, s:o, s:o, s:o, s:o, s:b, s:o, s:o, s:o, s:i, s:o*, s:o*}",
        "id", json_string(r->id), "label", json_string(r->label), "params", (json_int_t)r->params,
        "seeds", r->seeds, "val_mean", cli_json_num(r->val_mean), "val_std",
        cli_json_num(r->val_std), "test_mean", cli_json_num(r->test_mean), "test_std",
        cli_json_num(r->test_std), "delta_test", cli_json_num(i ? r->delta_test : 0),
        "beyond_noise", r->beyond_noise, "p_value", cli_json_num(r->p), "delta_params_pct",
        cli_json_num(r->delta_params_pct), "flops", cli_json_num(r->flops), "generation",
        r->generation, "operator", json_string(r->op), "persona", json_string(r->persona));
}

static int print_json(const report *rp)
{
    json_t *rows = json_array();
    for (size_t i = 0; i < rp->n; i++)
        json_array_append_new(rows, row_json(&rp->rows[i], i));
    json_t *top = json_pack("{s:s, s:o}", "seed", rp->seed, "rows", rows);
    int rc = cli_json_print(top);
    json_decref(top);
    return rc;
}

/* The options, parsed into (tui/cli/opts.h). */
typedef struct options {
    bool markdown, csv, json;
} options;

static const cli_opt opts[] = {
    CLI_FLAG("markdown", 0, options, markdown, "a Markdown table"),
    CLI_FLAG("csv", 0, options, csv, "comma-separated values, one header line"),
    CLI_FLAG("json", 0, options, json, "{\"seed\": ID, \"rows\": [...]}"),
    CLI_END,
};

static int run(void *vo, const cli_args *args)
{
    const options *a = vo;
    if (a->markdown + a->csv + a->json > 1)
        return cli_usage_error("report", "choose one of --markdown, --csv and --json");
    format f = a->markdown ? FMT_MARKDOWN : a->csv ? FMT_CSV : a->json ? FMT_JSON : FMT_TEXT;
    char *const *arg = args->v;
    session *s = cli_session_open("report", arg[0], SESSION_READ);
    if (!s)
        return CLI_FAIL;
    report rp;
    gerr err = GERR_INIT;
    int rc = CLI_FAIL;
    if (report_build(s, &rp, &err)) {
        cli_error("report", "%s", err.msg);
        session_close(s);
        return CLI_FAIL;
    }
    char fid[96];
    if (rp.images)
        snprintf(fid, sizeof fid, "%ld images", rp.images);
    else
        snprintf(fid, sizeof fid, "all training images");
    if (f == FMT_JSON) {
        rc = print_json(&rp) ? CLI_FAIL : CLI_OK;
    } else if (f == FMT_CSV) {
        print_csv(&rp);
        rc = CLI_OK;
    } else {
        if (f == FMT_TEXT)
            cli_line(stdout, "gevo report: %s: confirmed at %s, %d epoch%s%s", arg[0], fid,
                     rp.epochs, rp.epochs == 1 ? "" : "s", rp.epochs ? "" : " (the program's)");
        print_table(&rp, f);
        printf("\n%sBeyond noise: %s on the test accuracies over seeds; Δ against the seed %s.\n",
               f == FMT_MARKDOWN ? "" : "", REPORT_TEST, rp.seed);
        if (rp.skipped)
            printf("%d confirmed individual%s at another fidelity left out.\n", rp.skipped,
                   rp.skipped == 1 ? "" : "s");
        rc = CLI_OK;
    }
    report_release(&rp);
    session_close(s);
    return rc;
}

const cli_def cmd_report = {&spec, opts, sizeof(options), NULL, run};
