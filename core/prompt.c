/* prompt: see prompt.h. */
#include "core/prompt.h"
#include "core/errf.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEMPLATE_MAX (256 * 1024)
#define NAME_MAX_LEN 48

/* ---- scanning and rendering ------------------------------------------- */

/* Parses the placeholder starting at p ("{{"). On success sets the name
 * (trimmed) and returns the length of the whole "{{ name }}"; on a syntax
 * error returns 0 with err filled. */
static size_t parse_placeholder(const char *p, const char *file, int line, char *name, char *err,
                                size_t errsize)
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
        core_errf(err, errsize,
                  "%s:%d: '{{' starts a placeholder but '%.*s' is not {{name}} "
                  "(names are letters, digits and _)",
                  file, line, show, p);
        return 0;
    }
    if (n == 0 || n >= NAME_MAX_LEN || isdigit((unsigned char)*s)) {
        core_errf(err, errsize, "%s:%d: bad placeholder name '%.*s'", file, line, (int)n, s);
        return 0;
    }
    memcpy(name, s, n);
    name[n] = '\0';
    return (size_t)(q + 2 - p);
}

int prompt_scan(const char *tmpl, const char *file, int (*fn)(void *ud, const char *name, int line),
                void *ud, char *err, size_t errsize)
{
    int line = 1;
    for (const char *p = tmpl; *p; p++) {
        if (*p == '\n')
            line++;
        if (p[0] != '{' || p[1] != '{')
            continue;
        char name[NAME_MAX_LEN];
        size_t n = parse_placeholder(p, file, line, name, err, errsize);
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

static void known_list(const prompt_var *vars, int n, char *out, size_t size)
{
    size_t k = 0;
    out[0] = '\0';
    for (int i = 0; i < n && k + 1 < size; i++) {
        if (!vars[i].value)
            continue;
        int w = snprintf(out + k, size - k, "%s%s", k ? ", " : "", vars[i].name);
        if (w < 0)
            break;
        k += (size_t)w;
    }
    if (!out[0])
        snprintf(out, size, "none");
}

char *prompt_render(const char *tmpl, const char *file, const prompt_var *vars, int n, char *err,
                    size_t errsize)
{
    if (!tmpl) {
        core_errf(err, errsize, "%s: no template", file);
        return NULL;
    }
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f) {
        core_errf(err, errsize, "out of memory");
        return NULL;
    }
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
            size_t pl = parse_placeholder(a, file, line, name, err, errsize);
            if (!pl)
                goto fail;
            const prompt_var *v = lookup(vars, n, name);
            if (a + pl == b && v && v->value && !v->value[0]) {
                p += ll + (eol ? 1 : 0);
                line++;
                /* and a blank line after it, if one came before it */
                fflush(f);
                bool blank_before =
                    len == 0 || (len >= 2 && out[len - 1] == '\n' && out[len - 2] == '\n');
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
                size_t pl = parse_placeholder(q, file, line, name, err, errsize);
                if (!pl)
                    goto fail;
                const prompt_var *v = lookup(vars, n, name);
                if (!v || !v->value) {
                    char known[512];
                    known_list(vars, n, known, sizeof known);
                    core_errf(err, errsize, "%s:%d: placeholder {{%s}} has no value (given: %s)",
                              file, line, name, known);
                    goto fail;
                }
                size_t vl = strlen(v->value);
                if (q + pl == p + ll) /* the placeholder ends the line: so does the value */
                    while (vl && (v->value[vl - 1] == '\n' || v->value[vl - 1] == '\r'))
                        vl--;
                fwrite(v->value, 1, vl, f);
                q += pl - 1;
            } else {
                fputc(*q, f);
            }
        }
        if (eol)
            fputc('\n', f);
        p += ll + (eol ? 1 : 0);
        line++;
    }
    if (fclose(f)) {
        free(out);
        core_errf(err, errsize, "out of memory rendering %s", file);
        return NULL;
    }
    return out;
fail:
    fclose(f);
    free(out);
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
    char *err;
    size_t errsize;
} check_state;

