/* session: creating and opening a session, the writer's lock, the
 * configuration, and the helpers the other session files share. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/base/file.h"
#include "engine/base/num.h"
#include "engine/base/strbuf.h"
#include "sessions/session_int.h"

/* A seed network or a prompt template larger than this is not one. */
#define SESSION_TEXT_MAX (64u << 20)

static int lib_ready;

int session_git(int rc, gerr *err, const char *fmt, ...)
{
    if (rc >= 0)
        return 0;
    char what[GERR_MSG_MAX / 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    const git_error *e = git_error_last();
    return gerr_set(err, "%s: %s", what, e && e->message ? e->message : "unknown libgit2 error");
}

int session_require_writer(const session *s, gerr *err)
{
    if (s->writer)
        return 0;
    return gerr_set(err, "session %s is open read-only%s%s", s->workdir,
                    s->holder[0] ? "; it is being written by gevo, " : "", s->holder);
}

static void lib_init(void)
{
    if (!lib_ready) {
        git_libgit2_init();
        lib_ready = 1;
    }
}

bool session_is_writer(const session *s)
{
    return s->writer;
}

const char *session_workdir(const session *s)
{
    return s->workdir;
}

const char *session_lock_holder(const session *s)
{
    return s->holder;
}

/* "g<digits>-<digits>": digits only (no sign, space or leading zero
 * that would name another tag), each in range. */
static int id_number(const char *p, size_t n, int lo, int *out)
{
    char part[16];
    if (n == 0 || n >= sizeof part || (p[0] == '0' && n > 1))
        return -1;
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return -1;
    memcpy(part, p, n);
    part[n] = 0;
    return num_int(part, lo, INT_MAX, out, "id", NULL);
}

int session_valid_id(const char *id, int *gen, int *num)
{
    int g, n;
    const char *dash = id && id[0] == 'g' ? strchr(id, '-') : NULL;
    if (!dash || id_number(id + 1, (size_t)(dash - id - 1), 0, &g) != 0 ||
        g > SESSION_GENERATION_MAX || id_number(dash + 1, strlen(dash + 1), 1, &n) != 0)
        return 0;
    if (gen)
        *gen = g;
    if (num)
        *num = n;
    return 1;
}

/* an individual's or a failed proposal's numbers */
static void id_numbers(const char *id, int *gen, int *num)
{
    if (!session_valid_id(id, gen, num) && !session_valid_failed_id(id, gen, num))
        *gen = *num = 0;
}

_Static_assert(offsetof(session_info, id) == 0, "session_id_cmp reads the id first");
_Static_assert(offsetof(session_failed_info, id) == 0, "session_id_cmp reads the id first");

int session_id_cmp(const void *a, const void *b)
{
    int ga, na, gb, nb;
    id_numbers(a, &ga, &na);
    id_numbers(b, &gb, &nb);
    if (ga != gb)
        return ga < gb ? -1 : 1;
    return (na > nb) - (na < nb);
}

void session_copy_str(char *dst, size_t size, json_t *v)
{
    snprintf(dst, size, "%s", json_is_string(v) ? json_string_value(v) : "");
}

char *session_json_text(json_t *j, size_t flags, const char *what, gerr *err)
{
    char *text = json_dumps(j, flags);
    if (!text) {
        gerr_set(err, "cannot serialise %s", what);
        return NULL;
    }
    strbuf sb = STRBUF_INIT;
    strbuf_addstr(&sb, text);
    strbuf_addch(&sb, '\n');
    free(text);
    if (sb.failed) {
        strbuf_release(&sb);
        gerr_set(err, "%s: out of memory", what);
        return NULL;
    }
    return strbuf_detach(&sb, NULL);
}

/* ---- the writer's lock ---------------------------------------------- */

/* The lock file's text ("" when it cannot be read: the holder is then
 * "unknown process"). */
static char *read_small(const char *path)
{
    char *buf = NULL;
    if (file_read(path, 4096, &buf, NULL, NULL) != 0)
        return NULL;
    return buf;
}

static void describe_holder(const char *content, char *out, size_t size)
{
    long pid = 0, since = 0;
    char host[128] = "?";
    if (sscanf(content, "%ld %127s %ld", &pid, host, &since) < 2) {
        snprintf(out, size, "unknown process");
        return;
    }
    char when[64] = "";
    if (since > 0) {
        time_t t = (time_t)since;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(when, sizeof when, ", since %Y-%m-%d %H:%M:%S UTC", &tm);
    }
    snprintf(out, size, "pid %ld on %s%s", pid, host, when);
}

static int remove_lock_file(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    size_t n = strlen(path);
    if (type == FTW_F && n > 5 && !strcmp(path + n - 5, ".lock"))
        unlink(path);
    return 0;
}

/* A dead writer may have left git's own lock files (refs, index); we hold
 * the session lock, so no other gevo is writing and they are stale. */
static void clear_stale_git_locks(session *s)
{
    const char *gitdir = git_repository_path(s->repo);
    char p[PATH_MAX];
    static const char *files[] = {"index.lock", "packed-refs.lock", "HEAD.lock", "config.lock"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(p, sizeof p, "%s%s", gitdir, files[i]);
        unlink(p);
    }
    snprintf(p, sizeof p, "%srefs", gitdir);
    nftw(p, remove_lock_file, 16, FTW_PHYS);
    snprintf(p, sizeof p, "%slogs", gitdir);
    nftw(p, remove_lock_file, 16, FTW_PHYS);
}

int session_lock_take(session *s, gerr *err)
{
    const char *gitdir = git_repository_path(s->repo);
    snprintf(s->lock_path, sizeof s->lock_path, "%sgevo.lock", gitdir);
    /* flock is released by the kernel when the holder dies, so a dead
     * writer's lock is free; the file's text names the holder. */
    int fd = open(s->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return gerr_errno(err, "cannot open lock %s", s->lock_path);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char *c = read_small(s->lock_path);
        describe_holder(c ? c : "", s->holder, sizeof s->holder);
        free(c);
        close(fd);
        return gerr_set(err,
                        "session %s is being written by another gevo (%s); "
                        "stop it, or open the session read-only",
                        s->workdir, s->holder);
    }
    char old[512] = "";
    ssize_t r = pread(fd, old, sizeof old - 1, 0);
    if (r > 0) {
        /* Non-empty: the previous writer died without closing. */
        old[r] = 0;
        clear_stale_git_locks(s);
    }
    char host[128] = "localhost";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = 0;
    char text[256];
    int len = snprintf(text, sizeof text, "%ld %s %ld\n", (long)getpid(), host, (long)time(NULL));
    if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)len, 0) != len) {
        gerr_errno(err, "cannot write lock %s", s->lock_path);
        close(fd);
        return -1;
    }
    s->lock_fd = fd;
    s->writer = true;
    s->holder[0] = 0;
    return 0;
}

