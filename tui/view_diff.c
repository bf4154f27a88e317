/* view_diff: the selection's diff against its parent(s), the researcher's
 * edit or the marked individual, from the lines wb_diff.c parsed.
 *
 * Unified (one column of lines) or side by side (old left, new right,
 * aligned, with the line numbers of both sides): `s` switches, and side
 * by side is the default from WB_SPLIT_COLS columns. The words that
 * changed inside a changed line stand out (their own colour, or
 * underline and reverse without colour). A long line is never cut: it
 * wraps, and each further row starts with the wrap mark. The line cursor
 * is a marker in the left column (at the middle one for the new side of
 * a side-by-side row); `{` and `}` move it between hunks; annotations sit
 * under the line they are anchored to.
 *
 * Scrolling is by items (a line, a side-by-side row or a note), drawn
 * whole: diff_top is the first item shown. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/grow.h"
#include "tui/wb.h"

/* An item: a line (unified), a row (side by side) or a note. */
typedef struct item {
    int line; /* a wb_dline (unified) or wb_srow (side by side) index, -1 for a note */
    int note; /* a wb_note index, -1 for a line */
} item;

typedef struct layout {
    wb *w;
    bool split, focused;
    int x, width;
    int half; /* side by side: the columns of each side */
    int cur;  /* the item holding the cursor */
    item *v;
    size_t n, alloc;
    wb_cells cells[2];
} layout;

bool wb_diff_split(wb *w)
{
    if (!w->diff_sides)
        return false;
    return w->diff_split >= 0 ? w->diff_split == 1 : w->diff_width >= WB_SPLIT_COLS;
}

/* The side-by-side row holding line i, -1 if none. */
static int row_of(wb *w, int i)
{
    for (size_t r = 0; r < w->n_srows; r++)
        if (w->srows[r].left == i || w->srows[r].right == i)
            return (int)r;
    return -1;
}

static void push(layout *l, int line, int note)
{
    if (ALLOC_GROW(l->v, l->n + 1, l->alloc) == 0)
        l->v[l->n++] = (item){line, note};
}

static void push_notes(layout *l, int at)
{
    for (size_t k = 0; k < l->w->n_notes; k++)
        if (l->w->notes[k].at == at)
            push(l, -1, (int)k);
}

static void build_items(layout *l)
{
    wb *w = l->w;
    l->n = 0;
    l->cur = 0;
    push_notes(l, -1);
    if (!l->split) {
        for (size_t i = 0; i < w->n_diff; i++) {
            if ((int)i == w->diff_cur)
                l->cur = (int)l->n;
            push(l, (int)i, -1);
            push_notes(l, (int)i);
        }
        return;
    }
    int cur_row = row_of(w, w->diff_cur);
    for (size_t r = 0; r < w->n_srows; r++) {
        const wb_srow *sr = &w->srows[r];
        if ((int)r == cur_row)
            l->cur = (int)l->n;
        push(l, (int)r, -1);
        if (sr->left >= 0)
            push_notes(l, sr->left);
        if (sr->right >= 0 && sr->right != sr->left)
            push_notes(l, sr->right);
    }
}

/* ---- one line's cells and rows --------------------------------------------- */

static attr_t word_attr(wb *w, const wb_dline *d)
{
    return w->attr[d->type == WB_D_ADD ? WB_C_DIFF_ADD_WORD : WB_C_DIFF_DEL_WORD];
}

static void line_cells(wb *w, wb_cells *c, const wb_dline *d)
{
    wb_cells_reset(c);
    attr_t a = w->attr[d->kind];
    wb_cells_add(w, c, d->text, strlen(d->text), d->words, a, d->words ? word_attr(w, d) : a);
}

static void note_cells(wb *w, wb_cells *c, const wb_note *n)
{
    wb_cells_reset(c);
    strbuf sb = STRBUF_INIT;
    if (n->at < 0 && n->line > 0)
        strbuf_addf(&sb, "note on %s line %d: %s", n->old ? "the parent's" : "", n->line, n->text);
    else
        strbuf_addf(&sb, "note: %s", n->text);
    wb_cells_add(w, c, sb.buf, sb.len, NULL, w->attr[WB_C_NOTE], w->attr[WB_C_NOTE]);
    strbuf_release(&sb);
}

static bool is_content(const wb_dline *d)
{
    return d->type == WB_D_CTX || d->type == WB_D_DEL || d->type == WB_D_ADD;
}

