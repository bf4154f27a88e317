/* wb: the workbench's internals, shared by tui/wb_*.c and tui/view_*.c
 * (the public entry is tui/workbench.h). One struct wb holds the whole UI
 * state; the evolve object (core/evolve.h) owns the live generation, the
 * session owns the history. The UI holds no evolution logic: keys become
 * requests, requests become evolve_* calls.
 *
 * Layers inside the workbench: the data layer (wb_data.c, wb_detail.c)
 * reads the session and evolve into plain structs when the session or the
 * selection changes; the views (view_*.c, one table of functions each, as
 * tig's view_ops) draw from those structs only and never read the session;
 * wb_actions.c turns requests into evolve calls.
 *
 * Requests: one X-macro list (WB_REQ_INFO) generates the enum, the names
 * and the help screen, so help never drifts from the keys. Codes start at
 * KEY_MAX + 1 so they never collide with ncurses keys.
 *
 * Errors follow the gerr convention (engine/base/error.h); a message for
 * the researcher goes to the bottom line through wb_msg. */
#ifndef GEVO_TUI_WB_H
#define GEVO_TUI_WB_H

#include <curses.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/evolve.h"
#include "core/report.h"
#include "engine/base/error.h"
#include "engine/base/strbuf.h"
#include "sessions/session.h"

#define WB_REQ_INFO(GROUP, REQ)                                                              \
    GROUP("Moving around")                                                                   \
    REQ(MOVE_UP, "move-up", "select the previous line (scroll up in diff/reasoning)")        \
    REQ(MOVE_DOWN, "move-down", "select the next line (scroll down in diff/reasoning)")      \
    REQ(PAGE_UP, "page-up", "one page up")                                                   \
    REQ(PAGE_DOWN, "page-down", "one page down")                                             \
    REQ(MOVE_FIRST, "move-first", "first line")                                              \
    REQ(MOVE_LAST, "move-last", "last line")                                                 \
    REQ(NEXT_PANE, "next-pane", "focus the next pane (tree, diff, reasoning)")               \
    REQ(PREV_PANE, "prev-pane", "focus the previous pane")                                   \
    REQ(PANE_TREE, "pane-tree", "focus the population tree")                                 \
    REQ(PANE_DIFF, "pane-diff", "focus the diff")                                            \
    REQ(PANE_REASON, "pane-reasoning", "focus the reasoning")                                \
    GROUP("Population tree")                                                                 \
    REQ(TOGGLE_FOLD, "toggle-fold", "collapse or expand the generation")                     \
    REQ(FOLD, "fold", "collapse the generation (side-by-side diff: the old side)")           \
    REQ(UNFOLD, "unfold", "expand the generation (side-by-side diff: the new side)")         \
    REQ(FILTER_PENDING, "filter-pending", "show only proposals pending review (toggle)")     \
    REQ(FILTER_FRONT, "filter-front", "show only the Pareto front (toggle)")                 \
    REQ(SEARCH, "search", "search ids, operators, personas, messages")                       \
    REQ(SEARCH_NEXT, "search-next", "next match")                                            \
    REQ(SEARCH_PREV, "search-prev", "previous match")                                        \
    REQ(MARK, "mark", "mark the individual (learning curves; D compares with it)")           \
    GROUP("Review")                                                                          \
    REQ(APPROVE, "approve", "approve the proposal (it is queued for training)")              \
    REQ(APPROVE_ALL, "approve-all", "approve every proposal pending review")                 \
    REQ(REJECT, "reject", "reject the proposal with a reason (the LLM is told)")             \
    REQ(EDIT, "edit", "edit the genome in $EDITOR (validated before it is kept)")            \
    REQ(ANNOTATE, "annotate", "annotate the cursor's diff line (added, removed or context)") \
    REQ(REGENERATE, "regenerate", "ask again (steering note); a failed one in its slot")     \
    REQ(CANCEL, "cancel-training", "cancel the training of the individual")                  \
    REQ(EXPORT, "export-torch", "export the individual to PyTorch (asks for the folder)")    \
    GROUP("Generations")                                                                     \
    REQ(NEXT_GENERATION, "next-generation", "select survivors, start the next generation")   \
    REQ(GEN_BACK, "generation-back", "step back one generation (as it was)")                 \
    REQ(GEN_FORWARD, "generation-forward", "step forward one generation")                    \
    REQ(GOTO_GEN, "goto-generation", "go to generation N")                                   \
    GROUP("Diff")                                                                            \
    REQ(HUNK_NEXT, "hunk-next", "the cursor to the next hunk")                               \
    REQ(HUNK_PREV, "hunk-prev", "the cursor to the start of the hunk, or the one before")    \
    REQ(DIFF_SPLIT, "diff-split", "side by side or unified (side by side from 140 columns)") \
    REQ(ZOOM, "zoom", "the focused pane over the whole screen, and back")                    \
    REQ(DIFF_MODE, "diff-mode", "diff against the parent or the researcher's edit")          \
    REQ(DIFF_MARKED, "diff-marked", "diff against the marked individual (m), and back")      \
    GROUP("Views")                                                                           \
    REQ(VIEW_LINEAGE, "view-lineage", "ancestors back to the seed, step by step")            \
    REQ(TOGGLE_PROMPT, "toggle-prompt", "show the prompt instead of the reasoning")          \
    REQ(VIEW_PARETO, "view-pareto", "Pareto front: accuracy vs. parameters")                 \
    REQ(VIEW_CURVES, "view-curves", "learning curves of the marked (or selected) ones")      \
    REQ(VIEW_EVENTS, "view-events", "event log")                                             \
    REQ(VIEW_STATS, "view-stats", "proposals per persona, model, operator (gevo stats)")     \
    REQ(VIEW_REPORT, "view-report", "result table (gevo report) and the confirmed front")    \
    REQ(VIEW_HELP, "view-help", "this help")                                                 \
    REQ(VIEW_CLOSE, "view-close", "close the view or help, back to the panes")               \
    REQ(REDRAW, "redraw", "redraw the screen")                                               \
    REQ(QUIT, "quit", "quit; nothing is lost, trainings go on")

