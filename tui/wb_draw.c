/* wb_draw: the drawing primitives every view uses and the screen's layout
 * (status line, panes or a full-screen view, bottom line). Nothing here
 * changes data or reads the session; everything is drawn on stdscr, so a
 * dump of stdscr is the whole screen. */
#include <langinfo.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "engine/base/file.h"
#include "engine/base/grow.h"
#include "engine/base/text.h"
#include "tui/wb.h"

#define MIN_COLS  60
#define MIN_LINES 16

static const wb_glyphs glyphs_utf8 = {
    {"◌", "○", "◎", "◑", "●", "✗", "!"}, "★", "│", "─", "▾", "▸", "◆", "█", "░", "·", "▶", "↪"};
static const wb_glyphs glyphs_ascii = {
    {"~", "?", "+", ">", "o", "x", "!"}, "*", "|", "-", "v", ">", "@", "#", ".", ".", ">", "\\"};

static const struct {
    short fg, bg;
    attr_t mono;
} color_table[] = {
#define WB_COLOR_ROW(name, fg, bg, mono) {fg, bg, mono},
    WB_COLORS(WB_COLOR_ROW)};

const char *const wb_state_label[WB_NSTATES] = {"proposing", "pending",  "approved", "training",
                                                "trained",   "rejected", "failed"};

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

/* ---- text --------------------------------------------------------------- */

/* s[0..n) as text.h makes it safe: s itself when it is, else the
 * sanitised copy in w->safe. */
static const char *safe_form(wb *w, const char *s, size_t *n)
{
    if (text_is_safe(s, *n, TEXT_TABS))
        return s;
    strbuf_release(&w->safe); /* also forgets an earlier failure */
    text_sanitize(&w->safe, s, *n, TEXT_TABS);
    if (w->safe.failed) {
        *n = 1;
        return "?";
    }
    *n = w->safe.len;
    return w->safe.buf;
}

/* Length of the (well-formed: sanitised) UTF-8 sequence starting with c. */
static size_t seq_len(unsigned char c)
{
    return c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
}

static void add_cell(wb_cells *c, const char *b, size_t n, int cols, attr_t a)
{
    if (c->failed || ALLOC_GROW(c->v, c->n + 1, c->alloc) != 0) {
        c->failed = true;
        return;
    }
    wb_cell *cell = &c->v[c->n++];
    memcpy(cell->b, b, n);
    cell->n = (unsigned char)n;
    cell->cols = (unsigned char)cols;
    cell->a = a;
    c->cols += cols;
}

/* The cells of the safe text p[0..n): a tab is four spaces; a character
 * this terminal cannot show (no UTF-8, or not printable here) is one '?'. */
static void safe_cells(wb *w, wb_cells *c, const char *p, size_t n, attr_t a)
{
    for (size_t i = 0; i < n;) {
        unsigned char ch = (unsigned char)p[i];
        size_t len = seq_len(ch);
        if (len > n - i)
            len = n - i;
        if (ch == '\t') {
            for (int k = 0; k < 4; k++)
                add_cell(c, " ", 1, 1, a);
            i++;
            continue;
        }
        int cw = 1;
        bool shown = ch < 0x80 || w->utf8;
        if (ch >= 0x80 && w->utf8) {
            mbstate_t ms;
            memset(&ms, 0, sizeof ms);
            wchar_t wc;
            size_t k = mbrtowc(&wc, p + i, len, &ms);
            cw = k == len ? wcwidth(wc) : -1;
            if (cw < 0) {
                shown = false;
                cw = 1;
            }
        }
        if (shown)
            add_cell(c, p + i, len, cw, a);
        else
            add_cell(c, "?", 1, 1, a);
        i += len;
    }
}

void wb_cells_add(wb *w, wb_cells *c, const char *s, size_t n, const unsigned char *marks, attr_t a,
                  attr_t marked)
{
    /* runs of one mark, each made safe on its own: a mark stays on the
       bytes it was given for, whatever their visible form */
    for (size_t i = 0; i < n;) {
        bool m = marks && marks[i];
        size_t j = i + 1;
        while (j < n && (marks && marks[j]) == m)
            j++;
        size_t len = j - i;
        const char *p = safe_form(w, s + i, &len);
        safe_cells(w, c, p, len, m ? marked : a);
        i = j;
    }
}