/* Where a line's text goes: its first row from x0 in w0 columns, the
 * others from x1 in w1 (after the wrap mark at x1 - 1). */
typedef struct place {
    int x0, w0, x1, w1;
} place;

/* Unified: a content line's text after the marker and the sign; a title
 * from the sign's column. */
static place unified_place(const layout *l, const wb_dline *d)
{
    int x = l->x;
    if (is_content(d))
        return (place){x + 2, l->width - 2, x + 2, l->width - 2};
    return (place){x + 1, l->width - 1, x + 2, l->width - 2};
}

/* Side by side: a side's text after its number and sign; a full-width
 * title after the marker. */
static place side_place(const layout *l, int side)
{
    int x = l->x + 1 + (side ? l->half + 1 : 0);
    return (place){x + 6, l->half - 6, x + 6, l->half - 6};
}

static place wide_place(const layout *l)
{
    return (place){l->x + 2, l->width - 2, l->x + 2, l->width - 2};
}

static int rows_at(const wb_cells *c, place p)
{
    return wb_cells_rows(c, p.w0, p.w1);
}

static place note_place(const layout *l, const wb_note *n)
{
    int x = l->x + 5;
    if (l->split && n->at >= 0 && !n->old && l->w->diff[n->at].type != WB_D_CTX &&
        l->half - 5 >= 10)
        x = l->x + 2 + l->half + 5; /* under the new side */
    int width = l->x + l->width - x;
    return (place){x, width, x, width};
}

static int item_rows(layout *l, const item *it)
{
    wb *w = l->w;
    if (it->note >= 0) {
        note_cells(w, &l->cells[0], &w->notes[it->note]);
        return rows_at(&l->cells[0], note_place(l, &w->notes[it->note]));
    }
    if (!l->split) {
        const wb_dline *d = &w->diff[it->line];
        line_cells(w, &l->cells[0], d);
        return rows_at(&l->cells[0], unified_place(l, d));
    }
    const wb_srow *sr = &w->srows[it->line];
    if (sr->left == sr->right && !is_content(&w->diff[sr->left])) {
        line_cells(w, &l->cells[0], &w->diff[sr->left]);
        return rows_at(&l->cells[0], wide_place(l));
    }
    int rows = 1;
    for (int side = 0; side < 2; side++) {
        int i = side ? sr->right : sr->left;
        if (i < 0)
            continue;
        line_cells(w, &l->cells[side], &w->diff[i]);
        int r = rows_at(&l->cells[side], side_place(l, side));
        rows = r > rows ? r : rows;
    }
    return rows;
}

/* ---- drawing ------------------------------------------------------------------ */

static char sign_of(const wb_dline *d)
{
    return d->type == WB_D_ADD ? '+' : d->type == WB_D_DEL ? '-' : ' ';
}

/* Draws c from row y on at p; each row after the first starts with the
 * wrap mark. Returns the rows drawn (at most max). */
static int put_wrapped(layout *l, const wb_cells *c, int y, place p, int max)
{
    int rows = 0;
    size_t i = 0;
    do {
        int x = rows ? p.x1 : p.x0, width = rows ? p.w1 : p.w0;
        if (rows > 0)
            wb_put(l->w, y + rows, p.x1 - 1, 1, l->w->g.wrap, l->w->attr[WB_C_SEP]);
        size_t next = wb_cells_put(c, i, y + rows, x, width);
        if (next == i && i < c->n && rows > 0)
            next = i + 1; /* a character wider than the pane: skip it, never loop */
        i = next;
        rows++;
    } while (i < c->n && rows < max);
    return rows;
}

static attr_t cursor_attr(const layout *l)
{
    return l->w->attr[l->focused ? WB_C_CURSOR : WB_C_CURSOR_DIM];
}

static void put_marker(layout *l, int y, int x)
{
    wb_put(l->w, y, x, 1, l->w->g.cursor, cursor_attr(l));
}

static int draw_note(layout *l, const item *it, int y, int max)
{
    const wb_note *n = &l->w->notes[it->note];
    note_cells(l->w, &l->cells[0], n);
    return put_wrapped(l, &l->cells[0], y, note_place(l, n), max);
}