#define WB_REQ_ENUM(id, name, help) WB_REQ_##id,
#define WB_GROUP_NONE(title)
enum wb_request {
    WB_REQ_NONE = KEY_MAX + 1,
    WB_REQ_INFO(WB_GROUP_NONE, WB_REQ_ENUM) WB_REQ_END
};

/* The request bound to key, WB_REQ_NONE if none. */
int wb_key_request(int key);
/* "a", "<Down>", "^L": a key as the help screen and scripts write it. */
const char *wb_key_name(int key, char *buf, size_t size);
/* A key from a script token ("<Down>", "a"); -1 if unknown. */
int wb_key_parse(const char *tok, size_t len);
const char *wb_request_name(int req);
/* The help screen's lines (malloc'd array of malloc'd strings); NULL with
 * *n == 0 when out of memory. */
char **wb_help_lines(size_t *n);

/* States in evolve's order, so an evolve_state converts directly. */
typedef enum wb_state {
    WB_PROPOSING,
    WB_PENDING,
    WB_APPROVED,
    WB_TRAINING,
    WB_TRAINED,
    WB_REJECTED,
    WB_FAILED,
    WB_NSTATES
} wb_state;
/* wb_data.c converts by a cast: a state added to one enum and not the other
 * stops the build here. */
_Static_assert(WB_PROPOSING == (int)EVOLVE_PROPOSING && WB_PENDING == (int)EVOLVE_PENDING &&
                   WB_APPROVED == (int)EVOLVE_APPROVED && WB_TRAINING == (int)EVOLVE_TRAINING &&
                   WB_TRAINED == (int)EVOLVE_TRAINED && WB_REJECTED == (int)EVOLVE_REJECTED &&
                   WB_FAILED == (int)EVOLVE_FAILED && WB_NSTATES == EVOLVE_NSTATES,
               "wb_state must list the evolve_states in evolve's order");

typedef struct wb_ind {
    char id[SESSION_ID_MAX]; /* "" while proposing */
    int slot, generation;
    wb_state state;
    char op[32], persona[48];
    char parents[2][SESSION_ID_MAX];
    int n_parents;
    double progress, val_acc;
    int rung; /* of val_acc: 0 screening, higher a promotion (core/rungs.h) */
    long params;
    bool on_front, survivor, edited, live;
    char *message;               /* owned */
    char failed[SESSION_ID_MAX]; /* a failed proposal's record (gN-fK), else "" */
} wb_ind;

