/* `gevo export DIR --csv|--json`: every individual with its metadata,
 * objectives and review, for a spreadsheet or a script. The field names
 * are an interface (man/gevo.1). `gevo export DIR ID --torch OUT`: one
 * individual as a PyTorch module with its trained weights
 * (core/export_session.h). */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/export_session.h"
#include "engine/base/text.h"
#include "tui/cli/cli.h"

static const cli_spec spec = {
    "export",
    "Writes every individual with its metadata, objectives and review to standard output\n"
    "(--csv, --json), or one individual ID as a standalone PyTorch module with its\n"
    "trained weights into the folder OUT (--torch).\n",
    NULL,
    CLI_OPERANDS_ANY,
    NULL,
};

/* gevo export DIR ID --torch OUT [--train] [--data DIR] [--confirmed] */
static int export_torch(const char *dir, const char *id, const char *out, bool train,
                        const char *data, bool confirmed)
{
    session *s = cli_session_open("export", dir, SESSION_READ);
    if (!s)
        return CLI_FAIL;
    export_session_opts o = {.train = train, .data = data, .confirmed = confirmed};
    export_session_report rep;
    gerr err = GERR_INIT;
    if (export_session_torch(s, id, out, &o, &rep, &err)) {
        cli_error("export", "%s", err.msg);
        session_close(s);
        return CLI_FAIL;
    }
    char val[32] = "-", note[48] = "";
    if (rep.retrain_val >= 0)
        snprintf(val, sizeof val, "%.4f", rep.retrain_val);
    if (rep.note_val >= 0)
        snprintf(note, sizeof note, " (its result: %.4f)", rep.note_val);
    if (rep.retrained)
        cli_line(stdout,
                 "retrained %s at the fidelity of its result (%s): validation accuracy %s%s",
                 rep.id, rep.fidelity, val, note);
    char params[48] = "";
    if (rep.params >= 0)
        snprintf(params, sizeof params, "%ld parameters, ", rep.params);
    char confirm[64];
    snprintf(confirm, sizeof confirm, "the weights of its confirm run with seed %d",
             rep.confirm_seed);
    cli_line(stdout, "exported %s to %s: %s%s", rep.id, out, params,
             rep.confirm_seed ? confirm
             : rep.retrained  ? "retrained weights"
                              : "the weights its training kept");
    cli_line(stdout, "  %s/model.py, weights.npz, genome.net, gevo.weights, README.md", out);
    cli_line(stdout,
             "  in PyTorch: import sys; sys.path.insert(0, \"%s\"); from model import load; "
             "net = load()",
             out);
    session_close(s);
    return CLI_OK;
}

/* One CSV field: its control characters shown visibly (so a newline in a
 * field is "^J" and never splits a row), quoted when it holds a comma or
 * a quote. */
static void csv_field(const char *raw, int last)
{
    char *v = text_safe(raw, 0);
    if (!v) {
        fputs("(out of memory)", stdout);
    } else if (strpbrk(v, ",\"")) {
        putchar('"');
        for (const char *p = v; *p; p++) {
            if (*p == '"')
                putchar('"');
            putchar(*p);
        }
        putchar('"');
    } else {
        fputs(v, stdout);
    }
    free(v);
    putchar(last ? '\n' : ',');
}

static json_t *num_or_null(double v)
{
    return v < 0 ? json_null() : json_real(v);
}

/* The front of the latest journal record: the final Pareto front. */
static int last_front_cb(const session_journal_entry *e, void *arg)
{
    json_t **front = arg;
    json_t *j = json_loads(e->front_json, 0, NULL);
    json_t *arr = json_object_get(j, "front");
    if (json_is_array(arr)) {
        json_decref(*front);
        *front = json_incref(arr);
    }
    json_decref(j);
    return 0;
}

static bool on_front(json_t *front, const char *id)
{
    size_t i;
    json_t *v;
    json_array_foreach(front, i, v)
    {
        const char *s = json_string_value(v);
        if (s && !strcmp(s, id))
            return true;
    }
    return false;
}

/* The options, parsed into (tui/cli/opts.h). */
typedef struct options {
    const char *torch, *data;
    bool csv, json, train, confirmed;
} options;

static const cli_opt opts[] = {
    CLI_FLAG("csv", 0, options, csv, "as CSV: a header line, then one line per individual"),
    CLI_FLAG("json", 0, options, json, "as a JSON object {session, individuals}"),
    CLI_STR("torch", options, torch, "OUT",
            "ID as OUT/model.py, weights.npz, genome.net, gevo.weights, README.md"),
    CLI_FLAG("train", 0, options, train,
             "with --torch: when ID's weights are not kept, train it again at\n"
             "the fidelity of its result first"),
    CLI_STR("data", options, data, "DIR",
            "with --train: the data to train on (default: the result's)"),
    CLI_FLAG("confirmed", 0, options, confirmed,
             "with --torch: the weights of ID's gevo confirm run with the highest\n"
             "validation accuracy, instead of those behind its result"),
    CLI_END,
};

