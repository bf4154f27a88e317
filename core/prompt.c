/* prompt: see prompt.h. */
#include "core/prompt.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/file.h"
#include "engine/base/grow.h"
#include "engine/base/strbuf.h"

#define TEMPLATE_MAX (256 * 1024)
#define NAME_MAX_LEN 48

/* ---- scanning and rendering ------------------------------------------- */

/* Parses the placeholder starting at p ("{{"). On success sets the name
 * (trimmed) and returns the length of the whole "{{ name }}"; on a syntax
 * error returns 0 with err filled. */
static size_t parse_placeholder(const char *p, const char *file, int line, char *name, gerr *err)
{
    const char *q = p + 2;
    while (*q == ' ' || *q == '\t')
        q++;
    const char *s = q;
    while (isalnum((unsigned char)*q) || *q == '_')
        q++;
    size_t n = (size_t)(q - s);
    while (*q == ' ' || *q == '\t')
        q++;
    if (q[0] != '}' || q[1] != '}') {
        const char *nl = strchr(p, '\n');
        int show = nl ? (int)(nl - p) : (int)strlen(p);
        if (show > 40)
            show = 40;
        gerr_set(err,
                 "%s:%d: '{{' starts a placeholder but '%.*s' is not {{name}} "
                 "(names are letters, digits and _)",
                 file, line, show, p);
        return 0;
    }
    if (n == 0 || n >= NAME_MAX_LEN || isdigit((unsigned char)*s)) {
        gerr_set(err, "%s:%d: bad placeholder name '%.*s'", file, line, (int)n, s);
        return 0;
    }
    memcpy(name, s, n);
    name[n] = '\0';
    return (size_t)(q + 2 - p);
}

int prompt_scan(const char *tmpl, const char *file, int (*fn)(void *ud, const char *name, int line),
                void *ud, gerr *err)
{
    int line = 1;
    for (const char *p = tmpl; *p; p++) {
        if (*p == '\n')
            line++;
        if (p[0] != '{' || p[1] != '{')
            continue;
        char name[NAME_MAX_LEN];
        size_t n = parse_placeholder(p, file, line, name, err);
        if (!n)
            return -1;
        if (fn && fn(ud, name, line))
            return -1;
        p += n - 1;
    }
    return 0;
}

static const prompt_var *lookup(const prompt_var *vars, int n, const char *name)
{
    for (int i = n - 1; i >= 0; i--) /* the last one given wins */
        if (vars[i].name && !strcmp(vars[i].name, name))
            return &vars[i];
    return NULL;
}

/* Appends name to a ", "-separated list. */
static void list_add(strbuf *sb, const char *name)
{
    strbuf_addf(sb, "%s%s", sb->len ? ", " : "", name);
}

static void known_list(const prompt_var *vars, int n, strbuf *out)
{
    for (int i = 0; i < n; i++)
        if (vars[i].value)
            list_add(out, vars[i].name);
    if (!out->len)
        strbuf_addstr(out, "none");
}

char *prompt_render(const char *tmpl, const char *file, const prompt_var *vars, int n, gerr *err)
{
    if (!tmpl) {
        gerr_set(err, "%s: no template", file);
        return NULL;
    }
    strbuf out = STRBUF_INIT;
    int line = 1;
    const char *p = tmpl;
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t ll = eol ? (size_t)(eol - p) : strlen(p);
        /* a line that is only a placeholder with an empty value vanishes */
        const char *a = p, *b = p + ll;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\r'))
            b--;
        if (b - a > 4 && a[0] == '{' && a[1] == '{') {
            char name[NAME_MAX_LEN];
            size_t pl = parse_placeholder(a, file, line, name, err);
            if (!pl)
                goto fail;
            const prompt_var *v = lookup(vars, n, name);
            if (a + pl == b && v && v->value && !v->value[0]) {
                p += ll + (eol ? 1 : 0);
                line++;
                /* and a blank line after it, if one came before it */
                size_t len = out.len;
                bool blank_before =
                    len == 0 || (len >= 2 && out.buf[len - 1] == '\n' && out.buf[len - 2] == '\n');
                if (blank_before && (*p == '\n' || (p[0] == '\r' && p[1] == '\n'))) {
                    p += *p == '\n' ? 1 : 2;
                    line++;
                }
                continue;
            }
        }
        for (const char *q = p; q < p + ll; q++) {
            if (q[0] == '{' && q[1] == '{') {
                char name[NAME_MAX_LEN];
                size_t pl = parse_placeholder(q, file, line, name, err);
                if (!pl)
                    goto fail;
                const prompt_var *v = lookup(vars, n, name);
                if (!v || !v->value) {
                    strbuf known = STRBUF_INIT;
                    known_list(vars, n, &known);
                    gerr_set(err, "%s:%d: placeholder {{%s}} has no value (given: %s)", file, line,
                             name, known.buf);
                    strbuf_release(&known);
                    goto fail;
                }
                size_t vl = strlen(v->value);
                if (q + pl == p + ll) /* the placeholder ends the line: so does the value */
                    while (vl && (v->value[vl - 1] == '\n' || v->value[vl - 1] == '\r'))
                        vl--;
                strbuf_add(&out, v->value, vl);
                q += pl - 1;
            } else {
                strbuf_addch(&out, *q);
            }
        }
        if (eol)
            strbuf_addch(&out, '\n');
        p += ll + (eol ? 1 : 0);
        line++;
    }
    if (out.failed) {
        gerr_set(err, "out of memory rendering %s", file);
        goto fail;
    }
    return strbuf_detach(&out, NULL);
