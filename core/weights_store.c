/* weights_store: SESSION/.gevo/weights/ID.weights (see weights_store.h). */
#include "core/weights_store.h"

#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/base/file.h"

#define SUFFIX       ".weights"
/* gevo confirm's runs: ID.confirm-S.weights (core/confirm.h) */
#define CONFIRM_MARK ".confirm-"

static const char *const names[] = {
    [WEIGHTS_KEEP_ALL] = "all", [WEIGHTS_KEEP_FRONT] = "front", [WEIGHTS_KEEP_NONE] = "none"};

const char *weights_policy_name(weights_policy p)
{
    return (unsigned)p <= WEIGHTS_KEEP_NONE ? names[p] : "?";
}

int weights_policy_get(session *s, weights_policy *out, gerr *err)
{
    const char *v = session_config_get(s, "keep_weights");
    *out = WEIGHTS_KEEP_ALL;
    if (!v || !*v)
        return 0;
    for (int p = WEIGHTS_KEEP_ALL; p <= WEIGHTS_KEEP_NONE; p++)
        if (!strcmp(v, names[p])) {
            *out = (weights_policy)p;
            return 0;
        }
    return gerr_set(err, "gevo.json: keep_weights is \"%s\"; it is \"all\", \"front\" or \"none\"",
                    v);
}

static int dir_path(session *s, const char *sub, char *out, size_t size, gerr *err)
{
    if (snprintf(out, size, "%s/.gevo%s", session_workdir(s), sub) >= (int)size)
        return gerr_set(err, "%s: the session's path is too long", session_workdir(s));
    return 0;
}

int weights_path(session *s, const char *id, char *out, size_t size, gerr *err)
{
    /* ids are session ids ("g2-7"): no slash, no dot first */
    if (!id[0] || strchr(id, '/') || id[0] == '.')
        return gerr_set(err, "'%s' is not an individual's id", id);
    if (snprintf(out, size, "%s/.gevo/weights/%s" SUFFIX, session_workdir(s), id) >= (int)size)
        return gerr_set(err, "%s: the session's path is too long", session_workdir(s));
    return 0;
}

static int make_dir(const char *path, gerr *err)
{
    if (mkdir(path, 0755) && errno != EEXIST)
        return gerr_errno(err, "%s: cannot create", path);
    return 0;
}

int weights_prepare(session *s, gerr *err)
{
    char path[4096];
    if (dir_path(s, "", path, sizeof path, err) || make_dir(path, err))
        return -1;
    /* "*" ignores everything under .gevo, itself included, so git status
       stays clean without a tracked .gitignore in the journal */
    char ignore[4200];
    snprintf(ignore, sizeof ignore, "%s/.gitignore", path);
    struct stat st;
    if (stat(ignore, &st) != 0) {
        static const char text[] =
            "# gevo's working files (training folders, kept weights): never committed\n*\n";
        if (file_write(ignore, text, sizeof text - 1, err))
            return -1;
    }
    if (dir_path(s, "/weights", path, sizeof path, err) || make_dir(path, err))
        return -1;
    return 0;
}

bool weights_kept(session *s, const char *id, long *bytes)
{
    char path[4096];
    struct stat st;
    if (weights_path(s, id, path, sizeof path, NULL) || stat(path, &st) || !S_ISREG(st.st_mode))
        return false;
    if (bytes)
        *bytes = (long)st.st_size;
    return true;
}

/* b becomes the same file as a: a hard link, else (another file system,
   no links) a copy. */
static int link_or_copy(const char *a, const char *b, gerr *err)
{
    struct stat st;
    if (stat(a, &st) != 0)
        return gerr_errno(err, "%s", a);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", b, (long)getpid());
    unlink(tmp);
    if (link(a, tmp) == 0) {
        if (rename(tmp, b) == 0)
            return 0;
        unlink(tmp);
        return gerr_errno(err, "%s: cannot rename into place", b);
    }
    char *data = NULL;
    size_t n = 0;
    if (file_read(a, (size_t)st.st_size + 1, &data, &n, err))
        return -1;
    int rc = file_write(b, data, n, err);
    free(data);
    return rc;
}

int weights_keep_file(session *s, const char *id, const char *path, gerr *err)
{
    char dst[4096];
    if (weights_prepare(s, err) || weights_path(s, id, dst, sizeof dst, err))
        return -1;
    return link_or_copy(path, dst, err);
}

int weights_share(session *s, const char *from, const char *to, gerr *err)
{
    char a[4096];
    struct stat st;
    if (weights_path(s, from, a, sizeof a, err))
        return -1;
    if (stat(a, &st) != 0)
        return 0;
    return weights_keep_file(s, to, a, err);
}

/* Whether dir holds a gevo confirm run's weights of the id name[0..len). */
static bool confirmed(const char *dir, const char *name, size_t len)
{
    char pattern[4400];
    snprintf(pattern, sizeof pattern, "%s/%.*s" CONFIRM_MARK "*" SUFFIX, dir, (int)len, name);
    glob_t g;
    bool any = glob(pattern, GLOB_NOSORT | GLOB_NOESCAPE, NULL, &g) == 0 && g.gl_pathc > 0;
    globfree(&g);
    return any;
}

int weights_prune(session *s, const char *const *keep, size_t n_keep, gerr *err)
{
    weights_policy p;
    if (weights_policy_get(s, &p, err))
        return -1;
    if (p != WEIGHTS_KEEP_FRONT)
        return 0;
    char dir[4096];
    if (dir_path(s, "/weights", dir, sizeof dir, err))
        return -1;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : gerr_errno(err, "%s: cannot read", dir);
    int removed = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name), sl = strlen(SUFFIX);
        if (n <= sl || strcmp(de->d_name + n - sl, SUFFIX) || de->d_name[0] == '.')
            continue;
        /* gevo confirm's runs (ID.confirm-S.weights) are what a result
           rests on: never pruned, and their ID counts as confirmed */
        if (strstr(de->d_name, CONFIRM_MARK) || confirmed(dir, de->d_name, n - sl))
            continue;
        bool kept = false;
        for (size_t i = 0; i < n_keep && !kept; i++)
            kept = strlen(keep[i]) == n - sl && !strncmp(keep[i], de->d_name, n - sl);
        if (kept)
            continue;
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (unlink(path) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}
