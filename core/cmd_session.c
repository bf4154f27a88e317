/* gevo new / log / show / export: the session repository from the command
 * line (see man/gevo-session.5). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/datadir.h"
#include "engine/net.h"
#include "sessions/session.h"
#include "tui/commands.h"

#define DEFAULT_DATA "/usr/share/datasets/fashion-mnist"

static int usage_error(const char *usage, const char *fmt, const char *arg)
{
    fprintf(stderr, "gevo: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nusage: %s\n", usage);
    return 2;
}

static int is_help(const char *a)
{
    return !strcmp(a, "--help") || !strcmp(a, "-h");
}

/* ---- gevo new -------------------------------------------------------- */

static const char new_usage[] = "gevo new DIR [--seed NET] [--data DIR] [--preset NAME]";

int core_cmd_new(int argc, char **argv)
{
    const char *dir = NULL, *seed = NULL, *data = NULL, *preset = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (is_help(a)) {
            printf("usage: %s\n\nCreates DIR as a session repository: the seed network (default "
                   "quick.net) is individual g0-1,\nthe prompt templates are copied in, and the "
                   "journal branch records generation 0.\n",
                   new_usage);
            return 0;
        }
        const char **opt = !strcmp(a, "--seed")     ? &seed
                           : !strcmp(a, "--data")   ? &data
                           : !strcmp(a, "--preset") ? &preset
                                                    : NULL;
        if (opt) {
            if (i + 1 >= argc)
                return usage_error(new_usage, "%s needs a value", a);
            *opt = argv[++i];
        } else if (a[0] == '-') {
            return usage_error(new_usage, "unknown option '%s'", a);
        } else if (dir) {
            return usage_error(new_usage, "one folder only ('%s' is extra)", a);
        } else {
            dir = a;
        }
    }
    if (!dir)
        return usage_error(new_usage, "%sthe session folder is missing", "");
    char err[1024];
    char *seed_path = seed ? strdup(seed) : datadir_find("nets", "quick.net", err, sizeof err);
    if (!seed_path) {
        fprintf(stderr, "gevo new: the default seed: %s\n", err);
        return 1;
    }
    net_graph *g = NULL;
    net_error ne;
    memset(&ne, 0, sizeof ne);
    if (net_compile_file(seed_path, NULL, &g, &ne) != 0) {
        fprintf(stderr, "gevo new: the seed network does not compile:\n");
        net_error_print(&ne, stderr);
        free(seed_path);
        return 1;
    }
    long params = g->params;
    double flops = g->flops;
    net_graph_free(g);
    struct stat st;
    if (data && (stat(data, &st) != 0 || !S_ISDIR(st.st_mode))) {
        fprintf(stderr, "gevo new: the data folder %s does not exist\n", data);
        free(seed_path);
        return 1;
    }
    if (!data) {
        data = DEFAULT_DATA;
        if (stat(data, &st) != 0)
            fprintf(stderr,
                    "gevo new: warning: the default data set %s is not installed "
                    "(apt-get install dataset-fashion-mnist, or give --data)\n",
                    data);
    }
    char *prompts = datadir_dir("prompts", err, sizeof err); /* none is fine */
    session_create_opts o = {
        .seed_path = seed_path, .data_dir = data, .prompts_dir = prompts, .preset = preset};
    session *s = NULL;
    gerr serr = GERR_INIT;
    int rc = session_create(&s, dir, &o, &serr);
    free(prompts);
    if (rc != 0) {
        fprintf(stderr, "gevo new: %s\n", serr.msg);
        free(seed_path);
        return 1;
    }
    session_info info;
    if (session_info_get(s, "g0-1", &info, NULL) == 0)
        printf("created session %s\n  seed g0-1 (%.10s) from %s: %ld parameters, %.3g FLOPs\n"
               "  data %s\n  'gevo log %s' lists it; it is a git repository too\n",
               session_workdir(s), info.commit, seed_path, params, flops, data, dir);
    session_close(s);
    free(seed_path);
    return 0;
}

/* ---- gevo log -------------------------------------------------------- */

static const char log_usage[] = "gevo log DIR [--generation N]";

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

static session *open_read(const char *cmd, const char *dir)
{
    session *s = NULL;
    gerr serr = GERR_INIT;
    if (session_open(&s, dir, SESSION_READ, &serr) != 0) {
        fprintf(stderr, "gevo %s: %s\n", cmd, serr.msg);
        return NULL;
    }
    return s;
}

