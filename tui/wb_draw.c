/* wb_draw: paints the workbench from struct wb. Nothing here changes data;
 * everything is drawn on stdscr, so a dump of stdscr is the whole screen. */
#include <jansson.h>
#include <langinfo.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "tui/wb.h"

#define MIN_COLS  60
#define MIN_LINES 16

static const wb_glyphs glyphs_utf8 = {
    {"◌", "○", "◎", "◑", "●", "✗", "!"}, "★", "│", "─", "▾", "▸", "◆", "█", "░", "·"};
static const wb_glyphs glyphs_ascii = {
    {"~", "?", "+", ">", "o", "x", "!"}, "*", "|", "-", "v", ">", "@", "#", ".", "."};

static const struct {
    short fg, bg;
    attr_t mono;
} color_table[] = {
#define WB_COLOR_ROW(name, fg, bg, mono) {fg, bg, mono},
    WB_COLORS(WB_COLOR_ROW)};

void wb_draw_init(wb *w)
{
    const char *cs = nl_langinfo(CODESET);
    const char *term = getenv("TERM");
    w->utf8 = cs && (!strcmp(cs, "UTF-8") || !strcmp(cs, "utf8"));
    if (term && (!strncmp(term, "vt", 2) || !strcmp(term, "linux") || !strcmp(term, "dumb")))
        w->utf8 = false;
    if (getenv("GEVO_ASCII") && *getenv("GEVO_ASCII"))
        w->utf8 = false;
    w->g = w->utf8 ? glyphs_utf8 : glyphs_ascii;
    const char *nc = getenv("NO_COLOR");
    w->color = has_colors() && !(nc && *nc);
    if (w->color) {
        start_color();
        use_default_colors();
    }
    for (int i = 0; i < WB_C_COUNT; i++) {
        if (w->color && i + 1 < COLOR_PAIRS) {
            init_pair((short)(i + 1), color_table[i].fg, color_table[i].bg);
            w->attr[i] = COLOR_PAIR(i + 1) | (color_table[i].mono & A_BOLD);
        } else {
            w->attr[i] = color_table[i].mono;
        }
    }
}

/* Display columns of one character starting at s (its length in *len). */
static int char_width(bool utf8, const char *s, size_t *len)
{
    unsigned char c = (unsigned char)*s;
    *len = 1;
    if (c == '\t')
        return 4;
    if (c < 0x80)
        return c < 32 || c == 127 ? 1 : 1;
    if (!utf8)
        return 1;
    mbstate_t ms;
    memset(&ms, 0, sizeof ms);
    wchar_t wc;
    size_t k = mbrtowc(&wc, s, MB_CUR_MAX, &ms);
    if (k == (size_t)-1 || k == (size_t)-2 || k == 0)
        return 1;
    *len = k;
    int cw = wcwidth(wc);
    return cw < 0 ? 1 : cw;
}

int wb_text_width(const char *s)
{
    int n = 0;
    bool utf8 = MB_CUR_MAX > 1;
    while (*s && *s != '\n') {
        size_t len;
        n += char_width(utf8, s, &len);
        s += len;
    }
    return n;
}

/* Draws s (up to a newline) at y,x in at most width columns; returns the
 * columns used. Control bytes and, without UTF-8, non-ASCII bytes become
 * '?', so hostile text from an LLM cannot move the cursor. */
static int put(wb *w, int y, int x, int width, const char *s, attr_t a)
{
    int used = 0;
    attrset(a);
    move(y, x);
    while (s && *s && *s != '\n' && used < width) {
        size_t len;
        int cw = char_width(w->utf8, s, &len);
        unsigned char c = (unsigned char)*s;
        if (used + cw > width)
            break;
        if (c == '\t') {
            for (int i = 0; i < 4 && used < width; i++, used++)
                addch(' ');
            s++;
            continue;
        }
        if (c < 32 || c == 127 || (c >= 0x80 && (!w->utf8 || len == 1)))
            addch('?');
        else
            addnstr(s, (int)len);
        used += cw;
        s += len;
    }
    attrset(A_NORMAL);
    return used;
}

static void fill(int y, int x, int width, attr_t a)
{
    attrset(a);
    for (int i = 0; i < width; i++)
        mvaddch(y, x + i, ' ');
    attrset(A_NORMAL);
}

