/* workbench: the event loop. The terminal and evolve's descriptors share
 * one poll(); the SIGWINCH handler only sets a flag and the loop resizes
 * before it draws. */
#include <errno.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "engine/base/file.h"
#include "engine/base/grow.h"
#include "engine/base/text.h"
#include "tui/wb.h"
#include "tui/workbench.h"

static volatile sig_atomic_t resized;

static void on_winch(int sig)
{
    (void)sig;
    resized = 1;
}

static void on_event(void *ctx, const evolve_event *ev)
{
    wb *w = ctx;
    if (ev->id && ev->id[0] && !strstr(ev->text, ev->id))
        wb_log(w, "%s: %s", ev->id, ev->text);
    else
        wb_log(w, "%s", ev->text);
    w->hist_dirty = true;
}

/* ---- the script (tests) ----------------------------------------------- */

typedef struct script_item {
    int key;   /* -1: a command */
    char *cmd; /* owned */
} script_item;

typedef struct script {
    script_item *v;
    size_t n, alloc, pos;
} script;

static int script_push(script *sc, int key, const char *cmd, gerr *err)
{
    char *c = cmd ? strdup(cmd) : NULL;
    if ((cmd && !c) || ALLOC_GROW(sc->v, sc->n + 1, sc->alloc) != 0) {
        free(c);
        return gerr_set(err, "GEVO_TUI_SCRIPT: out of memory");
    }
    sc->v[sc->n++] = (script_item){key, c};
    return 0;
}

static void script_release(script *sc)
{
    for (size_t i = 0; i < sc->n; i++)
        free(sc->v[i].cmd);
    free(sc->v);
    memset(sc, 0, sizeof *sc);
}

/* One line of keys: literal characters and <Name> tokens. */
static int script_keys(script *sc, const char *line, const char *path, int lineno, gerr *err)
{
    size_t len = strlen(line);
    for (size_t i = 0; i < len;) {
        size_t tl = 1;
        if (line[i] == '<') {
            const char *e = strchr(line + i, '>');
            if (e)
                tl = (size_t)(e - (line + i)) + 1;
        }
        int key = wb_key_parse(line + i, tl);
        if (key < 0)
            return gerr_set(err, "%s:%d: unknown key %.*s", path, lineno, (int)tl, line + i);
        if (script_push(sc, key, NULL, err) != 0)
            return -1;
        i += tl;
    }
    return 0;
}

static int script_load(script *sc, const char *path, gerr *err)
{
    char *text = NULL;
    if (file_read(path, 1u << 20, &text, NULL, err) != 0)
        return gerr_prefix(err, "GEVO_TUI_SCRIPT");
    int lineno = 0, rc = 0;
    for (char *p = text; *p && rc == 0;) {
        char *e = p + strcspn(p, "\n");
        char *next = *e ? e + 1 : e;
        lineno++;
        if (e > p && e[-1] == '\r')
            e--;
        *e = 0;
        if (p[0] == ':')
            rc = script_push(sc, -1, p + 1, err);
        else if (p[0] && p[0] != '#')
            rc = script_keys(sc, p, path, lineno, err);
        p = next;
    }
    free(text);
    return rc;
}

/* ---- the loop --------------------------------------------------------- */

#define MAX_FDS 64

static int handle_key(wb *w, int ch)
{
    if (ch == KEY_RESIZE)
        return WB_REDRAW;
    if (ch == KEY_MOUSE) {
        MEVENT ev;
        if (getmouse(&ev) != OK || w->prompt)
            return WB_OK;
        return wb_mouse(w, ev.x, ev.y, ev.bstate);
    }
    if (w->prompt)
        return wb_prompt_key(w, ch);
    w->msg[0] = 0;
    int req = wb_key_request(ch);
    if (req == WB_REQ_NONE) {
        char kb[16];
        wb_msg(w, true, "no action on %s (? shows the keys)", wb_key_name(ch, kb, sizeof kb));
        return WB_REDRAW;
    }
    return wb_request(w, req);
}

static void dispatch_once(wb *w, int timeout_ms, int tty_fd)
{
    struct pollfd fds[MAX_FDS];
    int n = 0;
    if (tty_fd >= 0)
        fds[n++] = (struct pollfd){.fd = tty_fd, .events = POLLIN};
    int nev = 0;
    if (w->ev) {
        nev = evolve_pollfds(w->ev, fds + n, MAX_FDS - n);
        if (nev < 0)
            nev = 0;
        int t = evolve_timeout_ms(w->ev);
        if (t >= 0 && (timeout_ms < 0 || t < timeout_ms))
            timeout_ms = t;
    }
    int r = poll(fds, (nfds_t)(n + nev), timeout_ms);
    if (r < 0 && errno != EINTR)
        return;
    if (r < 0)
        for (int i = 0; i < n + nev; i++)
            fds[i].revents = 0;
    if (w->ev)
        evolve_dispatch(w->ev, fds + n, nev);
}