void wb_cells_reset(wb_cells *c)
{
    c->n = 0;
    c->cols = 0;
    c->failed = false;
}

void wb_cells_release(wb_cells *c)
{
    free(c->v);
    memset(c, 0, sizeof *c);
}

size_t wb_cells_put(const wb_cells *c, size_t from, int y, int x, int width)
{
    int used = 0;
    size_t i = from;
    move(y, x);
    for (; i < c->n; i++) {
        const wb_cell *cell = &c->v[i];
        if (used + cell->cols > width)
            break;
        attrset(cell->a);
        addnstr(cell->b, cell->n);
        used += cell->cols;
    }
    attrset(A_NORMAL);
    return i;
}

int wb_cells_rows(const wb_cells *c, int first, int rest)
{
    int rows = 1, used = 0, width = first;
    for (size_t i = 0; i < c->n; i++) {
        int cw = c->v[i].cols;
        if (used + cw > width && (used > 0 || width <= 0)) {
            rows++;
            used = 0;
            width = rest;
        }
        used += cw;
    }
    return rows;
}

int wb_text_width(wb *w, const char *s)
{
    size_t n = s ? strcspn(s, "\n") : 0;
    wb_cells_reset(&w->cells);
    wb_cells_add(w, &w->cells, s ? s : "", n, NULL, A_NORMAL, A_NORMAL);
    return w->cells.cols;
}

int wb_put(wb *w, int y, int x, int width, const char *s, attr_t a)
{
    if (width <= 0)
        return 0;
    size_t n = s ? strcspn(s, "\n") : 0;
    wb_cells_reset(&w->cells);
    wb_cells_add(w, &w->cells, s ? s : "", n, NULL, a, a);
    size_t end = wb_cells_put(&w->cells, 0, y, x, width);
    int used = 0;
    for (size_t i = 0; i < end; i++)
        used += w->cells.v[i].cols;
    return used;
}

void wb_fill(int y, int x, int width, attr_t a)
{
    attrset(a);
    for (int i = 0; i < width; i++)
        mvaddch(y, x + i, ' ');
    attrset(A_NORMAL);
}

/* v as it is up to 999, then in thousands (k) and millions (M), the
 * millions with mega_digits decimals: parameters 2, token counts 1. */
static void fmt_scaled(char *b, size_t n, long v, int mega_digits)
{
    if (v >= 1000000)
        snprintf(b, n, "%.*fM", mega_digits, v / 1e6);
    else if (v >= 1000)
        snprintf(b, n, "%.1fk", v / 1e3);
    else
        snprintf(b, n, "%ld", v);
}

void wb_fmt_params(char *b, size_t n, long p)
{
    if (p < 0)
        snprintf(b, n, "-");
    else
        fmt_scaled(b, n, p, 2);
}

/* ---- shared pieces ------------------------------------------------------ */

void wb_draw_title(wb *w, int y, int x, int width, const char *title, bool focused)
{
    attr_t a = focused ? w->attr[WB_C_TAB_ACTIVE] : w->attr[WB_C_TAB];
    wb_fill(y, x, width, a);
    wb_put(w, y, x, width, title, a);
}

void wb_draw_lines(wb *w, char **lines, size_t n, int y0, int h)
{
    if (w->view_top > (int)n - h)
        w->view_top = (int)n - h;
    if (w->view_top < 0)
        w->view_top = 0;
    for (int i = 0; i < h && (size_t)(w->view_top + i) < n; i++) {
        const char *l = lines[w->view_top + i];
        attr_t a = l[0] && l[0] != ' ' ? w->attr[WB_C_TITLE] : A_NORMAL;
        wb_put(w, y0 + i, 1, w->cols - 2, l, a);
    }
}

