/* progress: what gevo train and gevo eval share, and the JSON output of
 * the commands (see progress.c). */
#ifndef GEVO_TUI_CLI_PROGRESS_H
#define GEVO_TUI_CLI_PROGRESS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/data.h"
#include "engine/net.h"
#include "tui/cli/cli.h"

typedef struct cli_progress {
    bool json; /* JSON lines on stdout */
    bool bar;  /* a bar on stderr (a terminal) */
} cli_progress;

/* How the front end prints JSON: indented, in the order built, and ASCII
 * (every other character as \uXXXX: a C1 control or a bidirectional
 * override in a name or a message cannot act on a terminal; a JSON
 * reader gets the same strings). */
#define CLI_JSON_FLAGS (JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII)

/* One compact JSON line on stdout (ASCII, as CLI_JSON_FLAGS), flushed. */
void cli_json_line(json_t *o);
/* o on stdout as CLI_JSON_FLAGS says, then a newline: 0, or -1 when o is
 * NULL or cannot be written out (out of memory). */
int cli_json_print(const json_t *o);
/* A number, or null when it is not finite. */
json_t *cli_json_num(double v);
/* A program's canonical hash (net_graph.hash) as its 16 hex digits. */
json_t *cli_json_hash(uint64_t hash);
/* The data options of gevo train and gevo eval. */
typedef struct cli_data_args {
    const char *dir;        /* --data */
    int resize_h, resize_w; /* --resize HxW, 0 when not given */
    cli_shape input;        /* --input CxHxW (cli_opt_input) */
} cli_data_args;

/* --resize HxW into a cli_data_args (a row of cli_parse's table); on a
 * bad value says why ("gevo CMD: --resize: ...") and returns -1. */
int cli_opt_resize(const char *cmd, const char *value, void *data_args);
/* The data_opts of a: its --resize, and ctx's way of showing the first
 * decoding (a bar on a terminal, "decode" events with --progress). */
void cli_data_opts(data_opts *o, const cli_data_args *a, cli_progress *ctx);
/* data_load with ctx's way of showing the first decoding. */
int cli_data_load(data_source *d, const cli_data_args *a, cli_progress *ctx, gerr *err);
/* Compiles the program as its input line declares (or at --input) and
 * checks that shape against the data's images: they must match. A
 * compile error comes with its line, caret and hint. */
int cli_compile_for_data(const char *src, size_t len, const char *path, const net_limits *lim,
                         const cli_data_args *a, const data_source *d, net_graph **g, gerr *err);

#endif
