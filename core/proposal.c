/* proposal: see proposal.h. Answers are read line by line; LLMs vary in
 * how they fence code, so the reader is lenient where the meaning is
 * clear and precise in its error where it is not. */
#include "core/proposal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/grow.h"
#include "engine/base/strbuf.h"

#define MAX_GENES 512

/* ---- lines ------------------------------------------------------------ */

typedef struct line {
    const char *s;
    size_t n; /* without the '\n' */
} line;

/* Splits text (LF only) into lines; the last line may lack '\n'. A final
 * empty piece after a trailing '\n' is not a line. */
static line *split_lines(const char *text, int *count)
{
    size_t len = strlen(text), alloc = 0;
    int n = 0;
    line *v = NULL;
    if (ALLOC_GROW(v, 16, alloc) != 0)
        return NULL;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (ALLOC_GROW(v, (size_t)n + 1, alloc) != 0) {
            free(v);
            return NULL;
        }
        v[n].s = p;
        v[n].n = l;
        n++;
        p += l + (nl ? 1 : 0);
    }
    *count = n;
    return v;
}

static size_t indent_of(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    return i;
}

static bool blank(const char *s, size_t n)
{
    return indent_of(s, n) == n;
}

/* Appends n bytes of s and a '\n'. */
static void add_line(strbuf *sb, const char *s, size_t n)
{
    strbuf_add(sb, s, n);
    strbuf_addch(sb, '\n');
}

/* s[*from, end) without the blanks at either end of s[0, n): sets *from,
 * returns end. */
static size_t trim(const char *s, size_t n, size_t *from)
{
    size_t a = 0;
    while (a < n && isspace((unsigned char)s[a]))
        a++;
    while (n > a && isspace((unsigned char)s[n - 1]))
        n--;
    *from = a;
    return n;
}

/* Removes the common indentation of the non-blank lines; blank lines
 * become empty. The result ends with '\n' (unless empty). */
static char *dedent(const char *text)
{
    int n;
    line *v = split_lines(text, &n);
    if (!v)
        return NULL;
    size_t common = (size_t)-1;
    for (int i = 0; i < n; i++)
        if (!blank(v[i].s, v[i].n)) {
            size_t k = indent_of(v[i].s, v[i].n);
            if (k < common)
                common = k;
        }
    if (common == (size_t)-1)
        common = 0;
    /* drop blank lines at both ends */
    int a = 0, b = n;
    while (a < b && blank(v[a].s, v[a].n))
        a++;
    while (b > a && blank(v[b - 1].s, v[b - 1].n))
        b--;
    strbuf out = STRBUF_INIT;
    for (int i = a; i < b; i++) {
        bool empty = blank(v[i].s, v[i].n);
        add_line(&out, v[i].s + (empty ? 0 : common), empty ? 0 : v[i].n - common);
    }
    free(v);
    return strbuf_detach(&out, NULL);
}

/* ---- parsing ---------------------------------------------------------- */

void proposal_release(proposal *p)
{
    free(p->reasoning);
    for (int i = 0; i < p->n_blocks; i++)
        free(p->blocks[i].text);
    free(p->blocks);
    for (int i = 0; i < p->n_edits; i++) {
        free(p->edits[i].search);
        free(p->edits[i].replace);
    }
    free(p->edits);
    memset(p, 0, sizeof *p);
}

static int add_block(proposal *p, const char *lang, const char *text, bool closed, bool fenced,
                     int lineno)
{
    if (ALLOC_GROW(p->blocks, (size_t)p->n_blocks + 1, p->alloc_blocks) != 0)
        return -1;
    proposal_code *b = &p->blocks[p->n_blocks];
    memset(b, 0, sizeof *b);
    snprintf(b->lang, sizeof b->lang, "%s", lang);
    b->text = dedent(text);
    if (!b->text)
        return -1;
    b->closed = closed;
    b->fenced = fenced;
    b->line = lineno;
    p->n_blocks++;
    return 0;
}

/* A marker line: "<<<<<<< SEARCH", "=======", ">>>>>>> REPLACE" (five or
 * more characters; aider writes seven). */