static void fmt_params(char *b, size_t n, long p)
{
    if (p < 0)
        snprintf(b, n, "-");
    else if (p >= 1000000)
        snprintf(b, n, "%.2fM", p / 1e6);
    else if (p >= 1000)
        snprintf(b, n, "%.1fk", p / 1e3);
    else
        snprintf(b, n, "%ld", p);
}

static void fmt_count(char *b, size_t n, long v)
{
    if (v >= 1000000)
        snprintf(b, n, "%.1fM", v / 1e6);
    else if (v >= 1000)
        snprintf(b, n, "%.1fk", v / 1e3);
    else
        snprintf(b, n, "%ld", v);
}

static const char *state_label[WB_NSTATES] = {"proposing", "pending",  "approved", "training",
                                              "trained",   "rejected", "failed"};

static void draw_status(wb *w)
{
    char buf[512], tok[16], tok2[16];
    const evolve_status *st = &w->st;
    fill(0, 0, w->cols, w->attr[WB_C_STATUS]);
    char gen[64];
    if (w->view_gen != w->last_gen)
        snprintf(gen, sizeof gen, "gen %d (viewing %d)", w->last_gen, w->view_gen);
    else
        snprintf(gen, sizeof gen, "gen %d", w->last_gen);
    const char *sep = w->utf8 ? " │ " : " | ";
    if (!w->ev) {
        snprintf(buf, sizeof buf, " gevo %s%s%s%shistory only: %s", w->name, sep, gen, sep,
                 w->msg_error ? "see message" : "read-only session");
        put(w, 0, 0, w->cols, buf, w->attr[WB_C_STATUS]);
        return;
    }
    fmt_count(tok, sizeof tok, st->tokens_in);
    fmt_count(tok2, sizeof tok2, st->tokens_out);
    char cost[64] = "";
    if (st->tokens_in + st->tokens_out > 0)
        snprintf(cost, sizeof cost, "%s/%s tokens $%.2f%s", tok, tok2, st->cost, sep);
    snprintf(buf, sizeof buf,
             " gevo %s%s%s%s%d pending %d training %d trained %d rejected %d failed%s%s%s", w->name,
             sep, gen, sep, st->pending, st->training + st->approved, st->trained, st->rejected,
             st->failed, sep, cost, st->llm);
    if (wb_text_width(buf) > w->cols) {
        if (st->tokens_in + st->tokens_out > 0)
            snprintf(cost, sizeof cost, "%s tok $%.2f%s", tok, st->cost, sep);
        snprintf(buf, sizeof buf, " %s%s%d pend %d train %d done %d rej %d fail%s%s%s", gen, sep,
                 st->pending, st->training + st->approved, st->trained, st->rejected, st->failed,
                 sep, cost, st->llm);
    }
    put(w, 0, 0, w->cols, buf, w->attr[WB_C_STATUS]);
}

/* Training progress bars, from column x to the end of row y. */
static void draw_progress(wb *w, int y, int x)
{
    int any = 0;
    for (size_t i = 0; i < w->n_inds && x < w->cols - 18; i++) {
        const wb_ind *d = &w->inds[i];
        if (d->state != WB_TRAINING)
            continue;
        char buf[64];
        int pct = (int)(d->progress * 100 + 0.5);
        if (pct < 0)
            pct = 0;
        if (pct > 100)
            pct = 100;
        x += put(w, y, x, w->cols - x, any ? "  " : " ", A_NORMAL);
        snprintf(buf, sizeof buf, "%s ", d->id);
        x += put(w, y, x, w->cols - x, buf, w->attr[WB_C_TRAINING]);
        int filled = pct * 8 / 100;
        for (int b = 0; b < 8; b++)
            x += put(w, y, x, w->cols - x, b < filled ? w->g.bar_full : w->g.bar_empty,
                     w->attr[WB_C_TRAINING]);
        snprintf(buf, sizeof buf, "%3d%%", pct);
        x += put(w, y, x, w->cols - x, buf, A_NORMAL);
        any = 1;
    }
}

static int state_color(const wb_ind *d)
{
    return WB_C_PROPOSING + (int)d->state;
}