void wb_draw_progress(wb *w, int y, int x)
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
        x += wb_put(w, y, x, w->cols - x, any ? "  " : " ", A_NORMAL);
        snprintf(buf, sizeof buf, "%s ", d->id);
        x += wb_put(w, y, x, w->cols - x, buf, w->attr[WB_C_TRAINING]);
        int filled = pct * 8 / 100;
        for (int b = 0; b < 8; b++)
            x += wb_put(w, y, x, w->cols - x, b < filled ? w->g.bar_full : w->g.bar_empty,
                        w->attr[WB_C_TRAINING]);
        snprintf(buf, sizeof buf, "%3d%%", pct);
        x += wb_put(w, y, x, w->cols - x, buf, A_NORMAL);
        any = 1;
    }
}

void wb_draw_axes(wb *w, const wb_area *plot, double lo, double hi)
{
    char buf[32];
    for (int r = 0; r < plot->h; r++)
        wb_put(w, plot->y + r, plot->x - 1, 1, w->g.vline, w->attr[WB_C_SEP]);
    for (int c = 0; c < plot->w; c++)
        wb_put(w, plot->y + plot->h, plot->x + c, 1, w->g.hline, w->attr[WB_C_SEP]);
    snprintf(buf, sizeof buf, "%5.1f%%", hi * 100);
    wb_put(w, plot->y, 1, 7, buf, A_NORMAL);
    snprintf(buf, sizeof buf, "%5.1f%%", lo * 100);
    wb_put(w, plot->y + plot->h - 1, 1, 7, buf, A_NORMAL);
}

void wb_draw_params_axes(wb *w, const wb_area *plot, double *xmin, double *xmax, double *ymin,
                         double *ymax)
{
    if (*xmax - *xmin < 1e-9) {
        *xmin -= 0.5;
        *xmax += 0.5;
    }
    if (*ymax - *ymin < 1e-9) {
        *ymin -= 0.01;
        *ymax += 0.01;
    }
    wb_draw_axes(w, plot, *ymin, *ymax);
    char p1[16], p2[16];
    wb_fmt_params(p1, sizeof p1, (long)pow(10, *xmin));
    wb_fmt_params(p2, sizeof p2, (long)pow(10, *xmax));
    int y = plot->y + plot->h + 1;
    wb_put(w, y, plot->x, 12, p1, A_NORMAL);
    wb_put(w, y, plot->x + plot->w - (int)strlen(p2), 12, p2, A_NORMAL);
}

int wb_scroll_to(int top, int cur, int h)
{
    if (cur < top)
        top = cur;
    if (cur >= top + h)
        top = cur - h + 1;
    return top < 0 ? 0 : top;
}

int wb_clamp_add(int v, int delta, int lo, int hi)
{
    long r = (long)v + delta;
    return r < lo ? lo : r > hi ? hi : (int)r;
}

/* ---- the screen --------------------------------------------------------- */