static bool marker(const char *s, size_t n, char ch, const char *word)
{
    size_t i = indent_of(s, n), k = 0;
    while (i < n && s[i] == ch)
        i++, k++;
    if (k < 5)
        return false;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    size_t wl = strlen(word);
    if (wl) {
        if (n - i < wl || strncasecmp(s + i, word, wl))
            return false;
        i += wl;
    }
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
        i++;
    return i == n;
}

static bool is_search(const line *l)
{
    return marker(l->s, l->n, '<', "SEARCH");
}

static char *join(const line *v, int a, int b)
{
    strbuf out = STRBUF_INIT;
    for (int i = a; i < b; i++)
        add_line(&out, v[i].s, v[i].n);
    return strbuf_detach(&out, NULL);
}

/* Parses SEARCH/REPLACE edits from lines [i, n); returns the index after
 * the last one read, or -1 when out of memory. */
static int parse_edits(proposal *p, const line *v, int i, int n)
{
    while (i < n && is_search(&v[i])) {
        int s = i + 1, mid = -1, end = -1;
        for (int j = s; j < n; j++) {
            if (mid < 0 && marker(v[j].s, v[j].n, '=', ""))
                mid = j;
            else if (mid >= 0 && marker(v[j].s, v[j].n, '>', "REPLACE")) {
                end = j;
                break;
            }
        }
        if (mid < 0 || end < 0) {
            p->edit_unclosed = true;
            return n;
        }
        if (ALLOC_GROW(p->edits, (size_t)p->n_edits + 1, p->alloc_edits) != 0)
            return -1;
        proposal_edit *e = &p->edits[p->n_edits];
        e->search = join(v, s, mid);
        e->replace = join(v, mid + 1, end);
        if (!e->search || !e->replace) {
            free(e->search);
            free(e->replace);
            return -1;
        }
        p->n_edits++;
        i = end + 1;
        while (i < n && blank(v[i].s, v[i].n))
            i++;
    }
    return i;
}

/* Recognises an opening fence: ``` or ~~~ (three or more), an optional
 * language tag, and possibly code on the same line (a broken fence). */
static bool fence_open(const char *t, size_t n, char *fch, size_t *flen, char *lang,
                       size_t langsize, const char **rest, size_t *restn)
{
    if (n < 3 || (t[0] != '`' && t[0] != '~'))
        return false;
    size_t k = 0;
    while (k < n && t[k] == t[0])
        k++;
    if (k < 3)
        return false;
    *fch = t[0];
    *flen = k;
    size_t i = k;
    while (i < n && t[i] == ' ')
        i++;
    size_t s = i;
    while (i < n && (isalnum((unsigned char)t[i]) || strchr("_+-.#", t[i])))
        i++;
    bool tag = i == n || t[i] == ' ' || t[i] == '\t' || t[i] == '\r';
    if (n - s > 4 && (!strncmp(t + s, "def ", 4) || !strncmp(t + s, "input ", 6)))
        tag = false; /* "```def se(x):" */
    if (tag) {
        snprintf(lang, langsize, "%.*s", (int)(i - s), t + s);
        while (i < n && isspace((unsigned char)t[i]))
            i++;
    } else { /* "```def se(x):": the "tag" is code */
        lang[0] = '\0';
        i = s;
    }
    /* a tag followed by more words ("```gevo title=x") is still a tag line,
     * unless what follows looks like code */
    *rest = t + i;
    *restn = n - i;
    if (tag && *restn && !(strncmp(*rest, "def ", 4) == 0 || strchr(*rest, '(')))
        *restn = 0;
    return true;
}

static bool fence_close(const char *t, size_t n, char fch, size_t flen)
{
    size_t k = 0;
    while (k < n && t[k] == fch)
        k++;
    if (k < flen)
        return false;
    while (k < n && isspace((unsigned char)t[k]))
        k++;
    return k == n;
}

/* "code```" on one line: returns the length of the code part, or -1. */
static long trailing_fence(const char *s, size_t n, char fch)
{
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    size_t k = 0;
    while (k < n && s[n - 1 - k] == fch)
        k++;
    if (k < 3 || k == n)
        return -1;
    return (long)(n - k);
}