static int check_one(void *ud, const char *name, int line)
{
    check_state *st = ud;
    for (size_t i = 0; i < N_RULES; i++)
        if (!strcmp(rules[i].name, name) && (rules[i].known & st->bit)) {
            st->seen |= 1u << i;
            return 0;
        }
    char known[512];
    size_t k = 0;
    known[0] = '\0';
    for (size_t i = 0; i < N_RULES; i++)
        if (rules[i].known & st->bit)
            k +=
                (size_t)snprintf(known + k, sizeof known - k, "%s%s", k ? ", " : "", rules[i].name);
    core_errf(st->err, st->errsize, "%s:%d: unknown placeholder {{%s}} (this template knows: %s)",
              st->file, line, name, known);
    return -1;
}

static int check_template(const char *text, const char *file, unsigned bit, char *err,
                          size_t errsize)
{
    check_state st = {bit, file, 0, err, errsize};
    if (prompt_scan(text, file, check_one, &st, err, errsize))
        return -1;
    for (size_t i = 0; i < N_RULES; i++)
        if ((rules[i].required & bit) && !(st.seen & (1u << i))) {
            core_errf(err, errsize, "%s: the template never uses {{%s}}, which it must", file,
                      rules[i].name);
            return -1;
        }
    return 0;
}

static char *read_text(const char *path, char *err, size_t errsize)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        core_errf(err, errsize, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char *p = malloc(TEMPLATE_MAX + 1);
    if (!p) {
        fclose(f);
        core_errf(err, errsize, "out of memory");
        return NULL;
    }
    size_t n = fread(p, 1, TEMPLATE_MAX + 1, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || n > TEMPLATE_MAX) {
        free(p);
        core_errf(err, errsize, "%s: %s", path,
                  bad ? "read error" : "larger than 256 KiB, not a prompt template");
        return NULL;
    }
    if (memchr(p, '\0', n)) {
        free(p);
        core_errf(err, errsize, "%s: contains a NUL byte, not a text template", path);
        return NULL;
    }
    p[n] = '\0';
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

int prompt_set_load(prompt_set *set, const char *dir, char *err, size_t errsize)
{
    memset(set, 0, sizeof *set);
    snprintf(set->dir, sizeof set->dir, "%s", dir);
    char path[1024];
    snprintf(path, sizeof path, "%s/system.txt", dir);
    if (!(set->system = read_text(path, err, errsize)))
        goto fail;
    if (check_template(set->system, path, B_SYS, err, errsize))
        goto fail;
    for (int k = 0; k < PROMPT_KIND_COUNT; k++) {
        snprintf(path, sizeof path, "%s/%s.txt", dir, kind_names[k]);
        if (!(set->tmpl[k] = read_text(path, err, errsize)))
            goto fail;
        if (check_template(set->tmpl[k], path, 1u << k, err, errsize))
            goto fail;
    }
    DIR *d = opendir(dir);
    if (!d) {
        core_errf(err, errsize, "%s: %s", dir, strerror(errno));
        goto fail;
    }
    struct dirent *e;
    int cap = 0;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n <= 12 || strncmp(e->d_name, "persona_", 8) || strcmp(e->d_name + n - 4, ".txt"))
            continue;
        if (n - 12 >= sizeof set->personas[0].name) {
            core_errf(err, errsize, "%s/%s: persona name longer than 31 characters", dir,
                      e->d_name);
            closedir(d);
            goto fail;
        }
        if (set->n_personas == cap) {
            cap = cap ? cap * 2 : 8;
            prompt_persona *p = realloc(set->personas, (size_t)cap * sizeof *p);
            if (!p) {
                core_errf(err, errsize, "out of memory");
                closedir(d);
                goto fail;
            }
            set->personas = p;
        }
        prompt_persona *p = &set->personas[set->n_personas];
        memset(p, 0, sizeof *p);
        snprintf(p->name, sizeof p->name, "%.*s", (int)(n - 12), e->d_name + 8);
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (!(p->text = read_text(path, err, errsize))) {
            closedir(d);
            goto fail;
        }
        p->weight = 1.0;
        set->n_personas++;
        /* personas are pasted into {{persona}}: they have none of their own */
        if (strstr(p->text, "{{")) {
            core_errf(err, errsize, "%s: a persona may not contain placeholders", path);
            closedir(d);
            goto fail;
        }
    }
    closedir(d);
    if (set->n_personas == 0) {
        core_errf(err, errsize, "%s: no persona_<name>.txt file; at least one persona is needed",
                  dir);
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

int prompt_set_weights(prompt_set *set, const char *spec, char *err, size_t errsize)
{
    double w[64];
    if (set->n_personas > 64) {
        core_errf(err, errsize, "too many personas (at most 64)");
        return -1;
    }
    for (int i = 0; i < set->n_personas; i++)
        w[i] = set->personas[i].weight;
    const char *p = spec;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        const char *eq = strchr(p, '=');
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        if (!eq || eq > end) {
            core_errf(err, errsize, "persona weights '%s': expected name=weight, got '%.*s'", spec,
                      (int)(end - p), p);
            return -1;
        }
        char name[64];
        size_t n = (size_t)(eq - p);
        while (n && p[n - 1] == ' ')
            n--;
        snprintf(name, sizeof name, "%.*s", (int)n, p);
        int i = prompt_find_persona(set, name);
        if (i < 0) {
            char known[512];
            size_t k = 0;
            known[0] = '\0';
            for (int j = 0; j < set->n_personas; j++)
                k += (size_t)snprintf(known + k, sizeof known - k, "%s%s", j ? ", " : "",
                                      set->personas[j].name);
            core_errf(err, errsize, "persona weights: no persona '%s' (there are: %s)", name,
                      known);
            return -1;
        }
        char num[64], *e;
        snprintf(num, sizeof num, "%.*s", (int)(end - eq - 1), eq + 1);
        errno = 0;
        double v = strtod(num, &e);
        while (*e == ' ')
            e++;
        if (e == num || *e || errno || !(v >= 0) || v > 1e6) {
            core_errf(err, errsize, "persona weights: '%s' for %s is not a number >= 0", num, name);
            return -1;
        }
        w[i] = v;
        p = end;
    }
    double sum = 0;
    for (int i = 0; i < set->n_personas; i++)
        sum += w[i];
    if (!(sum > 0)) {
        core_errf(err, errsize, "persona weights '%s': every weight is zero", spec);
        return -1;
    }
    for (int i = 0; i < set->n_personas; i++)
        set->personas[i].weight = w[i];
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
                 char **system, char **user, char *err, size_t errsize)
{
    *system = *user = NULL;
    if ((unsigned)kind >= PROMPT_KIND_COUNT) {
        core_errf(err, errsize, "prompt: unknown kind %d", (int)kind);
        return -1;
    }
    if (persona < 0 || persona >= set->n_personas) {
        core_errf(err, errsize, "prompt: no persona number %d (there are %d)", persona,
                  set->n_personas);
        return -1;
    }
    char file[600];
    snprintf(file, sizeof file, "%s/system.txt", set->dir);
    prompt_var sv[] = {{"persona", set->personas[persona].text}};
    *system = prompt_render(set->system, file, sv, 1, err, errsize);
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
    *user = prompt_render(set->tmpl[kind], file, v, (int)(sizeof v / sizeof *v), err, errsize);
    if (!*user) {
        free(*system);
        *system = NULL;
        return -1;
    }
    return 0;
}

