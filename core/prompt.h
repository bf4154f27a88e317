/* prompt: the prompt templates (the .txt files of prompts/) and their rendering.
 *
 * A template is text with named placeholders, {{name}}. Rendering replaces
 * each with its value; a placeholder without a value, an unterminated
 * "{{" or a bad name is an error, never silent text. A line that holds only
 * a placeholder whose value is empty disappears (so an empty {{notes}}
 * leaves no gap), and a value that ends its line loses its trailing line
 * breaks (a program ending in "\n" does not add a blank line). CRLF in a
 * template is kept.
 *
 * A prompt set is one folder: system.txt, mutate.txt, crossover.txt,
 * eot.txt, repair.txt and persona_<name>.txt (one per persona). Loading
 * checks every template: a placeholder the kind does not know (a typo) or
 * a required one that is missing is an error naming the file, so a
 * researcher's edit to a template fails at load, not mid-run.
 *
 * Errors: a function that can fail takes a gerr *err (last) and returns -1
 * (or NULL) with what and where in it (engine/base/error.h).
 * Ownership: a prompt_set owns its texts (prompt_set_release). Rendered
 * strings are malloc'd and owned by the caller. */
#ifndef GEVO_CORE_PROMPT_H
#define GEVO_CORE_PROMPT_H

#include <stddef.h>

#include "engine/base/error.h"

typedef struct prompt_var {
    const char *name;
    const char *value; /* NULL = no value (an error if the template uses it) */
} prompt_var;

/* Renders tmpl (file names the template in errors). Returns a malloc'd
 * string, or NULL with err filled ("mutate.txt:12: placeholder {{gen}} has
 * no value (known here: ...)"). */
char *prompt_render(const char *tmpl, const char *file, const prompt_var *vars, int n, gerr *err);

/* Calls fn for each placeholder of tmpl in order (with line numbers).
 * Returns 0, or -1 with err on a syntax error. */
int prompt_scan(const char *tmpl, const char *file, int (*fn)(void *ud, const char *name, int line),
                void *ud, gerr *err);

typedef enum prompt_kind {
    PROMPT_MUTATE,
    PROMPT_CROSSOVER,
    PROMPT_EOT,
    PROMPT_REPAIR,
    PROMPT_KIND_COUNT
} prompt_kind;

const char *prompt_kind_name(prompt_kind k); /* "mutate", ... (the file stem) */

typedef struct prompt_persona {
    char name[32]; /* from persona_<name>.txt */
    char *text;
    double weight; /* 1 unless prompt_set_weight says otherwise */
} prompt_persona;

typedef struct prompt_set {
    char dir[512];
    char *system;
    char *tmpl[PROMPT_KIND_COUNT];
    prompt_persona *personas; /* sorted by name */
    int n_personas;
} prompt_set;

/* Loads and checks every template of dir. Returns 0, or -1 with err
 * (missing file, unreadable, unknown or missing placeholder, no persona). */
int prompt_set_load(prompt_set *set, const char *dir, gerr *err);
void prompt_set_release(prompt_set *set);

/* Sets the weight of the persona named name (0 = never drawn). An unknown
 * name (the message lists the personas) or a weight outside 0..1e6 is an
 * error, and then nothing changes. Every persona starts at 1; gevo.json's
 * "personas" object is applied by core/arms.h. */
int prompt_set_weight(prompt_set *set, const char *name, double weight, gerr *err);

/* Index of a persona drawn by weight, u uniform in [0, 1) from the
 * caller's seeded generator; -1 if every weight is zero. */
int prompt_pick_persona(const prompt_set *set, double u);
/* Index of the persona named name, -1 if none. */
int prompt_find_persona(const prompt_set *set, const char *name);

/* What a prompt is about. Strings are borrowed. NULL means "not given",
 * except: notes NULL = none, objectives NULL = "not measured yet",
 * failed_program NULL = "(none: the answer could not be applied)". */
typedef struct prompt_args {
    const char *program;    /* the (first) parent's whole source */
    const char *gene_name;  /* the block to rewrite */
    const char *gene;       /* its text in the parent */
    const char *objectives; /* the parent's measured results, one line */
    /* crossover: the second parent */
    const char *other_gene;
    const char *other_objectives;
    /* EoT: an elite's change of one block, next to the seed's version */
    const char *elite_gene_name;
    const char *elite_gene;
    const char *seed_gene;
    const char *elite_objectives;
    const char *seed_objectives;
    /* repair */
    const char *failed_answer;  /* the model's previous answer, verbatim */
    const char *failed_program; /* the program it produced, if it applied */
    const char *error;          /* the exact error (proposal_check's text) */
    /* the researcher's notes and rejection reasons: prompt_format_notes() */
    const char *notes;
} prompt_args;

/* Renders the system message (with persona number `persona`) and the user
 * message for kind. Returns 0 with both set (caller frees), or -1 with err. */
int prompt_build(const prompt_set *set, prompt_kind kind, int persona, const prompt_args *args,
                 char **system, char **user, gerr *err);

/* The researcher's notes on a lineage and the reasons given for rejected
 * proposals, as one block of text for {{notes}}; "" when there are none.
 * Returns a malloc'd string (NULL only when out of memory). */
char *prompt_format_notes(const char *const *notes, int n_notes, const char *const *rejections,
                          int n_rejections);

#endif