/* Moves <think>...</think> spans of text to think (both LF strings). */
static char *strip_think(const char *text, strbuf *think)
{
    strbuf out = STRBUF_INIT;
    const char *p = text;
    for (;;) {
        const char *a = strstr(p, "<think>");
        if (!a) {
            strbuf_addstr(&out, p);
            break;
        }
        strbuf_add(&out, p, (size_t)(a - p));
        a += 7;
        const char *b = strstr(a, "</think>");
        if (!b) { /* cut off while thinking */
            strbuf_addstr(think, a);
            break;
        }
        add_line(think, a, (size_t)(b - a));
        p = b + 8;
    }
    return strbuf_detach(&out, NULL);
}

/* A bare "def name(...):" line (any indentation): the start of unfenced code. */
static bool bare_def(const char *s, size_t n)
{
    size_t i = indent_of(s, n);
    if (n - i < 6 || strncmp(s + i, "def ", 4))
        return false;
    i += 4;
    while (i < n && s[i] == ' ')
        i++;
    size_t st = i;
    while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '_'))
        i++;
    if (i == st || i >= n || s[i] != '(')
        return false;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    return n && s[n - 1] == ':';
}

int proposal_parse(proposal *p, const char *answer, size_t len)
{
    memset(p, 0, sizeof *p);
    /* LF only, no NUL inside */
    char *txt = malloc(len + 1);
    if (!txt)
        return -1;
    size_t m = 0;
    for (size_t i = 0; i < len; i++) {
        if (answer[i] == '\r' && (i + 1 == len || answer[i + 1] == '\n'))
            continue;
        if (answer[i] == '\0')
            continue;
        txt[m++] = answer[i] == '\r' ? '\n' : answer[i];
    }
    txt[m] = '\0';
    strbuf think = STRBUF_INIT, prose = STRBUF_INIT;
    char *body = strip_think(txt, &think);
    free(txt);
    int n = 0;
    line *v = body ? split_lines(body, &n) : NULL;
    if (!v)
        goto oom;
    /* prose lines, kept as indices so a bare def can be cut out later */
    int *pl = malloc((size_t)(n + 1) * sizeof *pl), npl = 0;
    if (!pl)
        goto oom;
    int i = 0;
    while (i < n) {
        const char *t = v[i].s + indent_of(v[i].s, v[i].n);
        size_t tn = v[i].n - (size_t)(t - v[i].s);
        char fch, lang[32];
        size_t flen, restn;
        const char *rest;
        if (fence_open(t, tn, &fch, &flen, lang, sizeof lang, &rest, &restn)) {
            size_t ind = (size_t)(t - v[i].s);
            strbuf cb = STRBUF_INIT;
            if (restn) {
                long k = trailing_fence(rest, restn, fch);
                add_line(&cb, rest, k >= 0 ? (size_t)k : restn);
            }
            int j = i + 1;
            bool closed = false;
            bool one_line = restn && trailing_fence(rest, restn, fch) >= 0;
            if (one_line) {
                closed = true;
                j = i;
            }
            for (; !closed && j < n; j++) {
                const char *tj = v[j].s + indent_of(v[j].s, v[j].n);
                size_t tjn = v[j].n - (size_t)(tj - v[j].s);
                if (fence_close(tj, tjn, fch, flen)) {
                    closed = true;
                    break;
                }
                size_t cut = indent_of(v[j].s, v[j].n) < ind ? indent_of(v[j].s, v[j].n) : ind;
                long k = trailing_fence(v[j].s + cut, v[j].n - cut, fch);
                if (k >= 0) { /* "    return y```" */
                    add_line(&cb, v[j].s + cut, (size_t)k);
                    closed = true;
                    break;
                }
                add_line(&cb, v[j].s + cut, v[j].n - cut);
            }
            char *code = strbuf_detach(&cb, NULL);
            if (!code) {
                free(pl);
                goto oom;
            }
            int cn = 0;
            line *cv = split_lines(code, &cn);
            int first = 0;
            while (cv && first < cn && blank(cv[first].s, cv[first].n))
                first++;
            int rc = 0;
            if (cv && first < cn && is_search(&cv[first]))
                rc = parse_edits(p, cv, first, cn) < 0 ? -1 : 0;
            else if (cv && !blank(code, strlen(code)))
                rc = add_block(p, lang, code, closed, true, i + 1);
            free(cv);
            free(code);
            if (rc || !cv) {
                free(pl);
                goto oom;
            }
            i = j + 1;
            continue;
        }
        if (is_search(&v[i])) {
            int k = parse_edits(p, v, i, n);
            if (k < 0) {
                free(pl);
                goto oom;
            }
            i = k;
            continue;
        }
        pl[npl++] = i;
        i++;
    }
    /* no fence and no edit: look for a bare def block in the prose */
    bool *cut = calloc((size_t)n + 1, sizeof *cut);
    if (!cut) {
        free(pl);
        goto oom;
    }
    if (p->n_blocks == 0 && p->n_edits == 0) {
        for (int a = 0; a < npl; a++) {
            const line *l = &v[pl[a]];
            if (!bare_def(l->s, l->n))
                continue;
            size_t ind = indent_of(l->s, l->n);
            int b = a + 1, last = a;
            /* the body: more indented lines, blank lines between them, and
             * further defs at the same indentation (helpers) */
            while (b < npl && pl[b] == pl[b - 1] + 1) {
                const line *x = &v[pl[b]];
                if (blank(x->s, x->n)) {
                    b++;
                    continue;
                }
                size_t xi = indent_of(x->s, x->n);
                if (xi > ind || (xi == ind && bare_def(x->s, x->n))) {
                    last = b++;
                    continue;
                }
                break;
            }
            strbuf cb = STRBUF_INIT;
            for (int k = a; k <= last; k++) {
                add_line(&cb, v[pl[k]].s, v[pl[k]].n);
                cut[pl[k]] = true;
            }
            char *code = strbuf_detach(&cb, NULL);
            int rc = code ? add_block(p, "", code, true, false, pl[a] + 1) : -1;
            free(code);
            if (rc) {
                free(cut);
                free(pl);
                goto oom;
            }
            a = last;
        }
    }
    /* reasoning: think text, then the prose, blank runs collapsed */
    size_t ta = 0, tb = trim(think.buf, think.len, &ta);
    if (tb > ta) {
        strbuf_add(&prose, think.buf + ta, tb - ta);
        strbuf_addstr(&prose, "\n\n");
    }
    bool gap = false, wrote = false;
    for (int a = 0; a < npl; a++) {
        const line *l = &v[pl[a]];
        if (a > 0 && pl[a] != pl[a - 1] + 1)
            gap = true;                        /* a fence was here */
        if (cut[pl[a]] || blank(l->s, l->n)) { /* code cut out is a paragraph break */
            gap = true;
            continue;
        }
        if (gap && wrote)
            strbuf_addch(&prose, '\n');
        gap = false;
        wrote = true;
        add_line(&prose, l->s, l->n);
    }
    free(cut);
    free(pl);
    size_t a = 0, b = trim(prose.buf, prose.len, &a);
    p->reasoning = prose.failed || think.failed ? NULL : strndup(prose.buf + a, b - a);
    if (!p->reasoning)
        goto oom;
    strbuf_release(&prose);
    strbuf_release(&think);
    free(v);
    free(body);
    return 0;
oom:
    strbuf_release(&think);
    strbuf_release(&prose);
    free(v);
    free(body);
    proposal_release(p);
    return -1;
}