static void tree_row_text(wb *w, const wb_row *r, int width, char *buf, size_t size)
{
    if (r->ind < 0) {
        int n = 0, pend = 0;
        for (size_t i = 0; i < w->n_inds; i++)
            if (w->inds[i].generation == r->gen) {
                n++;
                pend += w->inds[i].state == WB_PENDING;
            }
        bool fold = (r->gen < w->n_folded && w->folded[r->gen]) ? w->folded[r->gen] == 1
                                                                : r->gen < w->view_gen;
        if (w->only_pending || w->only_front)
            fold = false;
        char extra[48] = "";
        if (pend)
            snprintf(extra, sizeof extra, ", %d pending", pend);
        snprintf(buf, size, "%s generation %d: %d%s%s", fold ? w->g.closed : w->g.open, r->gen, n,
                 extra, r->gen == w->live_gen ? " (live)" : "");
        return;
    }
    const wb_ind *d = &w->inds[r->ind];
    char obj[32], p[16];
    fmt_params(p, sizeof p, d->params);
    if (d->state == WB_TRAINING)
        snprintf(obj, sizeof obj, "%3d%%", (int)(d->progress * 100 + 0.5));
    else if (d->val_acc >= 0)
        snprintf(obj, sizeof obj, "%.1f%%", d->val_acc * 100);
    else
        snprintf(obj, sizeof obj, "%s", state_label[d->state]);
    const char *mark = d->on_front ? w->g.front : d->survivor ? w->g.dot : " ";
    char id[SESSION_ID_MAX + 4];
    snprintf(id, sizeof id, "%s%s", d->id[0] ? d->id : "...", d->edited ? "'" : "");
    char lin[40] = "";
    if (d->n_parents == 1)
        snprintf(lin, sizeof lin, "<%s", d->parents[0]);
    else if (d->n_parents == 2)
        snprintf(lin, sizeof lin, "<%s+%s", d->parents[0], d->parents[1]);
    const char *m = wb_is_marked(w, d->id) ? w->g.mark : " ";
    /* the offline proposer's label is too long for the column */
    const char *persona = !strncmp(d->persona, "random mutation", 15) ? "(no LLM)" : d->persona;
    if (width >= 44)
        snprintf(buf, size, " %s%s%s %-7s %-9.9s %-8.8s %-9s %6s %s", m, w->g.state[d->state], mark,
                 id, d->op, persona, obj, p, lin);
    else
        snprintf(buf, size, " %s%s%s %-7s %-9.9s %-9s %6s", m, w->g.state[d->state], mark, id,
                 d->op, obj, p);
}

static void draw_title(wb *w, int y, int x, int width, const char *title, bool focused)
{
    int a = focused ? w->attr[WB_C_TAB_ACTIVE] : w->attr[WB_C_TAB];
    fill(y, x, width, a);
    put(w, y, x, width, title, a);
}

static void draw_tree(wb *w, int y0, int x, int h, int width, bool focused)
{
    if (w->sel < w->top)
        w->top = w->sel;
    if (w->sel >= w->top + h)
        w->top = w->sel - h + 1;
    if (w->top < 0)
        w->top = 0;
    char buf[256];
    for (int i = 0; i < h; i++) {
        size_t r = (size_t)(w->top + i);
        if (r >= w->n_rows)
            break;
        const wb_row *row = &w->rows[r];
        tree_row_text(w, row, width, buf, sizeof buf);
        int el = row->ind < 0 ? WB_C_GEN : state_color(&w->inds[row->ind]);
        attr_t a = w->attr[el];
        if ((int)r == w->sel) {
            a = focused ? w->attr[WB_C_CURSOR] : w->attr[WB_C_CURSOR_DIM];
            fill(y0 + i, x, width, a);
        }
        put(w, y0 + i, x, width, buf, a);
        if (row->ind >= 0 && w->inds[row->ind].on_front && (int)r != w->sel) {
            /* the front mark stands out in its own colour */
            put(w, y0 + i, x + 1 + wb_text_width(w->g.mark) + wb_text_width(w->g.state[0]), 1,
                w->g.front, w->attr[WB_C_FRONT]);
        }
    }
    if (!w->n_rows || (w->n_rows == 1 && (w->only_pending || w->only_front)))
        put(w, y0 + (int)w->n_rows, x, width,
            w->only_pending ? "  nothing pending review (p: all)" : "  (empty)", A_NORMAL);
}

