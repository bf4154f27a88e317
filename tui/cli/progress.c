/* What gevo train and gevo eval share: the JSON lines of --progress (read
 * by core/eval_local.c: their names are an interface), JSON printed and
 * numbers as JSON (for every command), and loading the data with a
 * decoding bar or "decode" events. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui/cli/cli.h"
#include "tui/cli/progress.h"

void cli_json_line(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        fflush(stdout);
    }
    free(s);
}

int cli_json_print(const json_t *o)
{
    char *s = o ? json_dumps(o, CLI_JSON_FLAGS) : NULL;
    if (!s)
        return -1;
    printf("%s\n", s);
    free(s);
    return 0;
}

json_t *cli_json_num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

json_t *cli_json_hash(uint64_t hash)
{
    char h[32];
    snprintf(h, sizeof h, "%016llx", (unsigned long long)hash);
    return json_string(h);
}

/* Decoding a data set the first time: a bar on a terminal, "decode"
   events for the workbench. */
static void on_decode(void *vctx, long done, long total)
{
    cli_progress *ctx = vctx;
    if (ctx->json) {
        json_t *o = json_object();
        json_object_set_new(o, "event", json_string("decode"));
        json_object_set_new(o, "done", json_integer(done));
        json_object_set_new(o, "total", json_integer(total));
        cli_json_line(o);
        json_decref(o);
    } else if (ctx->bar) {
        int width = 30, fill = total ? (int)((double)done / total * width + 0.5) : width;
        char bar[64];
        for (int i = 0; i < width; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[width] = 0;
        fprintf(stderr, "\r  decoding the data set once [%s] %ld/%ld images ", bar, done, total);
        if (done == total)
            fprintf(stderr, "\r\033[K");
        fflush(stderr);
    }
}

int cli_opt_resize(const char *cmd, const char *value, void *data_args)
{
    cli_data_args *a = data_args;
    gerr err = GERR_INIT;
    if (data_parse_size(value, &a->resize_h, &a->resize_w, &err) == 0)
        return 0;
    cli_error(cmd, "--resize: %s", err.msg);
    return -1;
}

void cli_data_opts(data_opts *o, const cli_data_args *a, cli_progress *ctx)
{
    data_opts zero = DATA_OPTS_INIT;
    *o = zero;
    o->resize_h = a->resize_h;
    o->resize_w = a->resize_w;
    o->on_progress = on_decode;
    o->ctx = ctx;
}

int cli_data_load(data_source *d, const cli_data_args *a, cli_progress *ctx, gerr *err)
{
    data_opts o;
    cli_data_opts(&o, a, ctx);
    return data_load(d, a->dir, &o, err);
}

int cli_compile_for_data(const char *src, size_t len, const char *path, const net_limits *lim,
                         const cli_data_args *a, const data_source *d, net_graph **g, gerr *err)
{
    net_error ne;
    if (net_compile_with_input(src, len, path, lim, a->input.given ? &a->input.shape : NULL, g,
                               &ne)) {
        char line[GERR_MSG_MAX];
        net_error_string(&ne, line, sizeof line);
        if (ne.hint[0])
            return gerr_set(err, "%s (hint: %s)", line, ne.hint);
        return gerr_set(err, "%s", line);
    }
    char what[4200];
    snprintf(what, sizeof what, "%s%s", a->input.given ? "--input for " : "", path);
    const net_shape *in = &(*g)->input;
    return data_check_input(d, a->dir, what, in->c, in->h, in->w, err);
}