/* One line of the tree pane: a generation header or an individual. */
typedef struct wb_row {
    int gen;
    int ind; /* index into wb.inds, -1 for the header */
} wb_row;

/* A line of the diff pane, parsed from the unified diff. Content lines
 * (context, removed, added) keep their text without the sign and carry
 * their line numbers in the old and the new genome; words marks the bytes
 * of the words that changed (wb_words.c). */
enum wb_dtype {
    WB_D_TEXT, /* a title, a message, an error: kind says its colour */
    WB_D_HEAD, /* --- a/genome.net, +++ b/genome.net */
    WB_D_HUNK, /* @@ -7,7 +7,7 @@ */
    WB_D_CTX,
    WB_D_DEL,
    WB_D_ADD
};
typedef struct wb_dline {
    char *text;             /* owned */
    unsigned char *words;   /* owned or NULL: 1 per byte of text in a changed word */
    int type;               /* enum wb_dtype */
    int kind;               /* WB_C_* colour element */
    int old_line, new_line; /* in the old and the new genome, 0 if none */
    int hunk;               /* index of the hunk's @@ line, -1 before the first */
    int part;               /* which diff: 0, or 1 for a crossover's second parent */
} wb_dline;

/* An annotation as the diff pane shows it: under the line it is anchored
 * to (at, a wb_dline index; -1: about the whole genome, at the top). */
typedef struct wb_note {
    bool old;   /* anchored to a line of the old genome (a removed line) */
    int line;   /* 0: the whole genome */
    char *text; /* owned */
    int at;
} wb_note;

/* A row of the side-by-side diff: the wb_dline on each side, -1 for
 * none; a line that is not content (a title, @@) is both. */
typedef struct wb_srow {
    int left, right;
} wb_srow;

/* One learning curve of the curves view, read from a result note. */
#define WB_CURVES_MAX 9
#define WB_EPOCHS_MAX 64
typedef struct wb_curve {
    char id[SESSION_ID_MAX];
    double acc[WB_EPOCHS_MAX];
    int n; /* epochs with a validation accuracy; 0: no curve yet */
} wb_curve;

/* A step of the lineage view: an ancestor and what it changed against
 * its first parent. */
typedef struct wb_step {
    char id[SESSION_ID_MAX];
    int gen;
    char op[32], persona[48];
    char parents[2][SESSION_ID_MAX];
    int n_parents;
    double val_acc, parent_acc; /* -1 unknown */
    long params, parent_params; /* -1 unknown */
} wb_step;

/* Semantic colour elements: name, foreground, background, attribute
 * without colour (NO_COLOR, monochrome terminals). */
#define WB_COLORS(C)                                               \
    C(NORMAL, -1, -1, A_NORMAL)                                    \
    C(STATUS, COLOR_BLACK, COLOR_CYAN, A_REVERSE)                  \
    C(TITLE, COLOR_CYAN, -1, A_BOLD)                               \
    C(CURSOR, COLOR_BLACK, COLOR_GREEN, A_REVERSE)                 \
    C(CURSOR_DIM, COLOR_WHITE, COLOR_BLUE, A_UNDERLINE)            \
    C(GEN, COLOR_YELLOW, -1, A_BOLD)                               \
    C(PROPOSING, COLOR_MAGENTA, -1, A_DIM)                         \
    C(PENDING, COLOR_YELLOW, -1, A_BOLD)                           \
    C(APPROVED, COLOR_CYAN, -1, A_NORMAL)                          \
    C(TRAINING, COLOR_CYAN, -1, A_BOLD)                            \
    C(TRAINED, COLOR_GREEN, -1, A_NORMAL)                          \
    C(REJECTED, COLOR_RED, -1, A_DIM)                              \
    C(FAILED, COLOR_RED, -1, A_BOLD)                               \
    C(FRONT, COLOR_YELLOW, -1, A_BOLD)                             \
    C(DIFF_ADD, COLOR_GREEN, -1, A_BOLD)                           \
    C(DIFF_DEL, COLOR_RED, -1, A_NORMAL)                           \
    C(DIFF_HUNK, COLOR_CYAN, -1, A_NORMAL)                         \
    C(DIFF_HEAD, COLOR_YELLOW, -1, A_BOLD)                         \
    C(NOTE, COLOR_MAGENTA, -1, A_UNDERLINE)                        \
    C(ERROR, COLOR_WHITE, COLOR_RED, A_REVERSE)                    \
    C(SEP, COLOR_BLUE, -1, A_NORMAL)                               \
    C(TAB, COLOR_WHITE, COLOR_BLUE, A_NORMAL)                      \
    C(TAB_ACTIVE, COLOR_BLACK, COLOR_YELLOW, A_REVERSE)            \
    C(DIFF_ADD_WORD, COLOR_BLACK, COLOR_GREEN, A_REVERSE | A_BOLD) \
    C(DIFF_DEL_WORD, COLOR_WHITE, COLOR_RED, A_UNDERLINE | A_BOLD) \
    C(LINENO, COLOR_BLUE, -1, A_NORMAL)