int core_cmd_log(int argc, char **argv)
{
    const char *dir = NULL;
    int gen = -1;
    for (int i = 1; i < argc; i++) {
        if (is_help(argv[i])) {
            printf("usage: %s\n\nLists the generations and individuals of a session: operator, "
                   "persona, status,\nobjectives (val_acc, params, FLOPs) and review.\n",
                   log_usage);
            return 0;
        } else if (!strcmp(argv[i], "--generation")) {
            char *end;
            if (i + 1 >= argc || (gen = (int)strtol(argv[i + 1], &end, 10)) < 0 || *end)
                return usage_error(log_usage, "%s needs a generation number", argv[i]);
            i++;
        } else if (argv[i][0] == '-') {
            return usage_error(log_usage, "unknown option '%s'", argv[i]);
        } else if (dir) {
            return usage_error(log_usage, "one folder only ('%s' is extra)", argv[i]);
        } else {
            dir = argv[i];
        }
    }
    if (!dir)
        return usage_error(log_usage, "%sthe session folder is missing", "");
    session *s = open_read("log", dir);
    if (!s)
        return 1;
    session_info *v = NULL;
    size_t n = 0;
    fronts f = {NULL, 0};
    gerr serr = GERR_INIT;
    if (session_list(s, gen, &v, &n, &serr) != 0 ||
        session_journal_foreach(s, front_cb, &f, &serr) != 0) {
        fprintf(stderr, "gevo log: %s\n", serr.msg);
        free(v);
        session_close(s);
        return 1;
    }
    if (session_lock_holder(s)[0])
        printf("(being written by gevo, %s)\n", session_lock_holder(s));
    int cur = -1;
    for (size_t i = 0; i < n; i++) {
        const session_info *x = &v[i];
        if (x->generation != cur) {
            cur = x->generation;
            size_t cnt = 0;
            for (size_t k = i; k < n && v[k].generation == cur; k++)
                cnt++;
            const char *front = cur < f.n && f.front[cur] ? f.front[cur] : NULL;
            printf("%sgeneration %d: %zu individual%s%s%s\n", i ? "\n" : "", cur, cnt,
                   cnt == 1 ? "" : "s", front ? ", front: " : "",
                   front ? (front[0] ? front : "(empty)") : "");
            printf("  %-9s %-8s %-10s %-12s %-9s %7s %10s %9s %s\n", "ID", "COMMIT", "OPERATOR",
                   "PERSONA", "STATUS", "VAL_ACC", "PARAMS", "FLOPS", "REVIEW");
        }
        char acc[16], params[24], flops[16];
        fmt_num(acc, sizeof acc, x->val_acc, "%.4f");
        fmt_num(params, sizeof params, (double)x->params, "%.0f");
        fmt_num(flops, sizeof flops, x->flops, "%.3g");
        /* the offline proposer's long label would break the columns */
        const char *persona = !strncmp(x->persona, "random mutation", 15) ? "(no LLM)"
                              : x->persona[0]                             ? x->persona
                                                                          : "-";
        printf("  %-9s %.7s  %-10s %-12.12s %-9s %7s %10s %9s %s%s\n", x->id, x->commit, x->op,
               persona, x->status, acc, params, flops, x->decision[0] ? x->decision : "-",
               x->edited ? " (edited)" : "");
    }
    for (int i = 0; i < f.n; i++)
        free(f.front[i]);
    free(f.front);
    free(v);
    session_close(s);
    return 0;
}

/* ---- gevo show ------------------------------------------------------- */

static const char show_usage[] = "gevo show DIR ID";

static void section(const char *title, const char *body)
{
    printf("\n== %s ==\n", title);
    if (!body || !body[0]) {
        printf("(none)\n");
        return;
    }
    size_t n = strlen(body);
    printf("%s%s", body, body[n - 1] == '\n' ? "" : "\n");
}