static void draw_diff(wb *w, int y0, int x, int h, int width, bool focused)
{
    if (w->diff_cur < w->diff_top)
        w->diff_top = w->diff_cur;
    if (w->diff_cur >= w->diff_top + h)
        w->diff_top = w->diff_cur - h + 1;
    if (w->diff_top < 0)
        w->diff_top = 0;
    for (int i = 0; i < h; i++) {
        size_t r = (size_t)(w->diff_top + i);
        if (r >= w->n_diff)
            break;
        attr_t a = w->attr[w->diff[r].kind];
        if (focused && (int)r == w->diff_cur) {
            a = w->attr[WB_C_CURSOR];
            fill(y0 + i, x, width, a);
        }
        put(w, y0 + i, x, width, w->diff[r].text, a);
    }
}

/* Wraps text into lines of width columns; calls out(line, len) for each,
 * returns the number of lines. */
static int wrap(const char *text, int width, bool utf8,
                void (*out)(void *ctx, int n, const char *s, size_t len), void *ctx)
{
    int n = 0;
    const char *p = text;
    while (p && *p) {
        const char *start = p;
        int used = 0;
        const char *brk = NULL;
        while (*p && *p != '\n') {
            size_t len;
            int cw = char_width(utf8, p, &len);
            if (used + cw > width)
                break;
            if (*p == ' ')
                brk = p;
            used += cw;
            p += len;
        }
        const char *end = p;
        if (*p && *p != '\n' && brk && brk > start) {
            end = brk;
            p = brk + 1;
        } else if (*p == '\n') {
            p++;
        }
        if (out)
            out(ctx, n, start, (size_t)(end - start));
        n++;
    }
    return n;
}

typedef struct wrap_ctx {
    wb *w;
    int y0, x, h, width, top;
} wrap_ctx;

static void wrap_out(void *ctx, int n, const char *s, size_t len)
{
    wrap_ctx *c = ctx;
    int row = n - c->top;
    if (row < 0 || row >= c->h)
        return;
    char buf[1024];
    if (len >= sizeof buf)
        len = sizeof buf - 1;
    memcpy(buf, s, len);
    buf[len] = 0;
    attr_t a = !strncmp(buf, "-- ", 3) ? c->w->attr[WB_C_TITLE] : A_NORMAL;
    put(c->w, c->y0 + row, c->x, c->width, buf, a);
}

static const char *reason_text(wb *w, char **tmp)
{
    wb_ind *d = wb_selected(w);
    *tmp = NULL;
    if (d && d->live && d->state == WB_PROPOSING) {
        size_t n = strlen(w->live_text ? w->live_text : "") + 200;
        *tmp = malloc(n);
        if (*tmp)
            snprintf(*tmp, n, "proposing: %s%s%s\n\n-- reasoning (streaming) --\n%s", d->op,
                     d->persona[0] ? " by " : "", d->persona, w->live_text ? w->live_text : "");
        return *tmp ? *tmp : "";
    }
    return w->reason_text ? w->reason_text : "";
}

static void draw_reason(wb *w, int y0, int x, int h, int width)
{
    char *tmp;
    const char *t = reason_text(w, &tmp);
    int total = wrap(t, width, w->utf8, NULL, NULL);
    if (w->reason_top > total - h)
        w->reason_top = total - h;
    if (w->reason_top < 0)
        w->reason_top = 0;
    wrap_ctx c = {w, y0, x, h, width, w->reason_top};
    wrap(t, width, w->utf8, wrap_out, &c);
    free(tmp);
}

int wb_reason_lines(wb *w, int width);
int wb_reason_lines(wb *w, int width)
{
    char *tmp;
    int n = wrap(reason_text(w, &tmp), width, w->utf8, NULL, NULL);
    free(tmp);
    return n;
}

static void diff_title(wb *w, char *buf, size_t n)
{
    wb_ind *d = wb_selected(w);
    if (!d || !d->id[0])
        snprintf(buf, n, " Diff");
    else if (w->diff_mode == 1)
        snprintf(buf, n, " Diff: %s, the researcher's edit", d->id);
    else if (d->n_parents == 2)
        snprintf(buf, n, " Diff: %s against %s and %s", d->id, d->parents[0], d->parents[1]);
    else if (d->n_parents == 1)
        snprintf(buf, n, " Diff: %s against %s", d->id, d->parents[0]);
    else
        snprintf(buf, n, " Genome: %s", d->id);
}