void session_unlock(session *s)
{
    if (!s->writer || s->lock_fd < 0)
        return;
    /* Emptied, not removed: removing would let two processes lock two
     * different files under the same name. */
    if (ftruncate(s->lock_fd, 0) != 0) {
        /* the lock is released below anyway */
    }
    close(s->lock_fd);
    s->lock_fd = -1;
    s->writer = false;
}

/* The holder, for a reader: only while someone holds the flock. */
static void probe_holder(session *s)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%sgevo.lock", git_repository_path(s->repo));
    s->holder[0] = 0;
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
        flock(fd, LOCK_UN);
    } else {
        char *c = read_small(p);
        describe_holder(c ? c : "", s->holder, sizeof s->holder);
        free(c);
    }
    close(fd);
}

/* ---- configuration --------------------------------------------------- */

/* No LLM is configured by default: without one gevo uses the offline
 * proposer, and a session never points at a server nobody set up. */
static json_t *config_default(void)
{
    return json_pack("{s:i, s:s, s:s, s:s, s:{s:s, s:s, s:s}}", "version", 1, "data", "", "seed",
                     "", "preset", "default", "llm", "base_url", "", "model", "", "api_key_env",
                     "OPENAI_API_KEY");
}

int session_write_json(session *s, const char *name, json_t *j, size_t flags, gerr *err)
{
    char *text = session_json_text(j, flags, name, err);
    if (!text)
        return -1;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s%s", s->workdir, name);
    int rc = file_write(path, text, strlen(text), err);
    free(text);
    return rc;
}