static int draw_unified(layout *l, const item *it, int y, int max, bool is_cur)
{
    wb *w = l->w;
    const wb_dline *d = &w->diff[it->line];
    if (is_cur)
        put_marker(l, y, l->x);
    if (is_content(d)) {
        char sign[2] = {sign_of(d), 0};
        wb_put(w, y, l->x + 1, 1, sign, w->attr[d->kind]);
    }
    line_cells(w, &l->cells[0], d);
    return put_wrapped(l, &l->cells[0], y, unified_place(l, d), max);
}

/* One side of a side-by-side row: its number, sign and text. */
static int draw_side(layout *l, int i, int side, int y, int max, bool is_cur)
{
    wb *w = l->w;
    if (i < 0)
        return 1;
    const wb_dline *d = &w->diff[i];
    place p = side_place(l, side);
    line_cells(w, &l->cells[side], d);
    if (d->type == WB_D_HEAD) { /* "--- a/..." beside "+++ b/..." */
        p.x0 -= 5;
        p.w0 += 5;
        return put_wrapped(l, &l->cells[side], y, p, max);
    }
    char num[16] = "";
    int n = side ? d->new_line : d->old_line;
    if (n > 0)
        snprintf(num, sizeof num, "%4d", n);
    wb_put(w, y, p.x0 - 6, 4, num, is_cur ? cursor_attr(l) : w->attr[WB_C_LINENO]);
    char sign[2] = {sign_of(d), 0};
    wb_put(w, y, p.x0 - 1, 1, sign, w->attr[d->kind]);
    return put_wrapped(l, &l->cells[side], y, p, max);
}

static int draw_split(layout *l, const item *it, int y, int max, bool is_cur)
{
    wb *w = l->w;
    const wb_srow *sr = &w->srows[it->line];
    const wb_dline *d = &w->diff[sr->left >= 0 ? sr->left : sr->right];
    if (sr->left == sr->right && !is_content(d)) {
        if (is_cur)
            put_marker(l, y, l->x);
        line_cells(w, &l->cells[0], d);
        return put_wrapped(l, &l->cells[0], y, wide_place(l), max);
    }
    int mid = l->x + 1 + l->half;
    /* the cursor's side: the new one, unless it is on a removed line or
       Left put it on the old one */
    bool cur_right = is_cur && sr->right == w->diff_cur && !(sr->left == sr->right && w->diff_old);
    int rl = draw_side(l, sr->left, 0, y, max, is_cur && !cur_right);
    int rr = draw_side(l, sr->right, 1, y, max, cur_right);
    int rows = rl > rr ? rl : rr;
    for (int r = 0; r < rows; r++)
        wb_put(w, y + r, mid, 1, w->g.vline, w->attr[WB_C_SEP]);
    if (is_cur)
        put_marker(l, y, cur_right ? mid : l->x);
    return rows;
}

static void title_text(wb *w, char *buf, size_t n)
{
    wb_ind *d = wb_selected(w);
    const char *how = wb_diff_split(w) ? ", side by side" : "";
    if (!d || !d->id[0])
        snprintf(buf, n, " Diff");
    else if (w->diff_mode == 2)
        snprintf(buf, n, " Diff: %s against %s (marked)%s", d->id, w->diff_against, how);
    else if (w->diff_mode == 1)
        snprintf(buf, n, " Diff: %s, the researcher's edit%s", d->id, how);
    else if (d->n_parents == 2)
        snprintf(buf, n, " Diff: %s against %s and %s%s", d->id, d->parents[0], d->parents[1], how);
    else if (d->n_parents == 1)
        snprintf(buf, n, " Diff: %s against %s%s", d->id, d->parents[0], how);
    else
        snprintf(buf, n, " Genome: %s", d->id);
}

