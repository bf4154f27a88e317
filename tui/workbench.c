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
    int key; /* -1: a command */
    char *cmd;
} script_item;

typedef struct script {
    script_item *v;
    size_t n, cap, pos;
} script;

static int script_push(script *sc, int key, const char *cmd)
{
    if (sc->n == sc->cap) {
        size_t c = sc->cap ? sc->cap * 2 : 64;
        script_item *v = realloc(sc->v, c * sizeof *v);
        if (!v)
            return -1;
        sc->v = v;
        sc->cap = c;
    }
    sc->v[sc->n].key = key;
    sc->v[sc->n].cmd = cmd ? strdup(cmd) : NULL;
    sc->n++;
    return 0;
}

static void script_free(script *sc)
{
    for (size_t i = 0; i < sc->n; i++)
        free(sc->v[i].cmd);
    free(sc->v);
}

static int script_load(script *sc, const char *path, char *err, size_t errsize)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errsize, "GEVO_TUI_SCRIPT %s: %s", path, strerror(errno));
        return -1;
    }
    char line[1024];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strcspn(line, "\r\n");
        line[len] = 0;
        if (!len || line[0] == '#')
            continue;
        if (line[0] == ':') {
            script_push(sc, -1, line + 1);
            continue;
        }
        for (size_t i = 0; i < len;) {
            size_t tl = 1;
            if (line[i] == '<') {
                const char *e = strchr(line + i, '>');
                if (e)
                    tl = (size_t)(e - (line + i)) + 1;
            }
            int key = wb_key_parse(line + i, tl);
            if (key < 0) {
                snprintf(err, errsize, "%s:%d: unknown key %.*s", path, lineno, (int)tl, line + i);
                fclose(f);
                return -1;
            }
            script_push(sc, key, NULL);
            i += tl;
        }
    }
    fclose(f);
    return 0;
}

/* ---- the loop --------------------------------------------------------- */

#define MAX_FDS 64

static int handle_key(wb *w, int ch)
{
    if (ch == KEY_RESIZE)
        return WB_REDRAW;
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
    if (!strncmp(cmd, "dump ", 5)) {
        if (wb_dump(cmd + 5) != 0)
            wb_log(w, "dump %s failed: %s", cmd + 5, strerror(errno));
        return WB_OK;
    }
    int c, l;
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
    w->sel = best < 0 ? 0 : best;
    w->sel_id[0] = 0;
    w->sel_slot = -1;
    if (w->n_rows) {
        wb_ind *d = wb_selected(w);
        if (d) {
            snprintf(w->sel_id, sizeof w->sel_id, "%s", d->id);
            w->sel_slot = d->slot;
        } else {
            w->sel_slot = -1 - w->rows[w->sel].gen;
        }
    }
}

static int open_evolve(wb *w, const workbench_opts *o, char *err, size_t errsize)
{
    evolve_config cfg;
    if (evolve_config_preset(&cfg, o && o->preset ? o->preset : NULL) != 0) {
        snprintf(err, errsize, "unknown preset '%s' (quick or paper)", o->preset);
        return -1;
    }
    if (o) {
        if (o->llm)
            cfg.llm = o->llm;
        if (o->model)
            cfg.model = o->model;
        if (o->review)
            cfg.review = !strcmp(o->review, "auto") ? EVOLVE_REVIEW_AUTO : EVOLVE_REVIEW_MANUAL;
        if (o->subset > 0)
            cfg.train_subset = o->subset;
        if (o->epochs > 0)
            cfg.train_epochs = o->epochs;
        if (o->population > 0)
            cfg.population = o->population;
        if (o->offspring > 0)
            cfg.offspring = o->offspring;
    }
    if (evolve_open(&w->ev, w->s, &cfg) != 0) {
        snprintf(err, errsize, "the evolution loop did not start: %s",
                 w->ev ? evolve_error(w->ev) : evolve_error(NULL));
        if (w->ev)
            evolve_free(w->ev);
        w->ev = NULL;
        return -1;
    }
    evolve_set_listener(w->ev, on_event, w);
    return 0;
}

int workbench_run(const char *dir, const workbench_opts *o)
{
    setlocale(LC_ALL, "");
    const char *script_path = getenv("GEVO_TUI_SCRIPT");
    char err[1024];
    script sc = {0};
    if (script_path && *script_path && script_load(&sc, script_path, err, sizeof err) != 0) {
        fprintf(stderr, "gevo: %s\n", err);
        script_free(&sc);
        return 2;
    }
    bool scripted = script_path && *script_path;
    if (!scripted && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))) {
        fprintf(stderr, "gevo: the workbench needs a terminal; 'gevo log %s' prints the session\n",
                dir);
        return 1;
    }
    wb *w = calloc(1, sizeof *w);
    if (!w)
        return 1;
    gerr serr = GERR_INIT;
    if (session_open(&w->s, dir, SESSION_WRITE_OR_READ, &serr) != 0) {
        fprintf(stderr, "gevo open: %s\n", serr.msg);
        free(w);
        script_free(&sc);
        return 1;
    }
    const char *wd = session_workdir(w->s), *base = strrchr(wd, '/');
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
    err[0] = 0;
    if (session_is_writer(w->s))
        open_evolve(w, o, err, sizeof err);
    else
        snprintf(err, sizeof err, "read-only: the session is open by %s",
                 session_lock_holder(w->s));
    if (err[0])
        wb_msg(w, true, "%s", err);
    wb_log(w, "opened %s%s", wd, w->ev ? "" : " (history only)");

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_winch;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGWINCH, &sa, NULL);
    FILE *out = NULL, *in = NULL;
    SCREEN *scr;
    if (scripted) {
        out = fopen("/dev/null", "w");
        in = fopen("/dev/null", "r");
        scr = out && in ? newterm(NULL, out, in) : NULL;
    } else {
        scr = newterm(NULL, stdout, stdin);
    }
    if (!scr) {
        fprintf(stderr, "gevo: cannot start the terminal (TERM=%s)\n",
                getenv("TERM") ? getenv("TERM") : "unset");
        if (w->ev)
            evolve_free(w->ev);
        session_close(w->s);
        wb_data_free(w);
        free(w);
        if (out)
            fclose(out);
        if (in)
            fclose(in);
        script_free(&sc);
        return 1;
    }
    set_term(scr);
    cbreak();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    set_escdelay(25);
    curs_set(0);
    wb_draw_init(w);

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
            if (w->n_rows && w->rows[w->sel].gen == w->live_gen && w->pane == WB_PANE_TREE &&
                w->st.pending > 0 && !w->picked)
                first_selection(w), w->picked = true;
            wb_detail_load(w, force);
        }
        wb_draw(w);
        flags = 0;
        if (scripted) {
            if (sc.pos >= sc.n)
                break;
            script_item *it = &sc.v[sc.pos++];
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
    endwin();
    delscreen(scr);
    if (out)
        fclose(out);
    if (in)
        fclose(in);
    bool had_ev = w->ev != NULL;
    if (w->ev)
        evolve_free(w->ev);
    char where[1024];
    snprintf(where, sizeof where, "%s", wd);
    session_close(w->s);
    wb_data_free(w);
    free(w);
    script_free(&sc);
    if (!scripted)
        printf("gevo: session saved in %s%s\n  reopen it with: gevo open %s\n", where,
               had_ev ? " (trainings go on)" : "", where);
    return 0;
}