int session_config_save(session *s, gerr *err)
{
    return session_write_json(s, SESSION_CONFIG, s->config, JSON_INDENT(2) | JSON_SORT_KEYS, err);
}

int session_config_load(session *s, gerr *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s%s", s->workdir, SESSION_CONFIG);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    if (!j && access(path, F_OK) != 0) {
        /* Not in the working tree: take the journal's copy. */
        git_object *o = NULL;
        if (git_revparse_single(&o, s->repo, "journal:" SESSION_CONFIG) == 0 &&
            git_object_type(o) == GIT_OBJECT_BLOB) {
            git_blob *b = (git_blob *)o;
            j = json_loadb(git_blob_rawcontent(b), (size_t)git_blob_rawsize(b), 0, &je);
        }
        git_object_free(o);
        if (!j)
            j = config_default();
    }
    if (!j || !json_is_object(j)) {
        json_decref(j);
        return gerr_set(err,
                        "%s: line %d: %s (fix the file or restore it with "
                        "'git checkout journal -- gevo.json')",
                        path, je.line, je.text);
    }
    json_decref(s->config);
    s->config = j;
    json_decref(s->config_text);
    s->config_text = NULL;
    return 0;
}

static json_t *config_lookup(json_t *root, const char *key, bool create, const char **leaf)
{
    char part[128];
    json_t *cur = root;
    const char *p = key;
    for (;;) {
        const char *dot = strchr(p, '.');
        if (!dot) {
            *leaf = p;
            return cur;
        }
        size_t n = (size_t)(dot - p);
        if (n == 0 || n >= sizeof part)
            return NULL;
        memcpy(part, p, n);
        part[n] = 0;
        json_t *next = json_object_get(cur, part);
        if (!next) {
            if (!create)
                return NULL;
            next = json_object();
            json_object_set_new(cur, part, next);
        }
        if (!json_is_object(next))
            return NULL;
        cur = next;
        p = dot + 1;
    }
}

const char *session_config_get(session *s, const char *key)
{
    const char *leaf;
    json_t *obj = config_lookup(s->config, key, false, &leaf);
    json_t *v = obj ? json_object_get(obj, leaf) : NULL;
    if (json_is_string(v))
        return json_string_value(v);
    /* People write "eta": 3 as often as "eta": "3": a number (or true,
       false) is its text, so the setting is read, and checked by its
       reader, instead of silently taking the default. */
    char buf[64];
    if (json_is_integer(v))
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, sizeof buf, "%.17g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, sizeof buf, "%s", json_is_true(v) ? "true" : "false");
    else
        return NULL;
    if (!s->config_text && !(s->config_text = json_object()))
        return NULL;
    json_t *t = json_object_get(s->config_text, key);
    if (!t || strcmp(json_string_value(t), buf)) {
        if (json_object_set_new(s->config_text, key, json_string(buf)))
            return NULL;
        t = json_object_get(s->config_text, key);
    }
    return json_string_value(t);
}

struct json_t *session_config_node(session *s, const char *key)
{
    const char *leaf;
    json_t *obj = config_lookup(s->config, key, false, &leaf);
    return obj ? json_object_get(obj, leaf) : NULL;
}

