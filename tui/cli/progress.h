/* progress: what gevo train and gevo eval share (see progress.c). */
#ifndef GEVO_TUI_CLI_PROGRESS_H
#define GEVO_TUI_CLI_PROGRESS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "engine/data.h"

typedef struct cli_progress {
    bool json; /* JSON lines on stdout */
    bool bar;  /* a bar on stderr (a terminal) */
} cli_progress;

/* One compact JSON line on stdout, flushed. */
void cli_json_line(json_t *o);
/* A number, or null when it is not finite. */
json_t *cli_json_num(double v);
/* data_load with ctx's way of showing the first decoding; on failure the
 * message goes to msg. */
int cli_data_load(data_source *d, const char *dir, cli_progress *ctx, char *msg, size_t n);

#endif
