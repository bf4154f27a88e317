/* What gevo train and gevo eval share: the JSON lines of --progress (read
 * by core/eval_local.c: their names are an interface), numbers as JSON,
 * and loading the data with a decoding bar or "decode" events. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "tui/cli/progress.h"

void cli_json_line(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        fflush(stdout);
    }
    free(s);
}

json_t *cli_json_num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
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

int cli_data_load(data_source *d, const char *dir, cli_progress *ctx, char *msg, size_t n)
{
    data_opts o = DATA_OPTS_INIT;
    o.on_progress = on_decode;
    o.ctx = ctx;
    gerr err = GERR_INIT;
    if (data_load(d, dir, &o, &err)) {
        snprintf(msg, n, "%s", err.msg);
        return -1;
    }
    return 0;
}