static void draw_pane(wb *w, int pane, int y0, int x, int h, int width)
{
    char title[128];
    bool focused = w->pane == pane;
    if (pane == WB_PANE_TREE) {
        snprintf(title, sizeof title, " Population%s%s", w->only_pending ? " [pending]" : "",
                 w->only_front ? " [front]" : "");
        draw_title(w, y0, x, width, title, focused);
        draw_tree(w, y0 + 1, x, h - 1, width, focused);
    } else if (pane == WB_PANE_DIFF) {
        diff_title(w, title, sizeof title);
        draw_title(w, y0, x, width, title, focused);
        draw_diff(w, y0 + 1, x, h - 1, width, focused);
    } else {
        snprintf(title, sizeof title, " %s", w->show_prompt ? "Prompt" : "Reasoning");
        draw_title(w, y0, x, width, title, focused);
        draw_reason(w, y0 + 1, x, h - 1, width);
    }
}

/* ---- full-screen views ------------------------------------------------ */

static void draw_lines(wb *w, char **lines, size_t n, int y0, int h)
{
    if (w->view_top > (int)n - h)
        w->view_top = (int)n - h;
    if (w->view_top < 0)
        w->view_top = 0;
    for (int i = 0; i < h && (size_t)(w->view_top + i) < n; i++) {
        const char *l = lines[w->view_top + i];
        attr_t a = l[0] && l[0] != ' ' ? w->attr[WB_C_TITLE] : A_NORMAL;
        put(w, y0 + i, 1, w->cols - 2, l, a);
    }
}

static void draw_help(wb *w, int y0, int h)
{
    size_t n;
    char **v = wb_help_lines(&n);
    char **all = realloc(v, (n + 4) * sizeof *v);
    if (!all) {
        wb_strv_free(v, n);
        return;
    }
    v = all;
    char buf[256];
    snprintf(buf, sizeof buf,
             "  %s proposing  %s pending  %s approved  %s training  %s trained  "
             "%s rejected  %s failed",
             w->g.state[0], w->g.state[1], w->g.state[2], w->g.state[3], w->g.state[4],
             w->g.state[5], w->g.state[6]);
    v[n++] = strdup("");
    v[n++] = strdup("Glyphs");
    v[n++] = strdup(buf);
    snprintf(buf, sizeof buf, "  %s on the Pareto front  %s survivor  %s marked  ' edited",
             w->g.front, w->g.dot, w->g.mark);
    v[n++] = strdup(buf);
    draw_lines(w, v, n, y0, h);
    wb_strv_free(v, n);
}

