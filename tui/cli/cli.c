/* The helpers every command shares: usage lines from the command table,
 * the kinds of option value several commands take (tui/cli/opts.h parses
 * them), output through engine/base/text.h, sessions opened with the
 * error said, sections. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/num.h"
#include "engine/base/strbuf.h"
#include "engine/base/text.h"
#include "sessions/session.h"
#include "tui/cli/cli.h"

void cli_usage_line(const char *cmd, FILE *out)
{
    const cli_command *c = cli_find(cmd);
    fprintf(out, "usage: gevo %s\n", c ? c->synopsis : cmd);
}

static void usage_tail(const char *cmd)
{
    cli_usage_line(cmd, stderr);
    fprintf(stderr, "'gevo %s --help' describes the options\n", cmd);
}

/* The formatted text, its control characters shown visibly (a newline
 * in a field too), then a newline. */
static void put_line(FILE *out, const char *prefix, const char *fmt, va_list ap)
{
    strbuf raw = STRBUF_INIT, safe = STRBUF_INIT;
    strbuf_addstr(&raw, prefix);
    strbuf_vaddf(&raw, fmt, ap);
    text_sanitize(&safe, raw.buf, raw.len, 0);
    strbuf_addch(&safe, '\n');
    fputs(safe.failed ? "(out of memory)\n" : safe.buf, out);
    strbuf_release(&raw);
    strbuf_release(&safe);
}

void cli_line(FILE *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    put_line(out, "", fmt, ap);
    va_end(ap);
}

static void error_line(const char *cmd, const char *fmt, va_list ap)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "gevo %s: ", cmd);
    put_line(stderr, prefix, fmt, ap);
}

void cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    error_line(cmd, fmt, ap);
    va_end(ap);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    error_line(cmd, fmt, ap);
    va_end(ap);
    usage_tail(cmd);
    return CLI_USAGE;
}

void cli_net_error(const net_error *e, FILE *out)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (!mem)
        return;
    net_error_print(e, mem);
    if (fclose(mem) == 0)
        text_fputs(buf, TEXT_MULTILINE, out);
    free(buf);
}

int cli_parse_shape(const char *s, net_shape *out)
{
    int c, h, w;
    char extra;
    if (sscanf(s, "%dx%dx%d%c", &c, &h, &w, &extra) != 3 || c < 1 || h < 1 || w < 1)
        return -1;
    *out = (net_shape){c, h, w};
    return 0;
}

int cli_opt_input(const char *cmd, const char *value, void *shape)
{
    cli_shape *s = shape;
    if (cli_parse_shape(value, &s->shape) == 0) {
        s->given = true;
        return 0;
    }
    cli_error(cmd, "--input needs CxHxW, e.g. 1x28x28, not '%s'", value);
    return -1;
}

int cli_opt_preset(const char *cmd, const char *value, void *name)
{
    evolve_config cfg;
    if (evolve_config_preset(&cfg, value)) {
        cli_usage_error(cmd, "unknown preset '%s' (quick, paper or default)", value);
        return -1;
    }
    *(const char **)name = value;
    return 0;
}

int cli_opt_review(const char *cmd, const char *value, void *review)
{
    cli_review *r = review;
    gerr err = GERR_INIT;
    if (!strcmp(value, "auto")) {
        r->policy = EVOLVE_REVIEW_AUTO;
    } else if (!strcmp(value, "manual")) {
        r->policy = EVOLVE_REVIEW_MANUAL;
    } else if (!strncmp(value, "limits:", 7)) {
        r->policy = EVOLVE_REVIEW_AUTO_LIMITS;
        if (num_long(value + 7, 1, 1000000000L, &r->max_params, "--review-policy limits", &err)) {
            cli_error(cmd, "%s", err.msg);
            return -1;
        }
    } else {
        cli_usage_error(cmd, "unknown review policy '%s' (auto, manual, limits:N)", value);
        return -1;
    }
    r->given = true;
    return 0;
}

int cli_opt_slurm(const char *cmd, const char *value, void *slurm)
{
    cli_slurm *s = slurm;
    if (!strchr(value, '=') || strchr(value, '\n') || s->len + strlen(value) + 2 > sizeof s->text) {
        cli_usage_error(cmd, "--slurm needs KEY=VALUE (one line), not '%s'", value);
        return -1;
    }
    s->len += (size_t)snprintf(s->text + s->len, sizeof s->text - s->len, "%s\n", value);
    return 0;
}

static volatile sig_atomic_t stop_flag;

static void on_stop(int sig)
{
    (void)sig;
    stop_flag = 1;
}

volatile sig_atomic_t *cli_catch_stop(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    return &stop_flag;
}

session *cli_session_open(const char *cmd, const char *dir, session_mode mode)
{
    session *s = NULL;
    gerr err = GERR_INIT;
    if (session_open(&s, dir, mode, &err) != 0) {
        cli_error(cmd, "%s", err.msg);
        return NULL;
    }
    return s;
}

void cli_section(const char *title, const char *body)
{
    putchar('\n');
    cli_line(stdout, "== %s ==", title);
    if (!body || !body[0]) {
        printf("(none)\n");
        return;
    }
    size_t n = strlen(body);
    text_fputs(body, TEXT_MULTILINE, stdout);
    if (body[n - 1] != '\n')
        putchar('\n');
}