/* The most key variables a session's settings can name: the shared one
 * and one per "models" entry (core/llm_settings.h caps the entries). */
#define KEY_VARS_MAX 33

/* The keys the LLM clients send: the variables the settings name, as
 * core/llm_settings.c resolves them (GEVO_LLM_API_KEY_ENV over gevo.json's
 * llm.api_key_env over core/llm.c's default, and each "models" entry's own
 * api_key_env), so that what is scrubbed is what a server may echo.
 * Returns how many values were found (each at least 4 bytes long). */
static int api_key_values(session *s, const char **out)
{
    const char *names[KEY_VARS_MAX];
    int n_names = 0, n = 0;
    const char *name = getenv("GEVO_LLM_API_KEY_ENV");
    if (!name || !name[0])
        name = session_config_get(s, "llm.api_key_env");
    if (!name || !name[0])
        name = "OPENAI_API_KEY";
    names[n_names++] = name;
    json_t *models = session_config_node(s, "models"), *m;
    size_t i;
    json_array_foreach(models, i, m)
    {
        json_t *v = json_object_get(m, "api_key_env");
        if (json_is_string(v) && json_string_length(v) && n_names < KEY_VARS_MAX)
            names[n_names++] = json_string_value(v);
    }
    for (int k = 0; k < n_names; k++) {
        const char *v = getenv(names[k]);
        if (v && strlen(v) >= 4)
            out[n++] = v;
    }
    return n;
}

int session_config_set(session *s, const char *key, const char *value, gerr *err)
{
    if (session_require_writer(s, err) != 0)
        return -1;
    if (!key || !key[0] || !value)
        return gerr_set(err, "config: a key and a value are needed");
    if (strcasestr(key, "key") && strcmp(key, "llm.api_key_env") != 0)
        return gerr_set(err,
                        "config: '%s' looks like a secret; store the name of the environment "
                        "variable that holds it in llm.api_key_env instead",
                        key);
    if (!strcmp(key, "llm.api_key_env")) {
        for (const char *c = value; *c; c++)
            if (!(*c == '_' || (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
                  (*c >= '0' && *c <= '9')))
                return gerr_set(err, "config: llm.api_key_env must be the NAME of an environment "
                                     "variable (letters, digits, '_'), not its value");
    }
    const char *secrets[KEY_VARS_MAX];
    int n_secrets = api_key_values(s, secrets);
    for (int k = 0; k < n_secrets; k++)
        if (strstr(value, secrets[k]))
            return gerr_set(err, "config: the value of %s contains an API key; it is never stored",
                            key);
    const char *leaf;
    json_t *obj = config_lookup(s->config, key, true, &leaf);
    if (!obj || !leaf[0])
        return gerr_set(err, "config: bad key '%s'", key);
    json_object_set_new(obj, leaf, json_string(value));
    if (s->config_text)
        json_object_del(s->config_text, key);
    return session_config_save(s, err);
}

/* text with every occurrence of secret replaced (malloc'd, NULL when out
 * of memory). */
static char *redact(const char *text, const char *secret)
{
    size_t sl = strlen(secret);
    strbuf sb = STRBUF_INIT;
    const char *p = text, *q;
    while ((q = strstr(p, secret))) {
        strbuf_add(&sb, p, (size_t)(q - p));
        strbuf_addstr(&sb, "[redacted]");
        p = q + sl;
    }
    strbuf_addstr(&sb, p);
    if (sb.failed) {
        strbuf_release(&sb);
        return NULL;
    }
    return strbuf_detach(&sb, NULL);
}

char *session_scrub(session *s, const char *text)
{
    const char *secrets[KEY_VARS_MAX];
    int n = api_key_values(s, secrets);
    char *out = strdup(text ? text : "");
    for (int k = 0; out && k < n; k++) {
        if (!strstr(out, secrets[k]))
            continue;
        char *next = redact(out, secrets[k]);
        free(out);
        out = next;
    }
    return out;
}

/* ---- identities ------------------------------------------------------ */

int session_researcher(session *s, git_signature **out, gerr *err)
{
    if (git_signature_default(out, s->repo) == 0)
        return 0;
    const char *user = getenv("USER");
    if (!user || !user[0])
        user = "researcher";
    char host[128] = "localhost", email[300];
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = 0;
    snprintf(email, sizeof email, "%s@%s", user, host);
    return session_git(git_signature_now(out, user, email), err, "researcher's signature");
}

int session_gevo_signature(git_signature **out, gerr *err)
{
    return session_git(git_signature_now(out, "gevo", "gevo@localhost"), err, "gevo's signature");
}

/* ---- create and open --------------------------------------------------- */

static session *session_alloc(git_repository *repo)
{
    session *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->repo = repo;
    s->lock_fd = -1;
    const char *wd = git_repository_workdir(repo);
    size_t n = strlen(wd);
    s->workdir = malloc(n + 2);
    if (!s->workdir) {
        free(s);
        return NULL;
    }
    memcpy(s->workdir, wd, n + 1);
    if (n == 0 || wd[n - 1] != '/')
        strcat(s->workdir, "/");
    return s;
}

void session_close(session *s)
{
    if (!s)
        return;
    session_unlock(s);
    json_decref(s->config);
    json_decref(s->config_text);
    git_repository_free(s->repo);
    free(s->numbers);
    free(s->workdir);
    free(s);
}

static int dir_is_empty(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    int empty = 1;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            empty = 0;
            break;
        }
    closedir(d);
    return empty;
}