/* Writes text as a list item; continuation lines are indented. */
static void put_item(FILE *f, const char *text)
{
    fputs("- ", f);
    for (const char *p = text; *p; p++) {
        if (*p == '\r')
            continue;
        fputc(*p, f);
        if (*p == '\n' && p[1])
            fputs("  ", f);
    }
    size_t n = strlen(text);
    if (!n || text[n - 1] != '\n')
        fputc('\n', f);
}

char *prompt_format_notes(const char *const *notes, int n_notes, const char *const *rejections,
                          int n_rejections)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return NULL;
    int any = 0;
    for (int i = 0; i < n_notes; i++) {
        if (!notes[i] || !notes[i][0])
            continue;
        if (!any++)
            fputs("The researcher's notes on this lineage (take them into account):\n", f);
        put_item(f, notes[i]);
    }
    int anyr = 0;
    for (int i = 0; i < n_rejections; i++) {
        if (!rejections[i] || !rejections[i][0])
            continue;
        if (!anyr++) {
            if (any)
                fputc('\n', f);
            fputs("Earlier proposals for this lineage were rejected by the researcher for "
                  "these reasons (do not repeat them):\n",
                  f);
        }
        put_item(f, rejections[i]);
    }
    if (fclose(f)) {
        free(out);
        return NULL;
    }
    return out;
}