/* ---- applying --------------------------------------------------------- */

static int find_block(const char *src, const char *name, net_block *out, int *count, net_block *all,
                      int max)
{
    int n = net_list_blocks(src, strlen(src), all, max);
    if (count)
        *count = n;
    for (int i = 0; i < n; i++)
        if (!strcmp(all[i].name, name)) {
            if (out)
                *out = all[i];
            return i;
        }
    return -1;
}

/* Lines [first, last] (1-based) of src, as a string ending in '\n'. */
static char *slice_lines(const char *src, int first, int last)
{
    int n;
    line *v = split_lines(src, &n);
    if (!v)
        return NULL;
    if (last > n)
        last = n;
    char *s = join(v, first - 1, last);
    free(v);
    return s;
}

static void block_names(const net_block *b, int n, char *out, size_t size)
{
    size_t k = 0;
    out[0] = '\0';
    for (int i = 0; i < n && k + 1 < size; i++) {
        int w = snprintf(out + k, size - k, "%s%s", i ? ", " : "", b[i].name);
        if (w < 0)
            break;
        k += (size_t)w;
    }
    if (!out[0])
        snprintf(out, size, "none");
}

int proposal_replace_gene(const char *src, const char *name, const char *gene, char **out,
                          gerr *err)
{
    net_block all[MAX_GENES];
    net_block b;
    int n;
    *out = NULL;
    if (find_block(src, name, &b, &n, all, MAX_GENES) < 0) {
        char names[512];
        block_names(all, n < 0 ? 0 : n, names, sizeof names);
        gerr_set(err, "the program has no block `%s` to replace (its blocks: %s)", name, names);
        return -1;
    }
    int nl;
    line *v = split_lines(src, &nl);
    if (!v)
        goto oom;
    strbuf o = STRBUF_INIT;
    for (int i = 0; i < b.first_line - 1 && i < nl; i++)
        add_line(&o, v[i].s, v[i].n);
    strbuf_addstr(&o, gene);
    size_t gl = strlen(gene);
    if (gl && gene[gl - 1] != '\n')
        strbuf_addch(&o, '\n');
    for (int i = b.last_line; i < nl; i++) {
        strbuf_add(&o, v[i].s, v[i].n);
        if (i + 1 < nl || src[strlen(src) - 1] == '\n')
            strbuf_addch(&o, '\n');
    }
    free(v);
    *out = strbuf_detach(&o, NULL);
    if (!*out)
        goto oom;
    return 0;
oom:
    gerr_set(err, "out of memory");
    return -1;
}