#define WB_COLOR_ENUM(name, fg, bg, mono) WB_C_##name,
enum {
    WB_COLORS(WB_COLOR_ENUM) WB_C_COUNT
};

/* Glyphs: UTF-8 or ASCII, chosen once from the locale and TERM. */
typedef struct wb_glyphs {
    const char *state[WB_NSTATES];
    const char *front, *vline, *hline, *open, *closed, *mark, *bar_full, *bar_empty, *dot;
    const char *cursor, *wrap; /* the line cursor; the start of a wrapped line's next row */
} wb_glyphs;

/* The views: the three panes first (the focus moves between them), then
 * the full-screen views. Each is a table of functions in its own file. */
#define WB_VIEWS(V)     \
    V(TREE, tree)       \
    V(DIFF, diff)       \
    V(REASON, reason)   \
    V(HELP, help)       \
    V(PARETO, pareto)   \
    V(CURVES, curves)   \
    V(EVENTS, events)   \
    V(LINEAGE, lineage) \
    V(STATS, stats)     \
    V(REPORT, report)
#define WB_VIEW_ENUM(ID, name) WB_VIEW_##ID,
enum wb_view_id {
    WB_VIEWS(WB_VIEW_ENUM) WB_NVIEWS
};
#define WB_NPANES     3 /* tree, diff, reasoning */
/* The diff is side by side by default from this many columns on. */
#define WB_SPLIT_COLS 140

typedef struct wb wb;

/* A line laid out for the screen: one cell per character of its safe
 * form (engine/base/text.h), each with its attribute, so it can be cut
 * into rows (wrapped) and drawn a row at a time. */
typedef struct wb_cell {
    char b[4];
    unsigned char n, cols; /* bytes, columns (0 for a combining mark) */
    attr_t a;
} wb_cell;
typedef struct wb_cells {
    wb_cell *v;
    size_t n, alloc;
    int cols; /* of all cells */
    bool failed;
} wb_cells;

/* Where a view is drawn; with titled, its first row is the view's title
 * bar (a pane in the narrow layout has the tab bar instead). */
typedef struct wb_area {
    int y, x, h, w;
    bool titled;
} wb_area;

/* A view as tig's view_ops: open/close when it is shown and left, load
 * when the selection or the session changes (reading the session into
 * struct wb), draw (from struct wb only: no session, no JSON), request
 * (first refusal of every request while the view has the focus), click
 * (the mouse). Any may be NULL. */
typedef struct wb_view_ops {
    const char *name;  /* "tree", "diff", ... */
    const char *title; /* the full-screen title; panes title themselves */
    void (*open)(wb *w);
    void (*close)(wb *w);
    void (*load)(wb *w);
    void (*draw)(wb *w, const wb_area *a, bool focused);
    int (*request)(wb *w, int req); /* redraw flags, or WB_UNHANDLED */
    /* a click on row, col of the view's area (its title row is row 0
     * when titled); redraw flags */
    int (*click)(wb *w, const wb_area *a, int row, int col);
} wb_view_ops;

/* A view's table, at the end of its file as tig's DEFINE_VIEW: its name
 * (as in WB_VIEWS), the full-screen title (NULL for a pane), then the
 * functions it has, by field: DEFINE_VIEW(help, "Help", .draw = help_draw). */
