/* wb_editor: the researcher's $VISUAL or $EDITOR on a temporary file. The
 * terminal is handed over (endwin) and taken back afterwards. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/base/file.h"
#include "tui/wb.h"

#define ERR_PREFIX "# gevo: "
#define EDIT_MAX   (16u << 20) /* a genome is kilobytes; anything this big is a mistake */

static int write_tmp(char *path, size_t size, const char *text, const char *error, gerr *err)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(path, size, "%s/gevo-edit-XXXXXX.net", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemps(path, 4);
    if (fd < 0)
        return gerr_errno(err, "edit: cannot create a file in %s", tmp && *tmp ? tmp : "/tmp");
    FILE *f = fdopen(fd, "w");
    if (!f) {
        gerr_errno(err, "edit: %s", path);
        close(fd);
        unlink(path);
        return -1;
    }
    if (error) {
        fprintf(f, ERR_PREFIX "the edit was not kept: ");
        for (const char *p = error; *p; p++) {
            fputc(*p, f);
            if (*p == '\n' && p[1])
                fputs(ERR_PREFIX, f);
        }
        fprintf(f,
                "\n" ERR_PREFIX "fix it and save; lines starting '" ERR_PREFIX "' are removed\n");
    }
    fputs(text, f);
    if (fclose(f) != 0) {
        gerr_errno(err, "edit: %s", path);
        unlink(path);
        return -1;
    }
    return 0;
}

/* Runs the editor on path with the terminal handed over; its exit status. */
static int run(const char *ed, const char *path)
{
    def_prog_mode();
    endwin();
    pid_t pid = fork();
    if (pid == 0) {
        setenv("GEVO_EDITOR_CMD", ed, 1);
        execl("/bin/sh", "sh", "-c", "eval \"$GEVO_EDITOR_CMD\" '\"$1\"'", "sh", path,
              (char *)NULL);
        _exit(127);
    }
    int status = 0;
    while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    reset_prog_mode();
    clearok(curscr, TRUE);
    refresh();
    if (pid < 0 || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

/* raw without the lines gevo added (its error at the top). */
static char *strip_errors(const char *raw)
{
    strbuf sb = STRBUF_INIT;
    for (const char *p = raw; *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p + 1) : strlen(p);
        if (strncmp(p, ERR_PREFIX, strlen(ERR_PREFIX)))
            strbuf_add(&sb, p, len);
        p += len;
    }
    return strbuf_detach(&sb, NULL);
}

int wb_editor_run(const char *text, const char *error, char **out, gerr *err)
{
    *out = NULL;
    char path[512];
    if (write_tmp(path, sizeof path, text, error, err) != 0)
        return -1;
    const char *ed = getenv("VISUAL");
    if (!ed || !*ed)
        ed = getenv("EDITOR");
    if (!ed || !*ed)
        ed = "vi";
    int status = run(ed, path);
    int rc = -1;
    char *raw = NULL;
    if (status != 0) {
        gerr_set(err, "edit: the editor '%s' failed (status %d); nothing was kept", ed, status);
    } else if (file_read(path, EDIT_MAX, &raw, NULL, err) != 0) {
        gerr_prefix(err, "edit: cannot read the file back");
    } else if (!(*out = strip_errors(raw))) {
        gerr_set(err, "edit: out of memory");
    } else {
        rc = 0;
    }
    free(raw);
    unlink(path);
    return rc;
}