/* Whitespace-insensitive form of a line: all blanks dropped ("relu( x )"
 * is "relu(x)"); in gevo-net no two programs differ only there. */
static void squash(const char *s, size_t n, char *out, size_t size)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < size; i++)
        if (!isspace((unsigned char)s[i]))
            out[k++] = s[i];
    out[k] = '\0';
}

static bool same_line(const line *a, const line *b)
{
    char x[1024], y[1024];
    squash(a->s, a->n, x, sizeof x);
    squash(b->s, b->n, y, sizeof y);
    return !strcmp(x, y);
}

static size_t count_occurrences(const char *hay, const char *needle, const char **first)
{
    size_t c = 0, nl = strlen(needle);
    *first = NULL;
    for (const char *p = hay; (p = strstr(p, needle)); p += nl ? nl : 1) {
        if (!c)
            *first = p;
        c++;
    }
    return c;
}

static char *splice(const char *src, size_t at, size_t cutlen, const char *ins)
{
    size_t sl = strlen(src), il = strlen(ins);
    char *o = malloc(sl - cutlen + il + 1);
    if (!o)
        return NULL;
    memcpy(o, src, at);
    memcpy(o + at, ins, il);
    memcpy(o + at + il, src + at + cutlen, sl - at - cutlen + 1);
    return o;
}