static void draw_status(wb *w)
{
    char buf[512], tok[16], tok2[16];
    const evolve_status *st = &w->st;
    wb_fill(0, 0, w->cols, w->attr[WB_C_STATUS]);
    char gen[64];
    if (w->view_gen != w->last_gen)
        snprintf(gen, sizeof gen, "gen %d (viewing %d)", w->last_gen, w->view_gen);
    else
        snprintf(gen, sizeof gen, "gen %d", w->last_gen);
    const char *sep = w->utf8 ? " │ " : " | ";
    /* the LLM usage is the session's total, whichever process spent it */
    long t_in = w->ev ? st->tokens_in : w->totals.tokens_in;
    long t_out = w->ev ? st->tokens_out : w->totals.tokens_out;
    long reqs = w->ev ? st->requests : w->totals.requests;
    double usd = w->ev ? st->cost : w->totals.cost_usd;
    fmt_scaled(tok, sizeof tok, t_in, 1);
    fmt_scaled(tok2, sizeof tok2, t_out, 1);
    char cost[96] = "";
    if (t_in + t_out > 0 || reqs > 0)
        snprintf(cost, sizeof cost, "%s/%s tokens $%.2f %ld request%s%s", tok, tok2, usd, reqs,
                 reqs == 1 ? "" : "s", sep);
    if (!w->ev) {
        snprintf(buf, sizeof buf, " gevo %s%s%s%s%shistory only: %s", w->name, sep, gen, sep, cost,
                 w->msg_error ? "see message" : "read-only session");
        wb_put(w, 0, 0, w->cols, buf, w->attr[WB_C_STATUS]);
        return;
    }
    /* why evolution cannot go on by itself (a refused key, a spent
       budget...) takes the place of the LLM's name */
    char stopped[sizeof st->stop_cause + 16];
    snprintf(stopped, sizeof stopped, "stopped: %s", st->stop_cause);
    const char *who = st->stop_cause[0] ? stopped : st->llm;
    /* the noise every accuracy is read against, and promotions training */
    char noise[64] = "";
    if (st->noise_seeds && st->noise_runs < st->noise_seeds)
        snprintf(noise, sizeof noise, "%snoise %d/%d", sep, st->noise_runs, st->noise_seeds);
    else if (isfinite(st->noise_std))
        snprintf(noise, sizeof noise, "%snoise ±%.1f", sep, 100 * st->noise_std);
    if (st->promoting)
        snprintf(noise + strlen(noise), sizeof noise - strlen(noise), " promoting %d",
                 st->promoting);
    snprintf(buf, sizeof buf,
             " gevo %s%s%s%s%d pending %d training %d trained %d rejected %d failed%s%s%s%s",
             w->name, sep, gen, sep, st->pending, st->training + st->approved, st->trained,
             st->rejected, st->failed, noise, sep, cost, who);
    if (wb_text_width(w, buf) > w->cols) {
        /* narrow: one token count, the price only when there is one */
        char all[16], price[24] = "";
        fmt_scaled(all, sizeof all, t_in + t_out, 1);
        if (usd > 0)
            snprintf(price, sizeof price, " $%.2f", usd);
        if (t_in + t_out > 0 || reqs > 0)
            snprintf(cost, sizeof cost, "%s tok%s %ld req%s", all, price, reqs, sep);

        for (int k = 0; k < 2; k++) {
            snprintf(buf, sizeof buf, " %s%s%d pend %d train %d done %d rej %d fail%s%s%s%s", gen,
                     sep, st->pending, st->training + st->approved, st->trained, st->rejected,
                     st->failed, noise, sep, cost, who);
            if (wb_text_width(w, buf) <= w->cols || st->stop_cause[0] || strncmp(who, "no LLM", 6))
                break;
            who = "no LLM"; /* the offline proposer's label, short */
        }
    }
    wb_put(w, 0, 0, w->cols, buf, w->attr[WB_C_STATUS]);
}

static void draw_bottom(wb *w)
{
    int y = w->lines - 1;
    static const char *labels[] = {"",
                                   "Reject: reason? ",
                                   "Note: ",
                                   "Steering note for the LLM: ",
                                   "Search: ",
                                   "Go to generation: ",
                                   "",
                                   "Generation not done; force the next one? (y/n) ",
                                   "Export to the folder: "};
    if (w->prompt == WB_PROMPT_EDIT_RETRY) {
        char buf[GERR_MSG_MAX + 64];
        snprintf(buf, sizeof buf, "e: edit again, Esc: cancel | %s", w->edit_err);
        wb_put(w, y, 0, w->cols, buf, w->attr[WB_C_ERROR]);
        return;
    }
    if (w->prompt) {
        char label[96];
        bool old;
        int line;
        if (w->prompt == WB_PROMPT_ANNOTATE && wb_note_anchor(w, &old, &line))
            snprintf(label, sizeof label,
                     !line ? "Note on the whole genome: "
                     : old ? "Note for the parent's line %d (removed): "
                           : "Note for line %d: ",
                     line);
        else
            snprintf(label, sizeof label, "%s", labels[w->prompt]);
        int x = wb_put(w, y, 0, w->cols, label, w->attr[WB_C_TITLE]);
        /* the end of a long answer stays visible */
        const char *t = w->pbuf;
        while (*t && wb_text_width(w, t) > w->cols - x - 1)
            t++;
        x += wb_put(w, y, x, w->cols - x, t, A_NORMAL);
        move(y, x < w->cols ? x : w->cols - 1);
        return;
    }
    if (w->msg[0]) {
        wb_put(w, y, 0, w->cols, w->msg, w->msg_error ? w->attr[WB_C_ERROR] : A_NORMAL);
        return;
    }
    const char *hint =
        w->full < 0 ? "?:help a:approve r:reject e:edit c:note R:regen >:next gen Tab:pane q:quit"
                    : "Esc: back to the panes  ?: help  q: quit";
    wb_put(w, y, 0, w->cols, hint, w->attr[WB_C_SEP]);
}

