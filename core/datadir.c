/* datadir: see datadir.h. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/datadir.h"
#include "engine/base/strbuf.h"

#ifndef GEVO_DATADIR
#define GEVO_DATADIR "/usr/local/share/gevo"
#endif

enum {
    N_CANDIDATES = 5
};

/* The candidate folders of kind, in search order; "" when not applicable. */
static int candidates(const char *kind, char dirs[N_CANDIDATES][PATH_MAX])
{
    if (strcmp(kind, "nets") && strcmp(kind, "prompts"))
        return -1;
    for (int i = 0; i < N_CANDIDATES; i++)
        dirs[i][0] = 0;
    const char *env = getenv("GEVO_DATADIR");
    if (env && env[0])
        snprintf(dirs[0], PATH_MAX, "%.*s/%s", PATH_MAX - 16, env, kind);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            snprintf(dirs[1], PATH_MAX, "%.*s/%s", PATH_MAX - 32, exe,
                     strcmp(kind, "nets") ? "prompts" : "engine/nets");
            /* the build folder's copy, build/gevo, in a source tree */
            snprintf(dirs[2], PATH_MAX, "%.*s/../%s", PATH_MAX - 32, exe,
                     strcmp(kind, "nets") ? "prompts" : "engine/nets");
            /* an installed tree moved as a whole: PREFIX/bin/gevo finds
               PREFIX/share/gevo, whatever PREFIX it was built for */
            snprintf(dirs[3], PATH_MAX, "%.*s/../share/gevo/%s", PATH_MAX - 32, exe, kind);
        }
    }
    snprintf(dirs[4], PATH_MAX, "%s/%s", GEVO_DATADIR, kind);
    return 0;
}

static int is_dir(const char *p)
{
    struct stat st;
    return p[0] && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The error for a search that found nothing: what, then every place looked at. */
static void not_found(gerr *err, char dirs[N_CANDIDATES][PATH_MAX], const char *what)
{
    strbuf sb = STRBUF_INIT;
    strbuf_addstr(&sb, what);
    for (int i = 0, k = 0; i < N_CANDIDATES; i++)
        if (dirs[i][0])
            strbuf_addf(&sb, "%s%s", k++ ? ", " : " (searched ", dirs[i]);
    strbuf_addstr(&sb, "; set GEVO_DATADIR to the folder holding nets/ and prompts/)");
    gerr_set(err, "%s", sb.failed ? what : sb.buf);
    strbuf_release(&sb);
}

char *datadir_dir(const char *kind, gerr *err)
{
    char dirs[N_CANDIDATES][PATH_MAX];
    if (!kind || candidates(kind, dirs) != 0) {
        gerr_set(err, "unknown data kind '%s' (nets or prompts)", kind ? kind : "");
        return NULL;
    }
    for (int i = 0; i < N_CANDIDATES; i++)
        if (is_dir(dirs[i]))
            return strdup(dirs[i]);
    char what[64];
    snprintf(what, sizeof what, "no %s folder found", kind);
    not_found(err, dirs, what);
    return NULL;
}

char *datadir_find(const char *kind, const char *name, gerr *err)
{
    char dirs[N_CANDIDATES][PATH_MAX];
    if (!kind || candidates(kind, dirs) != 0) {
        gerr_set(err, "unknown data kind '%s' (nets or prompts)", kind ? kind : "");
        return NULL;
    }
    if (!name || !name[0] || strchr(name, '/')) {
        gerr_set(err, "bad %s file name '%s'", kind, name ? name : "");
        return NULL;
    }
    for (int i = 0; i < N_CANDIDATES; i++) {
        if (!dirs[i][0])
            continue;
        char path[PATH_MAX + 256];
        snprintf(path, sizeof path, "%.*s/%.200s", PATH_MAX - 1, dirs[i], name);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
            return strdup(path);
    }
    char what[320];
    snprintf(what, sizeof what, "%s file '%.200s' not found", kind, name);
    not_found(err, dirs, what);
    return NULL;
}