/* One edit on cur; returns the new text or NULL with err. */
static char *apply_one(const char *cur, const proposal_edit *e, int k, gerr *err)
{
    const char *at;
    const char *q = e->search;
    while (isspace((unsigned char)*q))
        q++;
    if (!*q) {
        gerr_set(err,
                 "edit %d: the SEARCH part is empty; copy the lines to change from the program "
                 "into it",
                 k);
        return NULL;
    }
    size_t c = count_occurrences(cur, e->search, &at);
    if (c == 1)
        return splice(cur, (size_t)(at - cur), strlen(e->search), e->replace);
    if (c > 1)
        goto ambiguous;
    /* line by line, whitespace ignored, blank lines at the ends of SEARCH dropped */
    int sn, cn;
    line *sv = split_lines(e->search, &sn), *cv = split_lines(cur, &cn);
    if (!sv || !cv) {
        free(sv);
        free(cv);
        gerr_set(err, "out of memory");
        return NULL;
    }
    int a = 0, b = sn;
    while (a < b && blank(sv[a].s, sv[a].n))
        a++;
    while (b > a && blank(sv[b - 1].s, sv[b - 1].n))
        b--;
    int hits = 0, where = -1;
    for (int i = 0; i + (b - a) <= cn; i++) {
        int j = 0;
        while (j < b - a && same_line(&cv[i + j], &sv[a + j]))
            j++;
        if (j == b - a) {
            if (!hits)
                where = i;
            hits++;
        }
    }
    if (hits != 1) {
        char first[120];
        snprintf(first, sizeof first, "%.*s", (int)(sv[a].n < 100 ? sv[a].n : 100), sv[a].s);
        free(sv);
        free(cv);
        if (hits > 1) {
            c = (size_t)hits;
            goto ambiguous;
        }
        gerr_set(err,
                 "edit %d: the SEARCH lines are not in the program (its first line: `%s`); copy "
                 "them exactly from the current program",
                 k, first);
        return NULL;
    }
    /* re-indent the replacement by the difference the match had */
    long delta = (long)indent_of(cv[where].s, cv[where].n) - (long)indent_of(sv[a].s, sv[a].n);
    size_t from = (size_t)(cv[where].s - cur);
    const line *lastl = &cv[where + (b - a) - 1];
    size_t to = (size_t)(lastl->s - cur) + lastl->n;
    if (cur[to] == '\n')
        to++;
    free(sv);
    free(cv);
    int rn;
    line *rv = split_lines(e->replace, &rn);
    if (!rv) {
        gerr_set(err, "out of memory");
        return NULL;
    }
    strbuf rep = STRBUF_INIT;
    for (int i = 0; i < rn; i++) {
        const char *s = rv[i].s;
        size_t n = rv[i].n;
        if (!blank(s, n)) {
            if (delta > 0)
                for (long d = 0; d < delta; d++)
                    strbuf_addch(&rep, ' ');
            else
                for (long d = 0; d < -delta && n && (*s == ' ' || *s == '\t'); d++)
                    s++, n--;
        }
        add_line(&rep, s, n);
    }
    free(rv);
    char *o = rep.failed ? NULL : splice(cur, from, to - from, rep.buf);
    strbuf_release(&rep);
    if (!o)
        gerr_set(err, "out of memory");
    return o;
ambiguous:
    gerr_set(err,
             "edit %d: the SEARCH lines occur %zu times in the program; include more lines so "
             "they match one place",
             k, c);
    return NULL;
}

int proposal_apply_edits(const char *src, const proposal_edit *edits, int n, char **out, gerr *err)
{
    char *cur = strdup(src);
    *out = NULL;
    if (!cur) {
        gerr_set(err, "out of memory");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        char *next = apply_one(cur, &edits[i], i + 1, err);
        free(cur);
        if (!next)
            return -1;
        cur = next;
    }
    *out = cur;
    return 0;
}

/* A top-level `input` line: the block is a whole program. */
static bool whole_program(const char *text)
{
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (!strncmp(p, "input ", 6) || !strncmp(p, "input\t", 6))
            return true;
    return false;
}

static const char *cut_off_msg =
    "the answer was cut off (the token limit was reached) before its code was complete; "
    "answer more briefly: a short explanation, then only the one block";