fail:
    strbuf_release(&out);
    return NULL;
}

/* ---- the prompt set --------------------------------------------------- */

static const char *const kind_names[PROMPT_KIND_COUNT] = {"mutate", "crossover", "eot", "repair"};

const char *prompt_kind_name(prompt_kind k)
{
    return (unsigned)k < PROMPT_KIND_COUNT ? kind_names[k] : "?";
}

/* Which template may use (K) or must use (R) each placeholder; bit i is
 * kind i, bit 4 the system template. */
#define B_MUT (1u << PROMPT_MUTATE)
#define B_CRO (1u << PROMPT_CROSSOVER)
#define B_EOT (1u << PROMPT_EOT)
#define B_REP (1u << PROMPT_REPAIR)
#define B_SYS (1u << 4)
static const struct placeholder_rule {
    const char *name;
    unsigned known, required;
} rules[] = {
    {"persona", B_SYS, B_SYS},
    {"program", B_MUT | B_CRO | B_EOT | B_REP, B_MUT | B_CRO | B_EOT},
    {"gene_name", B_MUT | B_CRO | B_EOT | B_REP, B_MUT | B_CRO | B_EOT | B_REP},
    {"gene", B_MUT | B_CRO | B_EOT | B_REP, B_MUT | B_CRO | B_EOT},
    {"objectives", B_MUT | B_CRO | B_EOT, 0},
    {"other_gene", B_CRO, B_CRO},
    {"other_objectives", B_CRO, 0},
    {"elite_gene_name", B_EOT, 0},
    {"elite_gene", B_EOT, B_EOT},
    {"seed_gene", B_EOT, B_EOT},
    {"elite_objectives", B_EOT, B_EOT},
    {"seed_objectives", B_EOT, B_EOT},
    {"failed_answer", B_REP, B_REP},
    {"failed_program", B_REP, 0},
    {"error", B_REP, B_REP},
    {"notes", B_MUT | B_CRO | B_EOT | B_REP, B_MUT | B_CRO | B_EOT | B_REP},
};
#define N_RULES (sizeof rules / sizeof *rules)

typedef struct check_state {
    unsigned bit;
    const char *file;
    unsigned seen; /* bit per rule */
    gerr *err;
} check_state;

static int check_one(void *ud, const char *name, int line)
{
    check_state *st = ud;
    for (size_t i = 0; i < N_RULES; i++)
        if (!strcmp(rules[i].name, name) && (rules[i].known & st->bit)) {
            st->seen |= 1u << i;
            return 0;
        }
    strbuf known = STRBUF_INIT;
    for (size_t i = 0; i < N_RULES; i++)
        if (rules[i].known & st->bit)
            list_add(&known, rules[i].name);
    gerr_set(st->err, "%s:%d: unknown placeholder {{%s}} (this template knows: %s)", st->file, line,
             name, known.buf);
    strbuf_release(&known);
    return -1;
}