static bool idle(wb *w)
{
    if (!w->ev)
        return true;
    evolve_status st;
    evolve_status_get(w->ev, &st);
    return st.proposing == 0 && st.approved == 0 && st.training == 0;
}

static int run_command(wb *w, const char *cmd)
{
    if (!strcmp(cmd, "wait-idle")) {
        /* a guard against a hang, not a timing assumption */
        time_t start = time(NULL);
        while (!idle(w) && time(NULL) - start < 600)
            dispatch_once(w, 200, -1);
        w->hist_dirty = true;
        return WB_RELOAD | WB_DETAIL;
    }
    if (!strncmp(cmd, "dump-attrs ", 11)) {
        gerr err = GERR_INIT;
        if (wb_dump_attrs(cmd + 11, &err) != 0)
            wb_log(w, "dump-attrs: %s", err.msg);
        return WB_OK;
    }
    if (!strncmp(cmd, "dump ", 5)) {
        gerr err = GERR_INIT;
        if (wb_dump(cmd + 5, &err) != 0)
            wb_log(w, "dump: %s", err.msg);
        return WB_OK;
    }
    int c, l;
    char what[16];
    if (sscanf(cmd, "%15s %d %d", what, &c, &l) == 3 &&
        (!strcmp(what, "click") || !strcmp(what, "wheel-up") || !strcmp(what, "wheel-down"))) {
        mmask_t b = !strcmp(what, "click")      ? BUTTON1_CLICKED
                    : !strcmp(what, "wheel-up") ? BUTTON4_PRESSED
                                                : BUTTON5_PRESSED;
        return w->mouse ? wb_mouse(w, c, l, b) : WB_OK;
    }
    if (sscanf(cmd, "resize %d %d", &c, &l) == 2 && c > 0 && l > 0) {
        resize_term(l, c);
        return WB_REDRAW;
    }
    wb_log(w, "script: unknown command ':%s'", cmd);
    return WB_OK;
}

static void apply_resize(void)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0)
        resize_term(ws.ws_row, ws.ws_col);
    clearok(curscr, TRUE);
}

static void first_selection(wb *w)
{
    /* the first proposal pending review of the newest generation, else its header */
    int best = -1;
    for (size_t r = 0; r < w->n_rows; r++) {
        if (w->rows[r].gen != w->view_gen)
            continue;
        if (best < 0)
            best = (int)r;
        if (w->rows[r].ind >= 0 && w->inds[w->rows[r].ind].state == WB_PENDING) {
            best = (int)r;
            break;
        }
    }
    wb_select_row(w, best < 0 ? 0 : best);
}

static int open_evolve(wb *w, const workbench_opts *o, gerr *err)
{
    evolve_config cfg;
    if (evolve_config_preset(&cfg, o && o->preset ? o->preset : NULL) != 0)
        return gerr_set(err, "unknown preset '%s' (quick or paper)", o->preset);
    if (o) {
        if (o->llm)
            cfg.llm = o->llm;
        if (o->model)
            cfg.model = o->model;
        if (o->review_set) {
            cfg.review = o->review;
            cfg.auto_max_params = o->review_max_params;
        }
        if (o->subset > 0)
            cfg.train_subset = o->subset;
        if (o->epochs > 0)
            cfg.train_epochs = o->epochs;
        if (o->population > 0)
            cfg.population = o->population;
        cfg.rungs = o->rungs;
        if (o->offspring > 0)
            cfg.offspring = o->offspring;
        cfg.max_memory = o->max_memory;
    }
    if (evolve_open(&w->ev, w->s, &cfg, err) != 0) {
        gerr_prefix(err, "the evolution loop did not start");
        if (w->ev)
            evolve_free(w->ev);
        w->ev = NULL;
        return -1;
    }
    evolve_set_listener(w->ev, on_event, w);
    return 0;
}

/* The session folder's base name, for the status line. */
static void set_name(wb *w, const char *wd)
{
    const char *base = strrchr(wd, '/');
    while (base && !base[1] && base > wd) { /* trailing slash */
        const char *p = base - 1;
        while (p > wd && *p != '/')
            p--;
        base = p;
    }
    snprintf(w->name, sizeof w->name, "%s", base && base[1] ? base + 1 : wd);
    char *slash = strchr(w->name, '/');
    if (slash)
        *slash = 0;
}

/* The terminal: the real one, or for a script a screen nobody sees (an
 * unlinked temporary file out, an empty pipe in: no device needed). */
typedef struct term {
    SCREEN *scr;
    FILE *out, *in;
} term;

static int term_open(term *t, bool scripted, gerr *err)
{
    memset(t, 0, sizeof *t);
    if (scripted) {
        int fds[2];
        t->out = tmpfile();
        if (t->out && pipe(fds) == 0) {
            close(fds[1]);
            t->in = fdopen(fds[0], "r");
            if (!t->in)
                close(fds[0]);
        }
        t->scr = t->out && t->in ? newterm(NULL, t->out, t->in) : NULL;
    } else {
        t->scr = newterm(NULL, stdout, stdin);
    }
    if (!t->scr) {
        if (t->out)
            fclose(t->out);
        if (t->in)
            fclose(t->in);
        return gerr_set(err, "cannot start the terminal (TERM=%s)",
                        getenv("TERM") ? getenv("TERM") : "unset");
    }
    set_term(t->scr);
    cbreak();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    set_escdelay(25);
    curs_set(0);
    return 0;
}

