/* wb_keys: the one key table. Key bindings, request names and the help
 * screen all come from here and WB_REQ_INFO (tui/wb.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui/wb.h"

#define CTRL(c) ((c)&0x1f)

// clang-format off
static const struct { int key, req; } keymap[] = {
    {KEY_UP, WB_REQ_MOVE_UP},          {'k', WB_REQ_MOVE_UP},
    {KEY_DOWN, WB_REQ_MOVE_DOWN},      {'j', WB_REQ_MOVE_DOWN},
    {KEY_PPAGE, WB_REQ_PAGE_UP},       {'-', WB_REQ_PAGE_UP},
    {KEY_NPAGE, WB_REQ_PAGE_DOWN},     {' ', WB_REQ_PAGE_DOWN},
    {KEY_HOME, WB_REQ_MOVE_FIRST},     {KEY_END, WB_REQ_MOVE_LAST},
    {'\t', WB_REQ_NEXT_PANE},          {KEY_BTAB, WB_REQ_PREV_PANE},
    {'1', WB_REQ_PANE_TREE},           {'2', WB_REQ_PANE_DIFF},
    {'3', WB_REQ_PANE_REASON},
    {'\n', WB_REQ_TOGGLE_FOLD},        {KEY_ENTER, WB_REQ_TOGGLE_FOLD},
    {'o', WB_REQ_TOGGLE_FOLD},
    {KEY_LEFT, WB_REQ_FOLD},           {'h', WB_REQ_FOLD},
    {KEY_RIGHT, WB_REQ_UNFOLD},        {'l', WB_REQ_UNFOLD},
    {'p', WB_REQ_FILTER_PENDING},      {'f', WB_REQ_FILTER_FRONT},
    {'/', WB_REQ_SEARCH},              {'n', WB_REQ_SEARCH_NEXT},
    {'N', WB_REQ_SEARCH_PREV},         {'m', WB_REQ_MARK},
    {'a', WB_REQ_APPROVE},             {'A', WB_REQ_APPROVE_ALL},
    {'r', WB_REQ_REJECT},              {'e', WB_REQ_EDIT},
    {'c', WB_REQ_ANNOTATE},            {'R', WB_REQ_REGENERATE},
    {'x', WB_REQ_CANCEL},              {'X', WB_REQ_EXPORT},
    {'>', WB_REQ_NEXT_GENERATION},     {'[', WB_REQ_GEN_BACK},
    {']', WB_REQ_GEN_FORWARD},         {'g', WB_REQ_GOTO_GEN},
    {'}', WB_REQ_HUNK_NEXT},           {'{', WB_REQ_HUNK_PREV},
    {'s', WB_REQ_DIFF_SPLIT},          {'z', WB_REQ_ZOOM},
    {'d', WB_REQ_DIFF_MODE},           {'D', WB_REQ_DIFF_MARKED},
    {'L', WB_REQ_VIEW_LINEAGE},        {'t', WB_REQ_TOGGLE_PROMPT},
    {'P', WB_REQ_VIEW_PARETO},         {'C', WB_REQ_VIEW_CURVES},
    {'E', WB_REQ_VIEW_EVENTS},         {'S', WB_REQ_VIEW_STATS},
    {'T', WB_REQ_VIEW_REPORT},
    {'?', WB_REQ_VIEW_HELP},
    {KEY_F(1), WB_REQ_VIEW_HELP},      {27, WB_REQ_VIEW_CLOSE},
    {CTRL('l'), WB_REQ_REDRAW},        {'q', WB_REQ_QUIT},
};
// clang-format on

// clang-format off
static const struct { const char *name; int key; } names[] = {
    {"Up", KEY_UP},       {"Down", KEY_DOWN},     {"Left", KEY_LEFT},   {"Right", KEY_RIGHT},
    {"PgUp", KEY_PPAGE},  {"PgDn", KEY_NPAGE},    {"Home", KEY_HOME},   {"End", KEY_END},
    {"Enter", '\n'},      {"KEnter", KEY_ENTER},  {"Tab", '\t'},        {"BackTab", KEY_BTAB},
    {"Esc", 27},          {"Space", ' '},         {"Backspace", KEY_BACKSPACE},
    {"F1", KEY_F(1)},     {"lt", '<'},            {"Resize", KEY_RESIZE},
};
// clang-format on

int wb_key_request(int key)
{
    for (size_t i = 0; i < sizeof keymap / sizeof *keymap; i++)
        if (keymap[i].key == key)
            return keymap[i].req;
    return WB_REQ_NONE;
}

const char *wb_key_name(int key, char *buf, size_t size)
{
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (names[i].key == key && key != '<' && key != KEY_ENTER) {
            snprintf(buf, size, "<%s>", names[i].name);
            return buf;
        }
    if (key > 0 && key < 32)
        snprintf(buf, size, "^%c", key + '@');
    else if (key < 128)
        snprintf(buf, size, "%c", key);
    else
        snprintf(buf, size, "<%d>", key);
    return buf;
}

int wb_key_parse(const char *tok, size_t len)
{
    if (len == 1)
        return (unsigned char)tok[0];
    if (len < 3 || tok[0] != '<' || tok[len - 1] != '>')
        return -1;
    const char *n = tok + 1;
    size_t nl = len - 2;
    if (nl == 3 && (n[0] == 'C' || n[0] == 'c') && n[1] == '-')
        return CTRL(n[2]);
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strlen(names[i].name) == nl && !strncmp(names[i].name, n, nl))
            return names[i].key;
    return -1;
}

#define REQ_NAME(id, name, help) \
    case WB_REQ_##id: return name;
const char *wb_request_name(int req)
{
    switch (req) {
        WB_REQ_INFO(WB_GROUP_NONE, REQ_NAME)
    default: return "none";
    }
}

/* Builds "Group" headings and "  keys   name   help" lines. */
char **wb_help_lines(size_t *n)
{
    char **v = NULL;
    size_t alloc = 0;
    int bad = 0;
    *n = 0;
    bad |= wb_strv_push(&v, n, &alloc,
                        "gevo workbench: keys (Esc or ? closes this help; q quits at any time)");
#define HELP_GROUP(title)                   \
    bad |= wb_strv_push(&v, n, &alloc, ""); \
    bad |= wb_strv_push(&v, n, &alloc, title);
#define HELP_REQ(id, name, help)                                                 \
    {                                                                            \
        strbuf keys = STRBUF_INIT, line = STRBUF_INIT;                           \
        char kb[16];                                                             \
        for (size_t i = 0; i < sizeof keymap / sizeof *keymap; i++)              \
            if (keymap[i].req == WB_REQ_##id && keymap[i].key != KEY_ENTER) {    \
                if (keys.len)                                                    \
                    strbuf_addch(&keys, ' ');                                    \
                strbuf_addstr(&keys, wb_key_name(keymap[i].key, kb, sizeof kb)); \
            }                                                                    \
        strbuf_addf(&line, "  %-15s %s  [%s]", keys.buf, help, name);            \
        bad |= line.failed || wb_strv_push(&v, n, &alloc, line.buf);             \
        strbuf_release(&keys);                                                   \
        strbuf_release(&line);                                                   \
    }
    WB_REQ_INFO(HELP_GROUP, HELP_REQ)
    bad |= wb_strv_push(&v, n, &alloc, "");
    bad |= wb_strv_push(
        &v, n, &alloc,
        "Prompts (reason, note, search, generation, folder): Enter accepts, Esc cancels.");
    bad |=
        wb_strv_push(&v, n, &alloc,
                     "Long lines are never cut: they wrap, each further row after the wrap mark.");
    bad |= wb_strv_push(&v, n, &alloc,
                        "Mouse: a click selects a line or focuses a pane, the wheel scrolls "
                        "(GEVO_MOUSE=off: none).");
    if (bad) {
        wb_strv_free(v, *n);
        *n = 0;
        return NULL;
    }
    return v;
}