static int copy_prompts(session *s, const char *from, gerr *err)
{
    DIR *d = from ? opendir(from) : NULL;
    if (!d)
        return 0; /* no templates is fine */
    char dst[PATH_MAX];
    snprintf(dst, sizeof dst, "%sprompts", s->workdir);
    if (mkdir(dst, 0755) != 0 && errno != EEXIST) {
        gerr_errno(err, "cannot create %s", dst);
        closedir(d);
        return -1;
    }
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".txt") || e->d_name[0] == '.')
            continue;
        char src[PATH_MAX + 256], out[PATH_MAX + 256];
        snprintf(src, sizeof src, "%s/%s", from, e->d_name);
        snprintf(out, sizeof out, "%s/%s", dst, e->d_name);
        char *buf = NULL;
        if (file_read(src, SESSION_TEXT_MAX, &buf, NULL, err) != 0) {
            rc = gerr_prefix(err, "cannot copy the prompt template");
            break;
        }
        char *clean = session_scrub(s, buf);
        rc = clean ? file_write(out, clean, strlen(clean), err)
                   : gerr_set(err, "%s: out of memory", src);
        free(clean);
        free(buf);
    }
    closedir(d);
    return rc;
}

int session_create(session **out, const char *dir, const session_create_opts *o, gerr *err)
{
    lib_init();
    *out = NULL;
    if (!dir || !dir[0])
        return gerr_set(err, "new: a folder is needed");
    if (!o || !o->seed_path)
        return gerr_set(err, "new: a seed network is needed");
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            return gerr_set(err, "%s exists and is not a folder", dir);
        if (dir_is_empty(dir) != 1)
            return gerr_set(err, "%s exists and is not empty; choose a new folder", dir);
    }
    size_t seed_len = 0;
    char *seed = NULL;
    if (file_read(o->seed_path, SESSION_TEXT_MAX, &seed, &seed_len, err) != 0)
        return gerr_prefix(err, "cannot read the seed");
    if (memchr(seed, 0, seed_len)) {
        free(seed);
        return gerr_set(err, "the seed %s is not a text file", o->seed_path);
    }

    git_repository_init_options io;
    git_repository_init_options_init(&io, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
    io.flags = GIT_REPOSITORY_INIT_MKPATH | GIT_REPOSITORY_INIT_NO_REINIT;
    io.initial_head = "journal";
    io.description = "gevo evolution session";
    git_repository *repo = NULL;
    if (session_git(git_repository_init_ext(&repo, dir, &io), err, "%s", dir) != 0) {
        free(seed);
        return -1;
    }
    session *s = session_alloc(repo);
    if (!s) {
        git_repository_free(repo);
        free(seed);
        return gerr_set(err, "%s: out of memory", dir);
    }
    int rc = session_lock_take(s, err);
    git_config *cfg = NULL;
    /* Plain `git log` then shows results and reviews under each commit. */
    if (rc == 0 && git_repository_config(&cfg, repo) == 0) {
        git_config_set_string(cfg, "notes.displayRef", "refs/notes/*");
        git_config_set_string(cfg, "gevo.session", "1");
        git_config_free(cfg);
    }
    if (rc == 0) {
        s->config = config_default();
        char abs_seed[PATH_MAX], abs_data[PATH_MAX];
        const char *seed_name = realpath(o->seed_path, abs_seed) ? abs_seed : o->seed_path;
        const char *data = o->data_dir ? o->data_dir : "";
        if (data[0] && realpath(data, abs_data))
            data = abs_data;
        json_object_set_new(s->config, "seed", json_string(seed_name));
        json_object_set_new(s->config, "data", json_string(data));
        json_object_set_new(s->config, "preset", json_string(o->preset ? o->preset : "default"));
        rc = session_config_save(s, err);
    }
    if (rc == 0)
        rc = copy_prompts(s, o->prompts_dir, err);
    char id[SESSION_ID_MAX];
    if (rc == 0) {
        const char *base = strrchr(o->seed_path, '/');
        char summary[300];
        snprintf(summary, sizeof summary, "seed network %s", base ? base + 1 : o->seed_path);
        session_new in = {
            .generation = 0, .op = "seed", .persona = "", .summary = summary, .genome = seed};
        rc = session_add(s, &in, id, err);
    }
    if (rc == 0) {
        const char *pop[1] = {id};
        rc = session_journal_add(s, 0, pop, 1, pop, 1, err);
    }
    free(seed);
    if (rc != 0) {
        session_close(s);
        return -1;
    }
    *out = s;
    return 0;
}