static void diff_draw(wb *w, const wb_area *a, bool focused)
{
    int y0 = a->y, h = a->h;
    w->diff_width = a->w;
    if (a->titled) {
        char title[160];
        title_text(w, title, sizeof title);
        wb_draw_title(w, y0++, a->x, a->w, title, focused);
        h--;
    }
    layout l = {.w = w, .focused = focused, .x = a->x, .width = a->w};
    l.split = wb_diff_split(w);
    l.half = (a->w - 2) / 2;
    build_items(&l);
    /* the cursor's item, whole, on the screen */
    if (w->diff_top > l.cur)
        w->diff_top = l.cur;
    if (w->diff_top < 0 || w->diff_top >= (int)l.n)
        w->diff_top = 0;
    for (;;) {
        int rows = 0;
        for (int i = w->diff_top; i <= l.cur && i < (int)l.n; i++)
            rows += item_rows(&l, &l.v[i]);
        if (rows <= h || w->diff_top >= l.cur)
            break;
        w->diff_top++;
    }
    bool rows_ok = ALLOC_GROW(w->diff_rows, (size_t)a->h, w->alloc_diff_rows) == 0;
    for (int r = 0; rows_ok && r < a->h; r++)
        w->diff_rows[r] = -1;
    int y = y0;
    for (size_t i = (size_t)w->diff_top; i < l.n && y < y0 + h; i++) {
        const item *it = &l.v[i];
        int max = y0 + h - y, rows;
        if (it->note >= 0)
            rows = draw_note(&l, it, y, max);
        else if (l.split)
            rows = draw_split(&l, it, y, max, (int)i == l.cur);
        else
            rows = draw_unified(&l, it, y, max, (int)i == l.cur);
        for (int r = 0; rows_ok && it->note < 0 && r < rows; r++)
            w->diff_rows[y - a->y + r] = it->line; /* a line, or a side-by-side row */
        y += rows;
    }
    free(l.v);
    wb_cells_release(&l.cells[0]);
    wb_cells_release(&l.cells[1]);
}

/* ---- requests ------------------------------------------------------------------ */

/* The line on the cursor's side of side-by-side row r. */
static int line_of_row(wb *w, int r)
{
    const wb_srow *sr = &w->srows[r];
    if (w->diff_old)
        return sr->left >= 0 ? sr->left : sr->right;
    return sr->right >= 0 ? sr->right : sr->left;
}

static int move_cursor(wb *w, int delta)
{
    if (!w->n_diff)
        return WB_REDRAW;
    if (!wb_diff_split(w) || !w->n_srows) {
        w->diff_cur = wb_clamp_add(w->diff_cur, delta, 0, (int)w->n_diff - 1);
        return WB_REDRAW;
    }
    int r = row_of(w, w->diff_cur);
    r = wb_clamp_add(r < 0 ? 0 : r, delta, 0, (int)w->n_srows - 1);
    w->diff_cur = line_of_row(w, r);
    return WB_REDRAW;
}

/* `}`: the next hunk's @@ line; `{`: the start of this hunk, or the one
 * before when the cursor is on it. */
static int hunk_jump(wb *w, int dir)
{
    int i = w->diff_cur + dir;
    while (i >= 0 && i < (int)w->n_diff && w->diff[i].type != WB_D_HUNK)
        i += dir;
    if (i < 0 || i >= (int)w->n_diff) {
        wb_msg(w, false, dir > 0 ? "the last hunk" : "the first hunk");
        return WB_REDRAW;
    }
    w->diff_cur = i;
    return WB_REDRAW;
}

/* Side by side: Left and Right put the cursor on the old or the new side. */
static int set_side(wb *w, bool old)
{
    w->diff_old = old;
    int r = row_of(w, w->diff_cur);
    if (r >= 0)
        w->diff_cur = line_of_row(w, r);
    return WB_REDRAW;
}

static int diff_request(wb *w, int req)
{
    bool move;
    int delta = wb_move_delta(w, req, &move);
    if (move)
        return move_cursor(w, delta);
    switch (req) {
    case WB_REQ_HUNK_NEXT: return hunk_jump(w, 1);
    case WB_REQ_HUNK_PREV: return hunk_jump(w, -1);
    case WB_REQ_FOLD:
        if (!wb_diff_split(w))
            return WB_UNHANDLED;
        return set_side(w, true);
    case WB_REQ_UNFOLD:
        if (!wb_diff_split(w))
            return WB_UNHANDLED;
        return set_side(w, false);
    default: return WB_UNHANDLED;
    }
}

/* The line clicked (in a side-by-side row, the side clicked). */
static int diff_click(wb *w, const wb_area *a, int row, int col)
{
    if (row < 0 || row >= a->h || !w->diff_rows || w->diff_rows[row] < 0)
        return WB_REDRAW;
    int i = w->diff_rows[row];
    if (wb_diff_split(w) && i < (int)w->n_srows) {
        w->diff_old = col <= 1 + (a->w - 2) / 2;
        w->diff_cur = line_of_row(w, i);
    } else if (!wb_diff_split(w) && i < (int)w->n_diff) {
        w->diff_cur = i;
    }
    return WB_REDRAW;
}

DEFINE_VIEW(diff, NULL, .load = wb_detail_diff, .draw = diff_draw, .request = diff_request,
            .click = diff_click);