int proposal_apply(const proposal *p, const char *parent, const char *gene_name, bool truncated,
                   char **out, bool *whole, gerr *err)
{
    net_block pb[MAX_GENES], bb[MAX_GENES]; /* 36 KiB each: fine on a stack */
    *out = NULL;
    if (whole)
        *whole = false;
    if (p->n_edits > 0) {
        if (p->edit_unclosed && truncated) {
            gerr_set(err, "%s", cut_off_msg);
            return -1;
        }
        return proposal_apply_edits(parent, p->edits, p->n_edits, out, err);
    }
    if (p->edit_unclosed) {
        gerr_set(err, "%s",
                 truncated ? cut_off_msg
                           : "a SEARCH/REPLACE edit is not complete: each needs "
                             "<<<<<<< SEARCH, the old lines, =======, the new "
                             "lines and >>>>>>> REPLACE");
        return -1;
    }
    if (p->n_blocks == 0) {
        if (truncated)
            gerr_set(err, "%s", cut_off_msg);
        else
            gerr_set(err,
                     "the answer contains no code; give the whole new block `%s` in a ```gevo "
                     "code block, from its `def %s(` line to its return",
                     gene_name, gene_name);
        return -1;
    }
    int np = net_list_blocks(parent, strlen(parent), pb, MAX_GENES);
    bool in_parent = false;
    for (int i = 0; i < np; i++)
        in_parent |= !strcmp(pb[i].name, gene_name);
    if (!in_parent) {
        char names[512];
        block_names(pb, np, names, sizeof names);
        gerr_set(err, "the parent program has no block `%s` (its blocks: %s)", gene_name, names);
        return -1;
    }
    /* the last block that defines the gene: models often show the old
     * version first and the new one after it */
    const proposal_code *chosen = NULL;
    int nb = 0;
    for (int i = p->n_blocks - 1; i >= 0 && !chosen; i--) {
        nb = net_list_blocks(p->blocks[i].text, strlen(p->blocks[i].text), bb, MAX_GENES);
        for (int j = 0; j < nb; j++)
            if (!strcmp(bb[j].name, gene_name))
                chosen = &p->blocks[i];
    }
    if (!chosen) {
        for (int i = p->n_blocks - 1; i >= 0; i--)
            if (whole_program(p->blocks[i].text)) {
                if (!p->blocks[i].closed && truncated) {
                    gerr_set(err, "%s", cut_off_msg);
                    return -1;
                }
                if (whole)
                    *whole = true;
                *out = strdup(p->blocks[i].text);
                if (!*out)
                    gerr_set(err, "out of memory");
                return *out ? 0 : -1;
            }
        const proposal_code *last = &p->blocks[p->n_blocks - 1];
        if (!last->closed && truncated) {
            gerr_set(err, "%s", cut_off_msg);
            return -1;
        }
        char names[512] = "";
        for (int i = 0; i < p->n_blocks; i++) {
            int k = net_list_blocks(p->blocks[i].text, strlen(p->blocks[i].text), bb, MAX_GENES);
            if (k > 0 && !names[0])
                block_names(bb, k, names, sizeof names);
        }
        if (names[0])
            gerr_set(err,
                     "the code defines %s, but the task was to rewrite `%s`; give the whole new "
                     "`def %s(...)` block under that name",
                     names, gene_name, gene_name);
        else
            gerr_set(err,
                     "the code has no `def %s(...):` line; give the whole block `%s`, from its def "
                     "line to its return, not only the changed lines",
                     gene_name, gene_name);
        return -1;
    }
    if (!chosen->closed && truncated) {
        gerr_set(err, "%s", cut_off_msg);
        return -1;
    }
    if (whole_program(chosen->text)) {
        if (whole)
            *whole = true;
        *out = strdup(chosen->text);
        if (!*out)
            gerr_set(err, "out of memory");
        return *out ? 0 : -1;
    }
    /* the gene, with any new helper blocks before it; blocks the parent
     * already has are left alone (one gene changes at a time) */
    nb = net_list_blocks(chosen->text, strlen(chosen->text), bb, MAX_GENES);
    strbuf gene = STRBUF_INIT;
    char *target = NULL;
    for (int j = 0; j < nb; j++) {
        char *txt = slice_lines(chosen->text, bb[j].first_line, bb[j].last_line);
        if (!txt) {
            strbuf_release(&gene);
            free(target);
            goto oom;
        }
        bool known = false;
        for (int i = 0; i < np; i++)
            known |= !strcmp(pb[i].name, bb[j].name);
        if (!strcmp(bb[j].name, gene_name) && !target) {
            target = txt;
        } else if (!known && !target) {
            strbuf_addstr(&gene, txt);
            strbuf_addch(&gene, '\n');
            free(txt);
        } else {
            free(txt);
        }
    }
    if (target)
        strbuf_addstr(&gene, target);
    free(target);
    if (gene.failed) {
        strbuf_release(&gene);
        goto oom;
    }
    int rc = proposal_replace_gene(parent, gene_name, gene.buf, out, err);
    strbuf_release(&gene);
    return rc;
oom:
    gerr_set(err, "out of memory");
    return -1;
}

/* ---- validating ------------------------------------------------------- */