static int check_template(const char *text, const char *file, unsigned bit, gerr *err)
{
    check_state st = {bit, file, 0, err};
    if (prompt_scan(text, file, check_one, &st, err))
        return -1;
    for (size_t i = 0; i < N_RULES; i++)
        if ((rules[i].required & bit) && !(st.seen & (1u << i))) {
            gerr_set(err, "%s: the template never uses {{%s}}, which it must", file, rules[i].name);
            return -1;
        }
    return 0;
}

static char *read_text(const char *path, gerr *err)
{
    char *p = NULL;
    size_t n = 0;
    if (file_read(path, TEMPLATE_MAX, &p, &n, err) != 0) {
        gerr_prefix(err, "prompt template");
        return NULL;
    }
    if (memchr(p, '\0', n)) {
        free(p);
        gerr_set(err, "%s: contains a NUL byte, not a text template", path);
        return NULL;
    }
    return p;
}

void prompt_set_release(prompt_set *set)
{
    free(set->system);
    for (int k = 0; k < PROMPT_KIND_COUNT; k++)
        free(set->tmpl[k]);
    for (int i = 0; i < set->n_personas; i++)
        free(set->personas[i].text);
    free(set->personas);
    memset(set, 0, sizeof *set);
}

static int cmp_persona(const void *a, const void *b)
{
    return strcmp(((const prompt_persona *)a)->name, ((const prompt_persona *)b)->name);
}

int prompt_set_load(prompt_set *set, const char *dir, gerr *err)
{
    memset(set, 0, sizeof *set);
    snprintf(set->dir, sizeof set->dir, "%s", dir);
    char path[1024];
    snprintf(path, sizeof path, "%s/system.txt", dir);
    if (!(set->system = read_text(path, err)))
        goto fail;
    if (check_template(set->system, path, B_SYS, err))
        goto fail;
    for (int k = 0; k < PROMPT_KIND_COUNT; k++) {
        snprintf(path, sizeof path, "%s/%s.txt", dir, kind_names[k]);
        if (!(set->tmpl[k] = read_text(path, err)))
            goto fail;
        if (check_template(set->tmpl[k], path, 1u << k, err))
            goto fail;
    }
    DIR *d = opendir(dir);
    if (!d) {
        gerr_set(err, "%s: %s", dir, strerror(errno));
        goto fail;
    }
    struct dirent *e;
    size_t alloc = 0;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n <= 12 || strncmp(e->d_name, "persona_", 8) || strcmp(e->d_name + n - 4, ".txt"))
            continue;
        if (n - 12 >= sizeof set->personas[0].name) {
            gerr_set(err, "%s/%s: persona name longer than 31 characters", dir, e->d_name);
            closedir(d);
            goto fail;
        }
        if (ALLOC_GROW(set->personas, set->n_personas + 1, alloc) != 0) {
            gerr_set(err, "%s: out of memory", dir);
            closedir(d);
            goto fail;
        }
        prompt_persona *p = &set->personas[set->n_personas];
        memset(p, 0, sizeof *p);
        snprintf(p->name, sizeof p->name, "%.*s", (int)(n - 12), e->d_name + 8);
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (!(p->text = read_text(path, err))) {
            closedir(d);
            goto fail;
        }
        p->weight = 1.0;
        set->n_personas++;
        /* personas are pasted into {{persona}}: they have none of their own */
        if (strstr(p->text, "{{")) {
            gerr_set(err, "%s: a persona may not contain placeholders", path);
            closedir(d);
            goto fail;
        }
    }
    closedir(d);
    if (set->n_personas == 0) {
        gerr_set(err, "%s: no persona_<name>.txt file; at least one persona is needed", dir);
        goto fail;
    }
    qsort(set->personas, (size_t)set->n_personas, sizeof *set->personas, cmp_persona);
    return 0;
fail:
    prompt_set_release(set);
    return -1;
}

int prompt_find_persona(const prompt_set *set, const char *name)
{
    for (int i = 0; i < set->n_personas; i++)
        if (!strcmp(set->personas[i].name, name))
            return i;
    return -1;
}

int prompt_set_weight(prompt_set *set, const char *name, double weight, gerr *err)
{
    int i = prompt_find_persona(set, name);
    if (i < 0) {
        strbuf known = STRBUF_INIT;
        for (int j = 0; j < set->n_personas; j++)
            list_add(&known, set->personas[j].name);
        gerr_set(err, "no persona '%s' in %s (there are: %s)", name, set->dir, known.buf);
        strbuf_release(&known);
        return -1;
    }
    if (!(weight >= 0) || weight > 1e6)
        return gerr_set(err, "persona %s: weight %g is not a number from 0 to 1e6", name, weight);
    set->personas[i].weight = weight;
    return 0;
}

