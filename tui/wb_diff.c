/* wb_diff: the diff pane's data. The unified diff the session gives
 * (libgit2) is parsed into lines with their numbers in the old and the new
 * genome and their hunk; each block of removed lines and the added lines
 * after it gets its word-level highlights (wb_words.c); the annotations
 * of the review note are anchored to their lines; the side-by-side rows
 * pair removed with added lines. All of it when the selection changes,
 * so drawing reads none of the session. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/grow.h"
#include "tui/wb.h"

static void clear_diff(wb *w)
{
    for (size_t i = 0; i < w->n_diff; i++) {
        free(w->diff[i].text);
        free(w->diff[i].words);
    }
    w->n_diff = 0;
    for (size_t i = 0; i < w->n_notes; i++)
        free(w->notes[i].text);
    w->n_notes = 0;
    w->n_srows = 0;
    w->diff_sides = false;
}

void wb_diff_release(wb *w)
{
    clear_diff(w);
    free(w->diff);
    free(w->notes);
    free(w->srows);
}

static wb_dline *add_line(wb *w, const char *text, size_t len, int type, int kind)
{
    char *t = strndup(text, len);
    if (!t || ALLOC_GROW(w->diff, w->n_diff + 1, w->alloc_diff) != 0) {
        free(t);
        return NULL;
    }
    wb_dline *l = &w->diff[w->n_diff++];
    *l = (wb_dline){.text = t, .type = type, .kind = kind, .hunk = -1};
    return l;
}

static void add_text(wb *w, const char *text, int kind)
{
    add_line(w, text, strlen(text), WB_D_TEXT, kind);
}

/* ---- the annotations ---------------------------------------------------- */

/* The review note's annotations: {"line": N} about line N of the genome,
 * {"old_line": N} about a line the parent had (a removed line), neither:
 * the whole genome. */
static int load_notes(wb *w, const char *id, gerr *err)
{
    char *note = NULL;
    if (session_get_review(w->s, id, &note, err) != 0)
        return gerr_prefix(err, "%s: review note", id);
    if (!note)
        return 0;
    json_error_t je;
    json_t *j = json_loads(note, 0, &je);
    free(note);
    if (!j)
        return gerr_set(err, "%s: review note: %s", id, je.text);
    json_t *arr = json_object_get(j, "annotations");
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *a = json_array_get(arr, i);
        const char *t = json_string_value(json_object_get(a, "text"));
        json_int_t line = json_integer_value(json_object_get(a, "line"));
        json_int_t old = json_integer_value(json_object_get(a, "old_line"));
        char *text = strdup(t ? t : "");
        if (!text || ALLOC_GROW(w->notes, w->n_notes + 1, w->alloc_notes) != 0) {
            free(text);
            json_decref(j);
            return gerr_set(err, "%s: out of memory reading the annotations", id);
        }
        bool is_old = line <= 0 && old > 0;
        long n = is_old ? (long)old : line > 0 && line < 1000000000 ? (long)line : 0;
        w->notes[w->n_notes++] = (wb_note){is_old, (int)(n < 1000000000 ? n : 0), text, -1};
    }
    json_decref(j);
    return 0;
}

/* Each note under the first line it names; old lines only where the old
 * side is the parent's genome (the first diff against the parent). */
static void anchor_notes(wb *w)
{
    for (size_t k = 0; k < w->n_notes; k++) {
        wb_note *n = &w->notes[k];
        n->at = -1;
        for (size_t i = 0; i < w->n_diff && n->line > 0 && n->at < 0; i++) {
            const wb_dline *l = &w->diff[i];
            if (n->old ? w->diff_mode == 0 && l->part == 0 && l->old_line == n->line &&
                             (l->type == WB_D_DEL || l->type == WB_D_CTX)
                       : l->new_line == n->line && (l->type == WB_D_ADD || l->type == WB_D_CTX))
                n->at = (int)i;
        }
    }
}

/* ---- the unified diff --------------------------------------------------- */

/* The words that changed in the block of removed lines [d0, a0) and the
 * added lines [a0, end) after it. */
static void word_block(wb *w, size_t d0, size_t a0, size_t end)
{
    size_t nd = a0 - d0, na = end - a0;
    if (!nd || !na)
        return;
    char **del = calloc(nd, sizeof *del), **add = calloc(na, sizeof *add);
    unsigned char **dm = NULL, **am = NULL;
    if (del && add) {
        for (size_t i = 0; i < nd; i++)
            del[i] = w->diff[d0 + i].text;
        for (size_t i = 0; i < na; i++)
            add[i] = w->diff[a0 + i].text;
        if (wb_words_diff(del, nd, add, na, &dm, &am, NULL) == 0) {
            for (size_t i = 0; i < nd; i++)
                w->diff[d0 + i].words = dm[i];
            for (size_t i = 0; i < na; i++)
                w->diff[a0 + i].words = am[i];
            free(dm);
            free(am);
        }
    }
    free(del);
    free(add);
}