/* Compiles src; on failure err gets the compiler's whole message. */
static net_graph *compile_proposal(const char *src, const net_limits *lim, gerr *err)
{
    net_graph *g = NULL;
    net_error e;
    memset(&e, 0, sizeof e);
    if (net_compile(src, strlen(src), "proposal", lim, &g, &e)) {
        char *msg = NULL;
        size_t ml = 0;
        FILE *f = open_memstream(&msg, &ml);
        if (f) {
            net_error_print(&e, f);
            fclose(f);
        }
        if (msg) {
            while (ml && msg[ml - 1] == '\n')
                msg[--ml] = '\0';
            gerr_set(err, "%s", msg);
        } else {
            char buf[GERR_MSG_MAX];
            net_error_string(&e, buf, sizeof buf);
            gerr_set(err, "%s", buf);
        }
        free(msg);
        return NULL;
    }
    return g;
}

static void graph_numbers(const net_graph *g, long *params, double *flops, uint64_t *hash)
{
    if (params)
        *params = g->params;
    if (flops)
        *flops = g->flops;
    if (hash)
        *hash = g->hash;
}

int proposal_validate(const char *src, const net_limits *lim, const memlimit *mem, long *params,
                      double *flops, uint64_t *hash, gerr *err)
{
    net_graph *g = compile_proposal(src, lim, err);
    if (!g)
        return -1;
    int rc = memlimit_check(mem, g, err);
    if (rc == 0)
        graph_numbers(g, params, flops, hash);
    net_graph_free(g);
    return rc;
}

const char *proposal_stage_name(proposal_stage s)
{
    switch (s) {
    case PROPOSAL_OK: return "ok";
    case PROPOSAL_ERR_PARSE: return "no usable code";
    case PROPOSAL_ERR_APPLY: return "does not apply";
    case PROPOSAL_ERR_INVALID: return "invalid program";
    case PROPOSAL_ERR_UNCHANGED: return "unchanged";
    case PROPOSAL_ERR_MEMORY: return "too large to train";
    case PROPOSAL_ERR_NOMEM: return "out of memory";
    }
    return "?";
}

void proposal_outcome_release(proposal_outcome *o)
{
    free(o->reasoning);
    free(o->program);
    o->reasoning = o->program = NULL;
}

int proposal_check(const char *answer, size_t len, bool truncated, const char *parent,
                   const char *gene_name, const net_limits *lim, const memlimit *mem,
                   proposal_outcome *out)
{
    memset(out, 0, sizeof *out);
    proposal p;
    if (proposal_parse(&p, answer, len)) {
        out->stage = PROPOSAL_ERR_NOMEM;
        snprintf(out->error, sizeof out->error, "out of memory");
        return -1;
    }
    out->reasoning = p.reasoning;
    p.reasoning = NULL;
    out->n_edits = p.n_edits;
    char *prog = NULL;
    gerr err = GERR_INIT;
    if (proposal_apply(&p, parent, gene_name, truncated, &prog, &out->whole_program, &err)) {
        snprintf(out->error, sizeof out->error, "%s", err.msg);
        bool nocode = p.n_blocks == 0 && p.n_edits == 0;
        out->stage =
            nocode || strstr(out->error, "cut off") ? PROPOSAL_ERR_PARSE : PROPOSAL_ERR_APPLY;
        proposal_release(&p);
        return -1;
    }
    proposal_release(&p);
    out->program = prog;
    net_graph *g = compile_proposal(prog, lim, &err);
    if (!g) {
        snprintf(out->error, sizeof out->error, "%s", err.msg);
        out->stage = PROPOSAL_ERR_INVALID;
        return -1;
    }
    graph_numbers(g, &out->params, &out->flops, &out->hash);
    /* a valid program whose training would not fit is refused before a
       worker tries to allocate it, with the numbers the LLM can act on */
    int fits = memlimit_check(mem, g, &err);
    net_graph_free(g);
    if (fits) {
        snprintf(out->error, sizeof out->error, "%s", err.msg);
        out->stage = PROPOSAL_ERR_MEMORY;
        return -1;
    }
    uint64_t ph;
    if (proposal_validate(parent, lim, NULL, NULL, NULL, &ph, NULL) == 0 && ph == out->hash) {
        out->stage = PROPOSAL_ERR_UNCHANGED;
        snprintf(out->error, sizeof out->error,
                 "the proposal leaves the network as it was (the same program up to comments "
                 "and spacing); change the block `%s`",
                 gene_name);
        return -1;
    }
    out->stage = PROPOSAL_OK;
    return 0;
}