int prompt_pick_persona(const prompt_set *set, double u)
{
    double sum = 0;
    for (int i = 0; i < set->n_personas; i++)
        sum += set->personas[i].weight;
    if (!(sum > 0))
        return -1;
    double x = u * sum, acc = 0;
    int last = -1;
    for (int i = 0; i < set->n_personas; i++) {
        if (set->personas[i].weight <= 0)
            continue;
        acc += set->personas[i].weight;
        last = i;
        if (x < acc)
            return i;
    }
    return last; /* u close to 1 and rounding */
}

int prompt_build(const prompt_set *set, prompt_kind kind, int persona, const prompt_args *a,
                 char **system, char **user, gerr *err)
{
    *system = *user = NULL;
    if ((unsigned)kind >= PROMPT_KIND_COUNT) {
        gerr_set(err, "prompt: unknown kind %d", (int)kind);
        return -1;
    }
    if (persona < 0 || persona >= set->n_personas) {
        gerr_set(err, "prompt: no persona number %d (there are %d)", persona, set->n_personas);
        return -1;
    }
    char file[600];
    snprintf(file, sizeof file, "%s/system.txt", set->dir);
    prompt_var sv[] = {{"persona", set->personas[persona].text}};
    *system = prompt_render(set->system, file, sv, 1, err);
    if (!*system)
        return -1;
    prompt_var v[] = {
        {"program", a->program},
        {"gene_name", a->gene_name},
        {"gene", a->gene},
        {"objectives", a->objectives ? a->objectives : "not measured yet"},
        {"other_gene", a->other_gene},
        {"other_objectives", a->other_objectives ? a->other_objectives : "not measured yet"},
        {"elite_gene_name", a->elite_gene_name ? a->elite_gene_name : a->gene_name},
        {"elite_gene", a->elite_gene},
        {"seed_gene", a->seed_gene},
        {"elite_objectives", a->elite_objectives},
        {"seed_objectives", a->seed_objectives},
        {"failed_answer", a->failed_answer},
        {"failed_program",
         a->failed_program ? a->failed_program : "(none: the answer could not be applied)"},
        {"error", a->error},
        {"notes", a->notes ? a->notes : ""},
    };
    snprintf(file, sizeof file, "%s/%s.txt", set->dir, kind_names[kind]);
    *user = prompt_render(set->tmpl[kind], file, v, (int)(sizeof v / sizeof *v), err);
    if (!*user) {
        free(*system);
        *system = NULL;
        return -1;
    }
    return 0;
}

/* Appends text as a list item; continuation lines are indented. */
static void put_item(strbuf *sb, const char *text)
{
    strbuf_addstr(sb, "- ");
    for (const char *p = text; *p; p++) {
        if (*p == '\r')
            continue;
        strbuf_addch(sb, *p);
        if (*p == '\n' && p[1])
            strbuf_addstr(sb, "  ");
    }
    size_t n = strlen(text);
    if (!n || text[n - 1] != '\n')
        strbuf_addch(sb, '\n');
}

char *prompt_format_notes(const char *const *notes, int n_notes, const char *const *rejections,
                          int n_rejections)
{
    strbuf sb = STRBUF_INIT;
    int any = 0;
    for (int i = 0; i < n_notes; i++) {
        if (!notes[i] || !notes[i][0])
            continue;
        if (!any++)
            strbuf_addstr(&sb,
                          "The researcher's notes on this lineage (take them into account):\n");
        put_item(&sb, notes[i]);
    }
    int anyr = 0;
    for (int i = 0; i < n_rejections; i++) {
        if (!rejections[i] || !rejections[i][0])
            continue;
        if (!anyr++) {
            if (any)
                strbuf_addch(&sb, '\n');
            strbuf_addstr(&sb, "Earlier proposals for this lineage were rejected by the researcher "
                               "for these reasons (do not repeat them):\n");
        }
        put_item(&sb, rejections[i]);
    }
    if (sb.failed) {
        strbuf_release(&sb);
        return NULL;
    }
    return strbuf_detach(&sb, NULL);
}