/* The change block at line i: removed lines [i, *a0), then added lines
 * [*a0, returned). */
static size_t block_end(const wb *w, size_t i, size_t *a0)
{
    while (i < w->n_diff && w->diff[i].type == WB_D_DEL)
        i++;
    *a0 = i;
    while (i < w->n_diff && w->diff[i].type == WB_D_ADD)
        i++;
    return i;
}

static void word_blocks(wb *w, size_t from)
{
    for (size_t i = from; i < w->n_diff;) {
        if (w->diff[i].type != WB_D_DEL) {
            i++;
            continue;
        }
        size_t d0 = i, a0;
        i = block_end(w, i, &a0);
        word_block(w, d0, a0, i);
    }
}

/* A hunk header's start lines: "@@ -7,7 +7,8 @@". */
static void hunk_starts(const char *p, size_t len, int *old, int *new_)
{
    const char *m = memchr(p, '-', len), *pl = memchr(p, '+', len);
    *old = m ? atoi(m + 1) : 0;
    *new_ = pl ? atoi(pl + 1) : 0;
}

static void add_patch(wb *w, const char *patch, int part)
{
    size_t from = w->n_diff;
    int old = 0, cur = 0, hunk = -1;
    for (const char *p = patch; p && *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        const char *next = e ? e + 1 : NULL;
        wb_dline *l = NULL;
        if (!strncmp(p, "diff ", 5) || !strncmp(p, "index ", 6)) {
            p = next; /* git's plumbing lines say nothing here */
            continue;
        }
        if (!strncmp(p, "--- ", 4) || !strncmp(p, "+++ ", 4) || !strncmp(p, "new file", 8) ||
            !strncmp(p, "deleted", 7)) {
            l = add_line(w, p, len, WB_D_HEAD, WB_C_DIFF_HEAD);
        } else if (!strncmp(p, "@@", 2)) {
            hunk_starts(p, len, &old, &cur);
            hunk = (int)w->n_diff;
            l = add_line(w, p, len, WB_D_HUNK, WB_C_DIFF_HUNK);
        } else if (*p == '+' && hunk >= 0) {
            if ((l = add_line(w, p + 1, len - 1, WB_D_ADD, WB_C_DIFF_ADD)))
                l->new_line = cur++;
        } else if (*p == '-' && hunk >= 0) {
            if ((l = add_line(w, p + 1, len - 1, WB_D_DEL, WB_C_DIFF_DEL)))
                l->old_line = old++;
        } else if (*p == ' ' && hunk >= 0) {
            if ((l = add_line(w, p + 1, len - 1, WB_D_CTX, WB_C_NORMAL))) {
                l->old_line = old++;
                l->new_line = cur++;
            }
        } else {
            l = add_line(w, p, len, WB_D_TEXT, WB_C_NORMAL); /* "\ No newline at end of file" */
        }
        if (l) {
            l->hunk = hunk;
            l->part = part;
        }
        p = next;
    }
    w->diff_sides = true;
    word_blocks(w, from);
}

/* ---- what is diffed ----------------------------------------------------- */

static void load_generation(wb *w)
{
    strbuf sb = STRBUF_INIT;
    int g = w->n_rows ? w->rows[w->sel].gen : 0;
    strbuf_addf(&sb, "generation %d%s", g, g == w->live_gen ? " (being built)" : "");
    add_text(w, sb.buf, WB_C_DIFF_HEAD);
    const char *f = g < w->n_journal ? w->fronts[g] : NULL;
    const char *p = g < w->n_journal ? w->pops[g] : NULL;
    strbuf_reset(&sb);
    strbuf_addf(&sb, "front:%s", f ? f : " (not selected yet)");
    add_text(w, sb.buf, WB_C_NORMAL);
    strbuf_reset(&sb);
    strbuf_addf(&sb, "survivors:%s", p ? p : " (not selected yet)");
    add_text(w, sb.buf, WB_C_NORMAL);
    strbuf_release(&sb);
}

/* The seed has no parent: its genome, numbered. */
static void load_genome(wb *w, const wb_ind *d)
{
    char *g = NULL;
    strbuf sb = STRBUF_INIT;
    strbuf_addf(&sb, "%s has no parent: its genome", d->id);
    add_text(w, sb.buf, WB_C_TITLE);
    strbuf_release(&sb);
    gerr err = GERR_INIT;
    if (session_genome(w->s, d->id, &g, &err) != 0) {
        add_text(w, err.msg, WB_C_ERROR);
        return;
    }
    int line = 1;
    for (const char *p = g; p && *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        wb_dline *l = add_line(w, p, len, WB_D_CTX, WB_C_NORMAL);
        if (l)
            l->new_line = line;
        line++;
        p = e ? e + 1 : p + len;
    }
    free(g);
}

/* One diff of the session's, or its error, or a line saying it is empty. */
static void add_session_diff(wb *w, int rc, const char *patch, const gerr *err, const char *empty,
                             int part)
{
    if (rc != 0)
        add_text(w, err->msg, WB_C_ERROR);
    else if (!patch || !patch[0])
        add_text(w, empty, WB_C_NORMAL);
    else
        add_patch(w, patch, part);
}

