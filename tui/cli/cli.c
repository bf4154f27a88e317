/* The helpers every command shares: the one option-parser style
 * (getopt_long, gevo's own messages naming the bad option, usage lines
 * from the command table), output through engine/base/text.h, sessions
 * opened with the error said, sections. */
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

int cli_help(const char *cmd, const char *body)
{
    cli_usage_line(cmd, stdout);
    if (body)
        printf("\n%s", body);
    return CLI_OK;
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

void cli_getopt_start(void)
{
    optind = 0; /* 0, not 1: glibc then also resets its permutation state */
    opterr = 0;
}

int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts)
{
    char spec[64];
    /* ':' first: a missing value is told apart from an unknown option */
    snprintf(spec, sizeof spec, ":h%s", shortopts);
    return getopt_long(argc, argv, spec, longopts, NULL);
}

int cli_bad_option(const char *cmd, int argc, char **argv, int opt)
{
    const char *tok = optind >= 1 && optind <= argc ? argv[optind - 1] : "";
    int n = (int)strcspn(tok, "=");
    bool is_long = !strncmp(tok, "--", 2);
    if (opt == ':')
        return cli_usage_error(cmd, "option '%.*s' needs a value", n, tok);
    if (is_long && optopt && tok[n] == '=')
        return cli_usage_error(cmd, "option '%.*s' takes no value", n, tok);
    if (is_long || !optopt)
        return cli_usage_error(cmd, "unknown option '%.*s'", n, tok);
    return cli_usage_error(cmd, "unknown option '-%c'", optopt);
}

char **cli_operands(const char *cmd, int argc, char **argv, int n, const char *missing)
{
    if (argc - optind < n) {
        cli_usage_error(cmd, "%s", missing);
        return NULL;
    }
    if (argc - optind > n) {
        cli_usage_error(cmd, "too many arguments ('%s' is extra)", argv[optind + n]);
        return NULL;
    }
    return argv + optind;
}

int cli_long(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out)
{
    gerr err = GERR_INIT;
    if (num_long(s, lo, hi, out, opt, &err) == 0)
        return 0;
    cli_error(cmd, "%s", err.msg);
    return -1;
}

int cli_bytes(const char *cmd, const char *opt, const char *s, double *out)
{
    gerr err = GERR_INIT;
    double v;
    if (num_bytes(s, 0, 1e18, &v, opt, &err) == 0) {
        if (out)
            *out = v;
        return 0;
    }
    cli_error(cmd, "%s", err.msg);
    return -1;
}

int cli_int(const char *cmd, const char *opt, const char *s, int lo, int hi, int *out)
{
    long v;
    if (cli_long(cmd, opt, s, lo, hi, &v) != 0)
        return -1;
    *out = (int)v;
    return 0;
}

int cli_double(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out)
{
    gerr err = GERR_INIT;
    if (num_double(s, lo, hi, out, opt, &err) == 0)
        return 0;
    cli_error(cmd, "%s", err.msg);
    return -1;
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

int cli_review_policy(const char *cmd, const char *s, evolve_review_policy *policy,
                      long *max_params)
{
    if (!strcmp(s, "auto")) {
        *policy = EVOLVE_REVIEW_AUTO;
    } else if (!strcmp(s, "manual")) {
        *policy = EVOLVE_REVIEW_MANUAL;
    } else if (!strncmp(s, "limits:", 7)) {
        *policy = EVOLVE_REVIEW_AUTO_LIMITS;
        if (cli_long(cmd, "--review-policy limits:", s + 7, 1, 1000000000L, max_params))
            return -1;
    } else {
        cli_usage_error(cmd, "unknown review policy '%s' (auto, manual, limits:N)", s);
        return -1;
    }
    return 0;
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