static void draw_view(wb *w, int view, const wb_area *a, bool focused)
{
    w->areas[view] = *a;
    if (wb_views[view]->draw)
        wb_views[view]->draw(w, a, focused);
}

static void draw_full(wb *w, int body, int h)
{
    char t[64];
    snprintf(t, sizeof t, " %s", wb_views[w->full]->title);
    wb_draw_title(w, 1, 0, w->cols, t, true);
    wb_draw_progress(w, 1, wb_text_width(w, t) + 2);
    draw_view(w, w->full, &(wb_area){body, 0, h, w->cols, false}, true);
}

/* Three panes side by side, each under its own title. */
static void draw_wide(wb *w, int body, int h)
{
    int tw = w->cols >= 160 ? 56 : 40;
    int rest = w->cols - tw - 2;
    int dw = rest * 11 / 20;
    int rw = rest - dw;
    bool training = false;
    for (size_t i = 0; i < w->n_inds; i++)
        training |= w->inds[i].state == WB_TRAINING;
    wb_put(w, 1, 0, w->cols, training ? " training:" : " training: none", w->attr[WB_C_SEP]);
    wb_draw_progress(w, 1, 11);
    int widths[WB_NPANES] = {tw, dw, rw}, x = 0;
    for (int p = 0; p < WB_NPANES; p++) {
        if (p > 0) {
            for (int y = body; y < body + h; y++)
                wb_put(w, y, x, 1, w->g.vline, w->attr[WB_C_SEP]);
            x++;
        }
        draw_view(w, p, &(wb_area){body, x, h, widths[p], true}, w->pane == p);
        x += widths[p];
    }
}

/* One pane at a time under a tab bar; the pane's title row is the tab. */
static void draw_narrow(wb *w, int body, int h)
{
    static const char *tabs[] = {"1 Population", "2 Diff", "3 Reasoning"};
    int x = 0;
    for (int p = 0; p < WB_NPANES; p++) {
        char t[32];
        w->tab_x[p] = x;
        snprintf(t, sizeof t, " %s ", tabs[p]);
        x += wb_put(w, 1, x, w->cols - x, t, w->attr[p == w->pane ? WB_C_TAB_ACTIVE : WB_C_TAB]);
        x += wb_put(w, 1, x, 1, " ", A_NORMAL);
    }
    w->tab_x[WB_NPANES] = x;
    wb_ind *d = wb_selected(w);
    if (d) {
        char t[48];
        snprintf(t, sizeof t, "%s %s",
                 d->id[0]       ? d->id
                 : d->failed[0] ? d->failed
                                : "...",
                 wb_state_label[d->state]);
        x += wb_put(w, 1, x, w->cols - x, t, w->attr[WB_C_PROPOSING + (int)d->state]);
    }
    wb_draw_progress(w, 1, x + 1);
    draw_view(w, w->pane, &(wb_area){body, 0, h, w->cols, false}, true);
}

void wb_draw(wb *w)
{
    getmaxyx(stdscr, w->lines, w->cols);
    erase();
    if (w->cols < MIN_COLS || w->lines < MIN_LINES) {
        char buf[128];
        int y = w->lines / 2 - 1;
        snprintf(buf, sizeof buf, "terminal too small: %dx%d", w->cols, w->lines);
        wb_put(w, y < 0 ? 0 : y, 0, w->cols, buf, A_BOLD);
        snprintf(buf, sizeof buf, "gevo needs %dx%d; q quits", MIN_COLS, MIN_LINES);
        if (y + 1 < w->lines)
            wb_put(w, y + 1, 0, w->cols, buf, A_NORMAL);
        refresh();
        return;
    }
    draw_status(w);
    memset(w->areas, 0, sizeof w->areas);
    memset(w->tab_x, 0, sizeof w->tab_x);
    int body = 2, h = w->lines - 3;
    if (w->full >= 0)
        draw_full(w, body, h);
    else if (w->zoom) /* the focused pane, under its title, over the whole body */
        draw_view(w, w->pane, &(wb_area){1, 0, h + 1, w->cols, true}, true);
    else if (w->cols >= 120)
        draw_wide(w, body, h);
    else
        draw_narrow(w, body, h);
    draw_bottom(w);
    if (!w->prompt)
        move(w->lines - 1, w->cols - 1);
    refresh();
}