static void load_parents(wb *w, const wb_ind *d)
{
    strbuf head = STRBUF_INIT;
    for (int i = 0; i < d->n_parents; i++) {
        if (d->n_parents > 1) {
            strbuf_reset(&head);
            strbuf_addf(&head, "crossover: against parent %d (%s)", i + 1, d->parents[i]);
            add_text(w, head.buf, WB_C_TITLE);
        }
        char *patch = NULL;
        gerr err = GERR_INIT;
        int rc = session_diff(w->s, i ? d->parents[i] : NULL, d->id, true, &patch, &err);
        add_session_diff(w, rc, patch, &err, "(no change against the parent)", i);
        free(patch);
    }
    strbuf_release(&head);
}

static void load_edit(wb *w, const wb_ind *d)
{
    char *patch = NULL;
    gerr err = GERR_INIT;
    int rc = session_edit_diff(w->s, d->id, &patch, &err);
    if (rc == 0 && patch && patch[0]) {
        strbuf head = STRBUF_INIT;
        strbuf_addf(&head, "the researcher's edit of %s (d: parent diff)", d->id);
        add_text(w, head.buf, WB_C_TITLE);
        strbuf_release(&head);
    }
    add_session_diff(w, rc, patch, &err, "(no edit by the researcher; d: back to the parent diff)",
                     0);
    free(patch);
}

static void load_against(wb *w, const wb_ind *d)
{
    char *patch = NULL;
    gerr err = GERR_INIT;
    int rc = session_diff(w->s, w->diff_against, d->id, true, &patch, &err);
    add_session_diff(w, rc, patch, &err, "(the same genome)", 0);
    free(patch);
}

/* ---- side by side ------------------------------------------------------- */

static void add_srow(wb *w, int left, int right)
{
    if (ALLOC_GROW(w->srows, w->n_srows + 1, w->alloc_srows) == 0)
        w->srows[w->n_srows++] = (wb_srow){left, right};
}

/* Context lines on both sides, the k-th removed line of a block beside
 * its k-th added line, the "---" and "+++" lines side by side. */
static void build_srows(wb *w)
{
    for (size_t i = 0; i < w->n_diff;) {
        const wb_dline *l = &w->diff[i];
        if (l->type == WB_D_HEAD && !strncmp(l->text, "--- ", 4) && i + 1 < w->n_diff &&
            !strncmp(w->diff[i + 1].text, "+++ ", 4)) {
            add_srow(w, (int)i, (int)i + 1);
            i += 2;
            continue;
        }
        if (l->type != WB_D_DEL && l->type != WB_D_ADD) {
            add_srow(w, (int)i, (int)i);
            i++;
            continue;
        }
        size_t d0 = i, a0;
        i = block_end(w, i, &a0);
        size_t nd = a0 - d0, na = i - a0;
        for (size_t k = 0; k < nd || k < na; k++)
            add_srow(w, k < nd ? (int)(d0 + k) : -1, k < na ? (int)(a0 + k) : -1);
    }
}

/* ---- loading ------------------------------------------------------------ */

void wb_detail_diff(wb *w)
{
    clear_diff(w);
    wb_ind *d = wb_selected(w);
    if (!d) {
        load_generation(w);
    } else if (d->failed[0]) {
        /* no genome: what failed, and where its answers are */
        strbuf sb = STRBUF_INIT;
        strbuf_addf(&sb, "failed proposal %s: %s", d->failed,
                    d->message ? d->message : "(no reason recorded)");
        add_text(w, sb.failed ? "failed proposal" : sb.buf, WB_C_FAILED);
        strbuf_release(&sb);
        add_text(w, "", WB_C_NORMAL);
        add_text(w, "Its answers and every check error are in the reasoning pane (t: the prompts).",
                 WB_C_NORMAL);
        add_text(w, "R asks again in this slot, with an optional steering note.", WB_C_NORMAL);
    } else if (!d->id[0]) {
        add_text(w, "(proposing: the diff appears when the proposal arrives)", WB_C_PROPOSING);
    } else {
        gerr err = GERR_INIT;
        if (load_notes(w, d->id, &err) != 0)
            add_text(w, err.msg, WB_C_ERROR);
        if (w->diff_mode == 2 && !strcmp(w->diff_against, d->id))
            add_text(w, "(the individual compared against; D: back to the parent diff)",
                     WB_C_NORMAL);
        else if (w->diff_mode == 2)
            load_against(w, d);
        else if (w->diff_mode == 1)
            load_edit(w, d);
        else if (d->n_parents == 0)
            load_genome(w, d);
        else
            load_parents(w, d);
        anchor_notes(w);
    }
    build_srows(w);
    if (w->diff_cur >= (int)w->n_diff)
        w->diff_cur = w->n_diff ? (int)w->n_diff - 1 : 0;
}