#define DEFINE_VIEW(name_, title_, ...) \
    const wb_view_ops wb_view_##name_ = {.name = #name_, .title = title_, __VA_ARGS__}
#define WB_VIEW_DECL(ID, name) extern const wb_view_ops wb_view_##name;
WB_VIEWS(WB_VIEW_DECL)
/* Every view by id (wb_views.c). */
extern const wb_view_ops *const wb_views[WB_NVIEWS];

enum wb_prompt {
    WB_PROMPT_NONE,
    WB_PROMPT_REJECT,
    WB_PROMPT_ANNOTATE,
    WB_PROMPT_REGENERATE,
    WB_PROMPT_SEARCH,
    WB_PROMPT_GOTO,
    WB_PROMPT_EDIT_RETRY,
    WB_PROMPT_NEXT_FORCE,
    WB_PROMPT_EXPORT
};

/* Redraw flags returned by actions (htop style): the loop decides. */
enum {
    WB_OK = 0,
    WB_REDRAW = 1,
    WB_RELOAD = 2,
    WB_DETAIL = 4,
    WB_QUIT = 8,
    WB_UNHANDLED = 16 /* a view's request: not mine, ask the next */
};

struct wb {
    session *s;
    evolve *ev;    /* NULL: history only (read-only session) */
    char name[64]; /* the session folder's base name */
    /* drawing */
    bool utf8, color;
    wb_glyphs g;
    attr_t attr[WB_C_COUNT];
    int lines, cols;
    strbuf safe;    /* scratch: the sanitised text being drawn */
    wb_cells cells; /* scratch: wb_put's cells */
    /* data */
    session_info *hist; /* session_list, cached until hist_dirty */
    size_t n_hist;
    session_failed_info *hist_failed; /* session_failed_list, as hist */
    size_t n_hist_failed;
    session_totals totals; /* the session's LLM totals, as hist (evolve's when live) */
    wb_ind *inds;
    size_t n_inds, alloc_inds;
    int live_gen;  /* the generation evolve is building, -1 none */
    int view_gen;  /* the last generation shown */
    int last_gen;  /* highest generation known */
    char **fronts; /* per generation, " id id " from the journal */
    char **pops;   /* per generation, " id id " (survivors) */
    int n_journal;
    bool hist_dirty;
    evolve_status st;
    noise_info noise;              /* the session's noise measurement (refs/notes/noise) */
    report report;                 /* the result table (core/report.h), loaded by its view */
    char report_err[GERR_MSG_MAX]; /* why there is none ("" when there is) */
    /* tree */
    wb_row *rows;
    size_t n_rows, alloc_rows;
    int sel, top;
    char sel_id[SESSION_ID_MAX];
    int sel_slot;
    unsigned char *folded; /* per generation */
    int n_folded;
    size_t alloc_folded;
    bool only_pending, only_front;
    char search[128];
    char **marks;
    size_t n_marks, alloc_marks;
    /* detail of the selection */
    char detail_id[SESSION_ID_MAX];
    wb_dline *diff;
    size_t n_diff, alloc_diff;
    wb_note *notes;
    size_t n_notes, alloc_notes;
    wb_srow *srows; /* the side-by-side rows of diff */
    size_t n_srows, alloc_srows;
    bool diff_sides; /* the diff has an old side (a genome alone has not) */
    int diff_cur;    /* the cursor: a wb_dline index */
    int diff_top;    /* the first line or row shown */
    bool diff_old;   /* side by side: the cursor is on the old side */
    int diff_split;  /* -1 by width (side by side from WB_SPLIT_COLS), 0 unified, 1 split */
    int diff_width;  /* the columns the diff was last drawn in */
    bool zoom;       /* the focused pane has the whole body */
    int diff_mode;   /* 0 parents, 1 the researcher's edit, 2 against the marked one */
    char diff_against[SESSION_ID_MAX]; /* mode 2: the marked individual */
    char *reason_text;                 /* owned: the reasoning pane's text */
    char *live_text;                   /* streamed reasoning seen last */
    int reason_top;
    bool show_prompt;
    /* the full-screen views' data */
    wb_curve curves[WB_CURVES_MAX];
    int n_curves;
    char **help;
    size_t n_help;
    char lineage_of[SESSION_ID_MAX]; /* "" when nothing is selected */
    wb_step *lineage;                /* the individual first, the seed last */
    size_t n_lineage, alloc_lineage;
    char **stats; /* the stats view's lines (core/stats.h's table) */
    size_t n_stats;
    /* views */
    int pane; /* the focused pane: a view id below WB_NPANES */
    int full; /* the full-screen view shown, -1: the panes */
    int view_top;
    /* where each view was drawn last (for the mouse); h 0: not shown */
    wb_area areas[WB_NVIEWS];
    int tab_x[WB_NPANES + 1]; /* the narrow layout's tabs: pane p from tab_x[p] */
    bool mouse;               /* mouse events are asked for (GEVO_MOUSE) */
    int *diff_rows;           /* the diff line drawn on each row of its area, -1 none */
    size_t alloc_diff_rows;
    /* prompt line */
    int prompt;
    char pbuf[512];
    size_t plen;
    char *edit_buf; /* the genome being edited (retry) */
    char edit_err[GERR_MSG_MAX];
    /* message line */
    char msg[512];
    bool msg_error;
    /* event log */
    char **events;
    size_t n_events, alloc_events;
    bool picked; /* a first proposal was selected for the researcher */
    bool quit;
};