int core_cmd_show(int argc, char **argv)
{
    const char *dir = NULL, *spec = NULL;
    for (int i = 1; i < argc; i++) {
        if (is_help(argv[i])) {
            printf("usage: %s\n\nShows one individual (ID like g2-7, or a commit hash prefix): "
                   "metadata, genome,\nreasoning, result, review, the diff against its parent "
                   "and the researcher's edit.\n",
                   show_usage);
            return 0;
        } else if (argv[i][0] == '-') {
            return usage_error(show_usage, "unknown option '%s'", argv[i]);
        } else if (!dir) {
            dir = argv[i];
        } else if (!spec) {
            spec = argv[i];
        } else {
            return usage_error(show_usage, "too many arguments ('%s')", argv[i]);
        }
    }
    if (!dir || !spec)
        return usage_error(show_usage, "%sa session folder and an individual id are needed", "");
    session *s = open_read("show", dir);
    if (!s)
        return 1;
    char id[SESSION_ID_MAX];
    session_info x;
    char *genome = NULL, *reasoning = NULL, *result = NULL, *review = NULL, *diff = NULL,
         *edit = NULL;
    int rc = 1;
    gerr serr = GERR_INIT;
    if (session_resolve(s, spec, id, &serr) != 0 || session_info_get(s, id, &x, &serr) != 0 ||
        session_genome(s, id, &genome, &serr) != 0 ||
        session_file(s, id, "reasoning.md", &reasoning, &serr) ||
        session_get_result(s, id, &result, &serr) != 0 ||
        session_get_review(s, id, &review, &serr) != 0 ||
        session_diff(s, NULL, id, false, &diff, &serr) != 0 ||
        session_edit_diff(s, id, &edit, &serr) != 0) {
        fprintf(stderr, "gevo show: %s\n", serr.msg);
        goto done;
    }
    printf("individual %s  commit %s\n", x.id, x.commit);
    printf("generation %d  operator %s  persona %s\n", x.generation, x.op,
           x.persona[0] ? x.persona : "-");
    if (x.n_parents)
        printf("parents    %s%s%s\n", x.parents[0], x.n_parents > 1 ? " " : "",
               x.n_parents > 1 ? x.parents[1] : "");
    if (x.model[0])
        printf("model      %s  tokens %ld in, %ld out  latency %.2f s\n", x.model, x.tokens_in,
               x.tokens_out, x.latency_s);
    printf("status     %s%s%s\n", x.status, x.decision[0] ? "  review " : "", x.decision);
    section("genome (genome.net)", genome);
    section("reasoning", reasoning);
    section("result (refs/notes/results)", result);
    section("review (refs/notes/reviews)", review);
    char title[96];
    snprintf(title, sizeof title, "diff against parent %s", x.n_parents ? x.parents[0] : "(seed)");
    section(title, diff);
    if (x.edited)
        section("researcher's edit", edit);
    rc = 0;
done:
    free(genome);
    free(reasoning);
    free(result);
    free(review);
    free(diff);
    free(edit);
    session_close(s);
    return rc;
}

/* ---- gevo export ----------------------------------------------------- */

static const char export_usage[] = "gevo export DIR --csv|--json";

static void csv_field(const char *v, int last)
{
    if (strpbrk(v, ",\"\n\r")) {
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
    json_array_foreach(
        front, i, v) if (!strcmp(json_string_value(v) ? json_string_value(v) : "", id)) return true;
    return false;
}

int core_cmd_export(int argc, char **argv)
{
    const char *dir = NULL;
    int fmt = 0; /* 1 csv, 2 json */
    for (int i = 1; i < argc; i++) {
        if (is_help(argv[i])) {
            printf("usage: %s\n\nWrites every individual with its metadata, objectives and review "
                   "to standard output.\n",
                   export_usage);
            return 0;
        } else if (!strcmp(argv[i], "--csv") || !strcmp(argv[i], "--json")) {
            int f = argv[i][2] == 'c' ? 1 : 2;
            if (fmt && fmt != f)
                return usage_error(export_usage, "%schoose one of --csv and --json", "");
            fmt = f;
        } else if (argv[i][0] == '-') {
            return usage_error(export_usage, "unknown option '%s'", argv[i]);
        } else if (dir) {
            return usage_error(export_usage, "one folder only ('%s' is extra)", argv[i]);
        } else {
            dir = argv[i];
        }
    }
    if (!dir || !fmt)
        return usage_error(export_usage, "%sa session folder and --csv or --json are needed", "");
    session *s = open_read("export", dir);
    if (!s)
        return 1;
    session_info *v = NULL;
    size_t n = 0;
    gerr serr = GERR_INIT;
    if (session_list(s, -1, &v, &n, &serr) != 0) {
        fprintf(stderr, "gevo export: %s\n", serr.msg);
        session_close(s);
        return 1;
    }
    json_t *front = NULL;
    session_journal_foreach(s, last_front_cb, &front, NULL);
    if (fmt == 1) {
        printf("id,generation,number,commit,operator,persona,parents,model,tokens_in,tokens_out,"
               "latency_s,edited,status,val_acc,params,flops,seconds,review,front\n");
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
            csv_field(on_front(front, x->id) ? "true" : "false", 1);
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
                json_array_append_new(arr, o);
            }
        }
        json_t *root = json_pack("{s:s, s:o}", "session", session_workdir(s), "individuals", arr);
        json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        putchar('\n');
        json_decref(root);
    }
    json_decref(front);
    free(v);
    session_close(s);
    return 0;
}