static void draw_pareto(wb *w, int y0, int h)
{
    int W = w->cols - 12, H = h - 4;
    put(w, y0, 1, w->cols - 2, "Pareto front: validation accuracy (up) vs. parameters (right, log)",
        w->attr[WB_C_TITLE]);
    double xmin = 1e300, xmax = -1, ymin = 2, ymax = -1;
    int n = 0;
    for (size_t i = 0; i < w->n_inds; i++) {
        const wb_ind *d = &w->inds[i];
        if (d->val_acc < 0 || d->params <= 0)
            continue;
        double lx = log10((double)d->params);
        xmin = fmin(xmin, lx);
        xmax = fmax(xmax, lx);
        ymin = fmin(ymin, d->val_acc);
        ymax = fmax(ymax, d->val_acc);
        n++;
    }
    char buf[256];
    if (!n || W < 10 || H < 4) {
        put(w, y0 + 2, 2, w->cols - 4, "no trained individual yet (Esc: back)", A_NORMAL);
        return;
    }
    if (xmax - xmin < 1e-9) {
        xmin -= 0.5;
        xmax += 0.5;
    }
    if (ymax - ymin < 1e-9) {
        ymin -= 0.01;
        ymax += 0.01;
    }
    int ox = 9, oy = y0 + 1;
    for (int r = 0; r < H; r++)
        put(w, oy + r, ox - 1, 1, w->g.vline, w->attr[WB_C_SEP]);
    for (int c = 0; c < W; c++)
        put(w, oy + H, ox + c, 1, w->g.hline, w->attr[WB_C_SEP]);
    snprintf(buf, sizeof buf, "%5.1f%%", ymax * 100);
    put(w, oy, 1, 7, buf, A_NORMAL);
    snprintf(buf, sizeof buf, "%5.1f%%", ymin * 100);
    put(w, oy + H - 1, 1, 7, buf, A_NORMAL);
    char p1[16], p2[16];
    fmt_params(p1, sizeof p1, (long)pow(10, xmin));
    fmt_params(p2, sizeof p2, (long)pow(10, xmax));
    put(w, oy + H + 1, ox, 12, p1, A_NORMAL);
    put(w, oy + H + 1, ox + W - (int)strlen(p2), 12, p2, A_NORMAL);
    wb_ind *sel = wb_selected(w);
    /* Ordinary points first, the front over them, the selection last. */
    for (int pass = 0; pass < 3; pass++)
        for (size_t i = 0; i < w->n_inds; i++) {
            const wb_ind *d = &w->inds[i];
            if (d->val_acc < 0 || d->params <= 0)
                continue;
            bool is_sel = sel && !strcmp(sel->id, d->id);
            if ((pass == 0 && (d->on_front || is_sel)) || (pass == 1 && (!d->on_front || is_sel)) ||
                (pass == 2 && !is_sel))
                continue;
            int cx = (int)((log10((double)d->params) - xmin) / (xmax - xmin) * (W - 1) + 0.5);
            int cy = (int)((ymax - d->val_acc) / (ymax - ymin) * (H - 1) + 0.5);
            const char *g = is_sel ? w->g.mark : d->on_front ? w->g.front : w->g.state[WB_TRAINED];
            put(w, oy + cy, ox + cx, 1, g,
                w->attr[is_sel        ? WB_C_CURSOR
                        : d->on_front ? WB_C_FRONT
                                      : WB_C_TRAINED]);
        }
    snprintf(buf, sizeof buf, "%s front  %s selected%s%s   %d trained shown", w->g.front, w->g.mark,
             sel ? ": " : "", sel ? sel->id : "", n);
    put(w, oy + H + 2, ox, w->cols - ox - 1, buf, A_NORMAL);
}

static void draw_curves(wb *w, int y0, int h)
{
    const char *ids[9];
    int n = 0;
    for (size_t i = 0; i < w->n_marks && n < 9; i++)
        ids[n++] = w->marks[i];
    wb_ind *sel = wb_selected(w);
    if (!n && sel && sel->id[0])
        ids[n++] = sel->id;
    put(w, y0, 1, w->cols - 2, "Learning curves: validation accuracy per epoch (m marks more)",
        w->attr[WB_C_TITLE]);
    double acc[9][64];
    int ne[9] = {0}, maxe = 0;
    double lo = 1, hi = 0;
    for (int k = 0; k < n; k++) {
        char *res = NULL;
        if (session_get_result(w->s, ids[k], &res, NULL) != 0 || !res)
            continue;
        json_t *j = json_loads(res, 0, NULL);
        free(res);
        json_t *ep = json_object_get(j, "epochs");
        for (size_t e = 0; e < json_array_size(ep) && ne[k] < 64; e++) {
            json_t *v = json_object_get(json_array_get(ep, e), "val_acc");
            if (!json_is_number(v))
                continue;
            double a = json_number_value(v);
            acc[k][ne[k]++] = a;
            lo = fmin(lo, a);
            hi = fmax(hi, a);
        }
        if (ne[k] > maxe)
            maxe = ne[k];
        json_decref(j);
    }
    char buf[256];
    int o = 0;
    for (int k = 0; k < n; k++)
        o += snprintf(buf + o, sizeof buf - (size_t)o, "%d=%s%s  ", k + 1, ids[k],
                      ne[k] ? "" : " (no curve yet)");
    put(w, y0 + 1, 1, w->cols - 2, n ? buf : "select an individual (or mark some with m)",
        A_NORMAL);
    int W = w->cols - 12, H = h - 5, ox = 9, oy = y0 + 2;
    if (!maxe || W < 10 || H < 3)
        return;
    if (hi - lo < 1e-9) {
        lo -= 0.01;
        hi += 0.01;
    }
    for (int r = 0; r < H; r++)
        put(w, oy + r, ox - 1, 1, w->g.vline, w->attr[WB_C_SEP]);
    for (int c = 0; c < W; c++)
        put(w, oy + H, ox + c, 1, w->g.hline, w->attr[WB_C_SEP]);
    snprintf(buf, sizeof buf, "%5.1f%%", hi * 100);
    put(w, oy, 1, 7, buf, A_NORMAL);
    snprintf(buf, sizeof buf, "%5.1f%%", lo * 100);
    put(w, oy + H - 1, 1, 7, buf, A_NORMAL);
    snprintf(buf, sizeof buf, "epoch 1 .. %d", maxe);
    put(w, oy + H + 1, ox, W, buf, A_NORMAL);
    for (int k = 0; k < n; k++)
        for (int e = 0; e < ne[k]; e++) {
            int cx = maxe > 1 ? e * (W - 1) / (maxe - 1) : 0;
            int cy = (int)((hi - acc[k][e]) / (hi - lo) * (H - 1) + 0.5);
            char c[2] = {(char)('1' + k), 0};
            put(w, oy + cy, ox + cx, 1, c, w->attr[WB_C_TRAINED + (k % 2) * 5]);
        }
}