static int run(void *vo, const cli_args *args)
{
    const options *a = vo;
    const char *torch = a->torch, *data = a->data;
    bool csv = a->csv, json = a->json, train = a->train, confirmed = a->confirmed;
    if (csv + json + (torch != NULL) > 1)
        return cli_usage_error("export", "choose one of --csv, --json and --torch");
    if (!csv && !json && !torch)
        return cli_usage_error("export", "--csv, --json or --torch is needed");
    if (!torch && (train || data || confirmed))
        return cli_usage_error("export", "--train, --data and --confirmed go with --torch");
    if (confirmed && (train || data))
        return cli_usage_error("export",
                               "--confirmed exports trained weights: no --train or --data");
    if (torch) {
        if (cli_operands("export", args, 2, "a session folder and an individual id are needed"))
            return CLI_USAGE;
        return export_torch(args->v[0], args->v[1], torch, train, data, confirmed);
    }
    if (cli_operands("export", args, 1, "the session folder is missing"))
        return CLI_USAGE;
    session *s = cli_session_open("export", args->v[0], SESSION_READ);
    if (!s)
        return CLI_FAIL;
    session_info *v = NULL;
    size_t n = 0;
    gerr serr = GERR_INIT;
    if (session_list(s, -1, &v, &n, &serr) != 0) {
        cli_error("export", "%s", serr.msg);
        session_close(s);
        return CLI_FAIL;
    }
    json_t *front = NULL;
    session_journal_foreach(s, last_front_cb, &front, NULL);
    if (csv) {
        printf("id,generation,number,commit,operator,persona,parents,model,tokens_in,tokens_out,"
               "latency_s,edited,status,val_acc,params,flops,seconds,review,front,rung\n");
        for (size_t i = 0; i < n; i++) {
            const session_info *x = &v[i];
            char num[8][48], parents[2 * SESSION_ID_MAX + 2];
            snprintf(parents, sizeof parents, "%s%s%s", x->n_parents ? x->parents[0] : "",
                     x->n_parents > 1 ? " " : "", x->n_parents > 1 ? x->parents[1] : "");
            snprintf(num[0], 48, "%d", x->generation);
            snprintf(num[1], 48, "%d", x->number);
            snprintf(num[2], 48, "%ld", x->tokens_in);
            snprintf(num[3], 48, "%ld", x->tokens_out);
            snprintf(num[4], 48, "%.3f", x->latency_s);
            if (x->val_acc < 0)
                num[5][0] = 0;
            else
                snprintf(num[5], 48, "%.6f", x->val_acc);
            if (x->params < 0)
                num[6][0] = 0;
            else
                snprintf(num[6], 48, "%ld", x->params);
            if (x->flops < 0)
                num[7][0] = 0;
            else
                snprintf(num[7], 48, "%.0f", x->flops);
            char secs[48] = "";
            if (x->seconds >= 0)
                snprintf(secs, sizeof secs, "%.3f", x->seconds);
            csv_field(x->id, 0);
            csv_field(num[0], 0);
            csv_field(num[1], 0);
            csv_field(x->commit, 0);
            csv_field(x->op, 0);
            csv_field(x->persona, 0);
            csv_field(parents, 0);
            csv_field(x->model, 0);
            csv_field(num[2], 0);
            csv_field(num[3], 0);
            csv_field(num[4], 0);
            csv_field(x->edited ? "true" : "false", 0);
            csv_field(x->status, 0);
            csv_field(num[5], 0);
            csv_field(num[6], 0);
            csv_field(num[7], 0);
            csv_field(secs, 0);
            csv_field(x->decision, 0);
            csv_field(on_front(front, x->id) ? "true" : "false", 0);
            char rung[16];
            snprintf(rung, sizeof rung, "%d", x->rung);
            csv_field(rung, 1);
        }
    } else {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            const session_info *x = &v[i];
            json_t *par = json_array();
            for (int k = 0; k < x->n_parents; k++)
                json_array_append_new(par, json_string(x->parents[k]));
            json_t *o = json_pack(
                "{s:s, s:i, s:i, s:s, s:s, s:s, s:o, s:s, s:I, s:I, s:f, s:b, s:s, s:o, s:o, s:o, "
                "s:o, s:o}",
                "id", x->id, "generation", x->generation, "number", x->number, "commit", x->commit,
                "operator", x->op, "persona", x->persona, "parents", par, "model", x->model,
                "tokens_in", (json_int_t)x->tokens_in, "tokens_out", (json_int_t)x->tokens_out,
                "latency_s", x->latency_s, "edited", x->edited, "status", x->status, "val_acc",
                num_or_null(x->val_acc), "params",
                x->params < 0 ? json_null() : json_integer(x->params), "flops",
                num_or_null(x->flops), "seconds", num_or_null(x->seconds), "review",
                x->decision[0] ? json_string(x->decision) : json_null());
            if (o) {
                json_object_set_new(o, "front", json_boolean(on_front(front, x->id)));
                /* the fidelity rung of val_acc (0: screening) */
                json_object_set_new(o, "rung", json_integer(x->rung));
                json_array_append_new(arr, o);
            }
        }
        json_t *root = json_pack("{s:s, s:o}", "session", session_workdir(s), "individuals", arr);
        /* ASCII: every other character as \uXXXX, so C1 controls and
           bidirectional overrides in the data cannot act on a terminal */
        json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
        putchar('\n');
        json_decref(root);
    }
    json_decref(front);
    free(v);
    session_close(s);
    return CLI_OK;
}

const cli_def cmd_export = {&spec, opts, sizeof(options), NULL, run};