int wb_dump(const char *path, gerr *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return gerr_errno(err, "%s: cannot write the screen", path);
    int lines, cols;
    getmaxyx(stdscr, lines, cols);
    wchar_t *buf = calloc((size_t)(cols > 0 ? cols : 1) + 1, sizeof *buf);
    char *out = malloc((size_t)(cols > 0 ? cols : 1) * MB_LEN_MAX + 1);
    if (!buf || !out || lines <= 0 || cols <= 0) {
        free(buf);
        free(out);
        fclose(f);
        return gerr_set(err, "%s: no screen to write (%dx%d)", path, cols, lines);
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
    if (fclose(f) != 0)
        return gerr_errno(err, "%s: cannot write the screen", path);
    return 0;
}

static const char *const color_names[] = {
#define WB_COLOR_NAME(name, fg, bg, mono) #name,
    WB_COLORS(WB_COLOR_NAME)};

/* The style of a run: its colour element (colour screens), then its
 * attributes: "DIFF_ADD_WORD,bold", "underline,bold" (monochrome). */
static void style_name(attr_t a, short pair, strbuf *sb)
{
    bool any = false;
    if (pair > 0 && pair - 1 < WB_C_COUNT) {
        strbuf_addstr(sb, color_names[pair - 1]);
        any = true;
    }
    static const struct {
        attr_t a;
        const char *name;
    } names[] = {
        {A_REVERSE, "reverse"}, {A_UNDERLINE, "underline"}, {A_BOLD, "bold"}, {A_DIM, "dim"}};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (a & names[i].a) {
            strbuf_addf(sb, "%s%s", any ? "," : "", names[i].name);
            any = true;
        }
}

int wb_dump_attrs(const char *path, gerr *err)
{
    int lines, cols;
    getmaxyx(stdscr, lines, cols);
    strbuf out = STRBUF_INIT, run = STRBUF_INIT;
    for (int y = 0; y < lines; y++) {
        attr_t cur_a = 0;
        short cur_p = 0;
        bool open = false;
        strbuf_addf(&out, "%d:", y);
        for (int x = 0; x <= cols; x++) {
            cchar_t cc;
            wchar_t wch[CCHARW_MAX + 1] = {0};
            attr_t a = 0;
            short pair = 0;
            bool end = x == cols || mvin_wch(y, x, &cc) == ERR ||
                       getcchar(&cc, wch, &a, &pair, NULL) == ERR;
            a &= A_ATTRIBUTES & ~A_COLOR;
            if (end || !open || a != cur_a || pair != cur_p) {
                if (open && (cur_a || cur_p)) {
                    strbuf_addstr(&out, " {");
                    style_name(cur_a, cur_p, &out);
                    strbuf_addf(&out, " \"%s\"}", run.buf);
                }
                strbuf_reset(&run);
                open = !end;
                cur_a = a;
                cur_p = pair;
            }
            if (end)
                break;
            char mb[MB_LEN_MAX * (CCHARW_MAX + 1)];
            mbstate_t ms;
            memset(&ms, 0, sizeof ms);
            for (int k = 0; k < CCHARW_MAX && wch[k]; k++) {
                size_t n = wcrtomb(mb, wch[k], &ms);
                if (n != (size_t)-1)
                    strbuf_add(&run, mb, n);
            }
        }
        strbuf_addch(&out, '\n');
    }
    strbuf_release(&run);
    int rc = out.failed ? gerr_set(err, "%s: out of memory", path)
                        : file_write(path, out.buf, out.len, err);
    strbuf_release(&out);
    return rc;
}