static void term_close(term *t)
{
    endwin();
    delscreen(t->scr);
    if (t->out)
        fclose(t->out);
    if (t->in)
        fclose(t->in);
}

static void loop(wb *w, script *sc, bool scripted)
{
    w->hist_dirty = true;
    wb_data_reload(w);
    first_selection(w);
    w->picked = wb_selected(w) != NULL;
    wb_detail_load(w, true);
    int flags = WB_REDRAW;
    while (!w->quit) {
        if (resized) {
            resized = 0;
            apply_resize();
            flags |= WB_REDRAW;
        }
        if (flags & (WB_RELOAD | WB_DETAIL) || w->hist_dirty) {
            bool force = w->hist_dirty || (flags & WB_DETAIL);
            wb_data_reload(w);
            /* proposals arrived while the generation's header, or a row of a
               just-started generation (after '>'), was selected */
            if (w->n_rows && w->rows[w->sel].gen == w->live_gen && w->pane == WB_VIEW_TREE &&
                w->st.pending > 0 && !w->picked) {
                first_selection(w);
                w->picked = true;
            }
            wb_detail_load(w, force);
        }
        wb_draw(w);
        flags = 0;
        if (scripted) {
            if (sc->pos >= sc->n)
                break;
            script_item *it = &sc->v[sc->pos++];
            int ch = it->key == '\r' ? '\n' : it->key;
            flags |= it->key < 0 ? run_command(w, it->cmd) : handle_key(w, ch);
            if (w->ev)
                dispatch_once(w, 0, -1);
            flags |= WB_RELOAD;
            continue;
        }
        dispatch_once(w, w->ev ? 1000 : -1, STDIN_FILENO);
        int ch;
        while (!w->quit && (ch = getch()) != ERR)
            flags |= handle_key(w, ch == '\r' ? '\n' : ch);
        if (w->ev)
            flags |= WB_RELOAD;
    }
}

/* Its messages outside the screen name folders and errors that may hold
 * anything: written as engine/base/text.h shows untrusted text. */
int workbench_run(const char *dir, const workbench_opts *o)
{
    setlocale(LC_ALL, "");
    const char *script_path = getenv("GEVO_TUI_SCRIPT");
    bool scripted = script_path && *script_path;
    gerr err = GERR_INIT;
    script sc = {0};
    if (scripted && script_load(&sc, script_path, &err) != 0) {
        text_fprintf(stderr, 0, "gevo: %s", err.msg);
        fputc('\n', stderr);
        script_release(&sc);
        return 2;
    }
    if (!scripted && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))) {
        text_fprintf(stderr, 0,
                     "gevo: the workbench needs a terminal; 'gevo log %s' prints the session", dir);
        fputc('\n', stderr);
        return 1;
    }
    wb *w = calloc(1, sizeof *w);
    if (!w) {
        script_release(&sc);
        return 1;
    }
    w->safe = (strbuf)STRBUF_INIT;
    w->full = -1;
    w->diff_split = -1; /* side by side when the diff is wide enough */
    if (session_open(&w->s, dir, SESSION_WRITE_OR_READ, &err) != 0) {
        text_fprintf(stderr, 0, "gevo open: %s", err.msg);
        fputc('\n', stderr);
        free(w);
        script_release(&sc);
        return 1;
    }
    const char *wd = session_workdir(w->s);
    set_name(w, wd);
    if (!session_is_writer(w->s))
        gerr_set(&err, "read-only: the session is open by %s", session_lock_holder(w->s));
    else
        open_evolve(w, o, &err);
    if (err.msg[0])
        wb_msg(w, true, "%s", err.msg);
    wb_log(w, "opened %s%s", wd, w->ev ? "" : " (history only)");

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_winch;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGWINCH, &sa, NULL);
    term t;
    gerr_clear(&err);
    int rc = 0;
    if (term_open(&t, scripted, &err) != 0) {
        text_fprintf(stderr, 0, "gevo: %s", err.msg);
        fputc('\n', stderr);
        rc = 1;
    } else {
        wb_draw_init(w);
        wb_mouse_init(w);
        loop(w, &sc, scripted);
        term_close(&t);
    }
    bool had_ev = w->ev != NULL;
    if (w->ev)
        evolve_free(w->ev);
    char *where = strdup(wd);
    session_close(w->s);
    wb_data_release(w);
    free(w);
    script_release(&sc);
    if (!scripted && rc == 0 && where) {
        text_fprintf(stdout, 0, "gevo: session saved in %s%s", where,
                     had_ev ? " (trainings go on)" : "");
        fputc('\n', stdout);
        text_fprintf(stdout, 0, "  reopen it with: gevo open %s", where);
        fputc('\n', stdout);
    }
    free(where);
    return rc;
}