static void draw_events(wb *w, int y0, int h)
{
    put(w, y0, 1, w->cols - 2, "Event log (newest last; Esc: back)", w->attr[WB_C_TITLE]);
    if (w->view_top < 0 || w->view_top > (int)w->n_events)
        w->view_top = (int)w->n_events - (h - 1);
    draw_lines(w, w->events, w->n_events, y0 + 1, h - 1);
    if (!w->n_events)
        put(w, y0 + 1, 1, w->cols - 2, "(nothing yet)", A_NORMAL);
}

static void draw_bottom(wb *w)
{
    int y = w->lines - 1;
    static const char *labels[] = {"",
                                   "Reject: reason? ",
                                   "Note for line %d: ",
                                   "Steering note for the LLM: ",
                                   "Search: ",
                                   "Go to generation: ",
                                   "",
                                   "Generation not done; force the next one? (y/n) "};
    if (w->prompt == WB_PROMPT_EDIT_RETRY) {
        char buf[700];
        snprintf(buf, sizeof buf, "e: edit again, Esc: cancel | %s", w->edit_err);
        put(w, y, 0, w->cols, buf, w->attr[WB_C_ERROR]);
        return;
    }
    if (w->prompt) {
        char label[64];
        int line = w->diff_cur < (int)w->n_diff ? w->diff[w->diff_cur].newline : 0;
        snprintf(label, sizeof label, labels[w->prompt], line);
        int x = put(w, y, 0, w->cols, label, w->attr[WB_C_TITLE]);
        /* the end of a long answer stays visible */
        const char *t = w->pbuf;
        while (wb_text_width(t) > w->cols - x - 1)
            t++;
        x += put(w, y, x, w->cols - x, t, A_NORMAL);
        move(y, x < w->cols ? x : w->cols - 1);
        return;
    }
    if (w->msg[0]) {
        put(w, y, 0, w->cols, w->msg, w->msg_error ? w->attr[WB_C_ERROR] : A_NORMAL);
        return;
    }
    const char *hint =
        w->view == WB_VIEW_PANES
            ? "?:help a:approve r:reject e:edit c:note R:regen >:next gen Tab:pane q:quit"
            : "Esc: back to the panes  ?: help  q: quit";
    put(w, y, 0, w->cols, hint, w->attr[WB_C_SEP]);
}