/* wb_data.c: the population */
void wb_data_reload(wb *w); /* history (if dirty) + live generation, rows */
void wb_data_rows(wb *w);   /* rows from inds, filters, folds; keeps the selection */
void wb_data_release(wb *w);
wb_ind *wb_selected(wb *w); /* NULL on a header */
/* Makes row r the selection (clamped to the rows). */
void wb_select_row(wb *w, int r);
/* The generation's fold: 1 folded, 2 unfolded, by default folded before
 * the generation shown last. */
bool wb_folded(wb *w, int gen);
void wb_log(wb *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void wb_msg(wb *w, bool error, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
bool wb_is_marked(wb *w, const char *id);
/* Appends a copy of s to a string array grown with ALLOC_GROW; -1 when
 * out of memory. */
int wb_strv_push(char ***v, size_t *n, size_t *alloc, const char *s);
void wb_strv_free(char **v, size_t n);

/* wb_detail.c: what the panes and views show of the selection */
/* Loads the diff and the reasoning of the selection (when it changed, or
 * always with force), and the data of the full-screen view shown. */
void wb_detail_load(wb *w, bool force);
/* Whether the diff is shown side by side (view_diff.c). */
bool wb_diff_split(wb *w);
/* The panes' data: the loads of view_diff.c (wb_diff.c) and view_reason.c. */
void wb_detail_diff(wb *w);
void wb_diff_release(wb *w);
void wb_detail_reason(wb *w);
/* The curves of the marked individuals, else of the selected one. */
void wb_curves_load(wb *w);
/* The lineage of the selection, from the session's ancestry. */
void wb_lineage_load(wb *w);
/* The help screen's lines: the key table and the glyphs. */
void wb_help_load(wb *w);
/* wb_stats.c: the session's counts per persona, model, operator, pair. */
void wb_stats_load(wb *w);
/* The result table from the session's confirm notes (on open and when the
 * session changes); an error goes to report_err. */
void wb_report_load(wb *w);

/* wb_words.c: word-level highlights. For a block of removed lines and the
 * added lines after it, (*del_marks)[i] has one byte per byte of del[i], 1
 * inside a word that changed (likewise for add). Blocks too big to be
 * worth it get no marks at all (all zero). */
int wb_words_diff(char **del, size_t nd, char **add, size_t na, unsigned char ***del_marks,
                  unsigned char ***add_marks, gerr *err);
void wb_marks_free(unsigned char **m, size_t n);

/* wb_draw.c: drawing primitives and the screen layout */
void wb_draw_init(wb *w); /* glyphs and colours, after initscr */
void wb_draw(wb *w);
/* Draws s (up to a newline) at y,x in at most width columns; returns the
 * columns used. The text is shown as engine/base/text.h makes it safe:
 * control characters, C1 controls and bidi overrides appear visibly
 * ("^[", "<U+009B>"), never act on the terminal. */
int wb_put(wb *w, int y, int x, int width, const char *s, attr_t a);
void wb_fill(int y, int x, int width, attr_t a);
/* Appends the safe form of s[0..n) as cells: bytes with marks[i] set
 * (marks may be NULL) in attribute marked, the others in a. */
void wb_cells_add(wb *w, wb_cells *c, const char *s, size_t n, const unsigned char *marks, attr_t a,
                  attr_t marked);
void wb_cells_reset(wb_cells *c);
void wb_cells_release(wb_cells *c);
/* Draws cells from index from at y,x in at most width columns; returns
 * the first cell not drawn. */
size_t wb_cells_put(const wb_cells *c, size_t from, int y, int x, int width);
/* Rows the cells take when wrapped: first columns in the first row, rest
 * in each further one. */
int wb_cells_rows(const wb_cells *c, int first, int rest);
/* Display columns of a string as wb_put draws it (up to a newline). */
int wb_text_width(wb *w, const char *s);
void wb_fmt_params(char *b, size_t n, long p);
/* A pane's title bar. */
void wb_draw_title(wb *w, int y, int x, int width, const char *title, bool focused);
/* Lines of text from view_top, headings (no leading blank) as titles. */
void wb_draw_lines(wb *w, char **lines, size_t n, int y0, int h);
/* A plot's axes around the area plot, accuracy labels lo and hi (0..1). */
void wb_draw_axes(wb *w, const wb_area *plot, double lo, double hi);
/* Accuracy (up) against parameters (right, log10 of them in *xmin..*xmax):
 * widens a range of one value, draws the axes and the parameter labels. */
void wb_draw_params_axes(wb *w, const wb_area *plot, double *xmin, double *xmax, double *ymin,
                         double *ymax);
/* The first line to show so that line cur is among the h shown. */
int wb_scroll_to(int top, int cur, int h);
/* v + delta within lo..hi. */
int wb_clamp_add(int v, int delta, int lo, int hi);
/* Training progress bars, from column x to the end of row y. */
void wb_draw_progress(wb *w, int y, int x);
extern const char *const wb_state_label[WB_NSTATES];
/* Rows of the reasoning text wrapped to width (for scrolling). */
int wb_reason_lines(wb *w, int width);
/* Writes the screen as text (trailing blanks removed), one line each. */
int wb_dump(const char *path, gerr *err);
/* Writes each row's styled runs, "5: {DIFF_ADD_WORD,bold "k=5"} ...": the
 * colour element and attributes of every run that is not plain. */
int wb_dump_attrs(const char *path, gerr *err);

/* wb_actions.c */
/* What a note made now is about: the diff cursor's line of the new genome,
 * or (*old) the parent's removed line; line 0: the whole genome. False,
 * with a message, when the cursor's line cannot be annotated. */
bool wb_note_anchor(wb *w, bool *old, int *line);
int wb_request(wb *w, int req);
int wb_prompt_key(wb *w, int key);
void wb_prompt_open(wb *w, int kind, const char *initial);
/* Shows a full-screen view (its open and load), or the panes for -1. */
void wb_show(wb *w, int view);
/* A move request scrolls *top (the first line shown) by its delta;
 * WB_UNHANDLED for any other request. */
int wb_scroll(wb *w, int req, int *top);
/* The full-screen views' moves: they scroll view_top. */
int wb_scroll_request(wb *w, int req);
/* How far a move request goes: -1, 1, a page, or to either end. */
int wb_move_delta(wb *w, int req, bool *is_move);
/* The lines a page moves. */
int wb_page(wb *w);

/* wb_mouse.c: a click selects a line or focuses a pane, the wheel
 * scrolls the view under the pointer. */
int wb_mouse(wb *w, int x, int y, mmask_t button);
/* Asks the terminal for mouse events unless GEVO_MOUSE is off. */
void wb_mouse_init(wb *w);

/* wb_export.c: the export key, as `gevo export SESSION ID --torch DIR`.
 * wb_export_ask opens the folder prompt for the selected individual;
 * wb_export_to writes its export into dir (from the prompt). */
int wb_export_ask(wb *w);
int wb_export_to(wb *w, const char *dir);

/* wb_editor.c: the researcher's $EDITOR on text; *out is the edited text
 * without gevo's error lines (malloc'd). error, when not NULL, is shown at
 * the top of the file. */
int wb_editor_run(const char *text, const char *error, char **out, gerr *err);

#endif