int session_open(session **out, const char *dir, session_mode mode, gerr *err)
{
    lib_init();
    *out = NULL;
    git_repository *repo = NULL;
    if (git_repository_open_ext(&repo, dir, 0, NULL) != 0)
        return gerr_set(err,
                        "%s is not a gevo session (no git repository there; create one "
                        "with 'gevo new %s')",
                        dir, dir);
    if (git_repository_is_bare(repo)) {
        git_repository_free(repo);
        return gerr_set(err, "%s is a bare repository, not a gevo session", dir);
    }
    git_reference *j = NULL;
    if (git_reference_lookup(&j, repo, SESSION_REF_JOURNAL) != 0) {
        git_repository_free(repo);
        return gerr_set(err,
                        "%s is a git repository but not a gevo session (it has no "
                        "'journal' branch)",
                        dir);
    }
    git_reference_free(j);
    session *s = session_alloc(repo);
    if (!s) {
        git_repository_free(repo);
        return gerr_set(err, "%s: out of memory", dir);
    }
    /* SESSION_WRITE_OR_READ falls back to reading: the lock's message is
     * then no error of the caller's. */
    if (mode != SESSION_READ && session_lock_take(s, mode == SESSION_WRITE ? err : NULL) != 0) {
        if (mode == SESSION_WRITE) {
            session_close(s);
            return -1;
        }
    }
    if (!s->writer)
        probe_holder(s);
    if (session_config_load(s, err) != 0) {
        session_close(s);
        return -1;
    }
    *out = s;
    return 0;
}