void wb_draw(wb *w)
{
    getmaxyx(stdscr, w->lines, w->cols);
    erase();
    if (w->cols < MIN_COLS || w->lines < MIN_LINES) {
        char buf[128];
        int y = w->lines / 2 - 1;
        snprintf(buf, sizeof buf, "terminal too small: %dx%d", w->cols, w->lines);
        put(w, y < 0 ? 0 : y, 0, w->cols, buf, A_BOLD);
        snprintf(buf, sizeof buf, "gevo needs %dx%d; q quits", MIN_COLS, MIN_LINES);
        if (y + 1 < w->lines)
            put(w, y + 1, 0, w->cols, buf, A_NORMAL);
        refresh();
        return;
    }
    draw_status(w);
    bool wide = w->cols >= 120;
    int body = 2, h = w->lines - 3;
    if (w->view != WB_VIEW_PANES) {
        static const char *names[] = {"", "Help", "Pareto front", "Learning curves", "Event log"};
        char t[64];
        snprintf(t, sizeof t, " %s", names[w->view]);
        draw_title(w, 1, 0, w->cols, t, true);
        draw_progress(w, 1, wb_text_width(t) + 2);
        if (w->view == WB_VIEW_HELP)
            draw_help(w, body, h);
        else if (w->view == WB_VIEW_PARETO)
            draw_pareto(w, body, h);
        else if (w->view == WB_VIEW_CURVES)
            draw_curves(w, body, h);
        else
            draw_events(w, body, h);
    } else if (wide) {
        int tw = w->cols >= 160 ? 56 : 40;
        int rest = w->cols - tw - 2;
        int dw = rest * 11 / 20;
        int rw = rest - dw;
        int x = 0;
        bool training = false;
        for (size_t i = 0; i < w->n_inds; i++)
            training |= w->inds[i].state == WB_TRAINING;
        put(w, 1, 0, w->cols, training ? " training:" : " training: none", w->attr[WB_C_SEP]);
        draw_progress(w, 1, 11);
        draw_pane(w, WB_PANE_TREE, body, x, h, tw);
        x += tw;
        for (int y = body; y < body + h; y++)
            put(w, y, x, 1, w->g.vline, w->attr[WB_C_SEP]);
        draw_pane(w, WB_PANE_DIFF, body, x + 1, h, dw);
        x += 1 + dw;
        for (int y = body; y < body + h; y++)
            put(w, y, x, 1, w->g.vline, w->attr[WB_C_SEP]);
        draw_pane(w, WB_PANE_REASON, body, x + 1, h, rw);
    } else {
        static const char *tabs[] = {"1 Population", "2 Diff", "3 Reasoning"};
        int x = 0;
        for (int p = 0; p < WB_NPANES; p++) {
            char t[32];
            snprintf(t, sizeof t, " %s ", tabs[p]);
            x += put(w, 1, x, w->cols - x, t, w->attr[p == w->pane ? WB_C_TAB_ACTIVE : WB_C_TAB]);
            x += put(w, 1, x, 1, " ", A_NORMAL);
        }
        wb_ind *d = wb_selected(w);
        if (d) {
            char t[48];
            snprintf(t, sizeof t, "%s %s", d->id[0] ? d->id : "...", state_label[d->state]);
            x += put(w, 1, x, w->cols - x, t, w->attr[state_color(d)]);
        }
        draw_progress(w, 1, x + 1);
        /* the pane's own title row is the tab bar here */
        if (w->pane == WB_PANE_TREE)
            draw_tree(w, body, 0, h, w->cols, true);
        else if (w->pane == WB_PANE_DIFF)
            draw_diff(w, body, 0, h, w->cols, true);
        else
            draw_reason(w, body, 0, h, w->cols);
    }
    draw_bottom(w);
    if (!w->prompt)
        move(w->lines - 1, w->cols - 1);
    refresh();
}

int wb_dump(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int lines, cols;
    getmaxyx(stdscr, lines, cols);
    if (lines <= 0 || cols <= 0) {
        fclose(f);
        return -1;
    }
    wchar_t *buf = calloc((size_t)cols + 1, sizeof *buf);
    char *out = malloc((size_t)cols * MB_LEN_MAX + 1);
    if (!buf || !out) {
        free(buf);
        free(out);
        fclose(f);
        return -1;
    }
    for (int y = 0; y < lines; y++) {
        int n = mvinnwstr(y, 0, buf, cols);
        size_t o = 0;
        mbstate_t ms;
        memset(&ms, 0, sizeof ms);
        for (int i = 0; i < n && buf[i]; i++) {
            size_t k = wcrtomb(out + o, buf[i], &ms);
            if (k == (size_t)-1)
                out[o++] = '?';
            else
                o += k;
        }
        while (o > 0 && out[o - 1] == ' ')
            o--;
        fwrite(out, 1, o, f);
        fputc('\n', f);
    }
    free(buf);
    free(out);
    return fclose(f) == 0 ? 0 : -1;
}
