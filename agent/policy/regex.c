/*
 * regex.c - a backtracking matcher for Python's `re` dialect.
 *
 * The pattern is parsed into a small tree; matching walks the tree with explicit
 * continuations (what is left to match after this node), which gives Python's leftmost,
 * first-alternative-wins semantics without a separate compilation step. Repeats of a
 * single-character node are matched iteratively, so ".*" over a long value costs no stack.
 */
#include "policy/regex.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/value.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/banned.h"

#define REP_INF (-1)
#define MATCH_BUDGET 20000000L
#define MATCH_MAX_DEPTH 20000

/* ==== tree ============================================================================== */

enum nkind {
    N_EMPTY,
    N_CHAR,
    N_ANY,
    N_CLASS,
    N_BOL,
    N_EOL,
    N_BOS,
    N_EOS,
    N_WORDB,
    N_NWORDB,
    N_CAT,
    N_ALT,
    N_REPEAT,
    N_GROUP,
    N_LOOK,
    N_BACKREF,
    N_ATOMIC,
};

enum { SET_D = 1, SET_ND = 2, SET_W = 4, SET_NW = 8, SET_S = 16, SET_NS = 32 };

struct cls {
    int neg;
    unsigned sets;
    size_t nr;
    uint32_t (*r)[2];
};

struct node {
    enum nkind kind;
    unsigned ci : 1, dotall : 1, ml : 1, greedy : 1, behind : 1, neg : 1;
    uint32_t cp;
    struct cls *cls;
    struct node **kids;
    size_t nkids;
    struct node *child;
    long min, max;
    int group;
    int width; /* look-behind width in code points */
};

struct mi_regex {
    mi_arena arena;
    struct node *root;
    int ngroups;
    char **names; /* names[i] for group i+1, or NULL */
    int first_cp;  /* a code point every match starts with, or -1 */
    int first_ci;
};

/* ==== code points ======================================================================= */

static uint32_t decode(const unsigned char *s, size_t len, size_t pos, size_t *n)
{
    unsigned char c = s[pos];
    if (c < 0x80) {
        *n = 1;
        return c;
    }
    size_t need;
    uint32_t v;
    if ((c & 0xE0) == 0xC0) {
        need = 2;
        v = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        need = 3;
        v = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        need = 4;
        v = c & 0x07;
    } else {
        *n = 1;
        return 0xDC00 + c; /* like Python's surrogateescape */
    }
    if (pos + need > len) {
        *n = 1;
        return 0xDC00 + c;
    }
    for (size_t i = 1; i < need; i++) {
        if ((s[pos + i] & 0xC0) != 0x80) {
            *n = 1;
            return 0xDC00 + c;
        }
        v = (v << 6) | (s[pos + i] & 0x3F);
    }
    *n = need;
    return v;
}

/* The start of the code point ending at pos (pos > 0). */
static size_t step_back(const unsigned char *s, size_t len, size_t pos)
{
    if (s[pos - 1] < 0x80 || (s[pos - 1] & 0xC0) != 0x80)
        return pos - 1;
    for (size_t back = 2; back <= 4 && back <= pos; back++) {
        size_t n;
        decode(s, len, pos - back, &n);
        if (n == back)
            return pos - back;
    }
    return pos - 1;
}

static uint32_t lower_cp(uint32_t c)
{
    if (c >= 'A' && c <= 'Z')
        return c + 32;
    if (c >= 0xC0 && c <= 0xDE && c != 0xD7)
        return c + 32;
    return c;
}

static uint32_t upper_cp(uint32_t c)
{
    if (c >= 'a' && c <= 'z')
        return c - 32;
    if (c >= 0xE0 && c <= 0xFE && c != 0xF7)
        return c - 32;
    return c;
}

static int is_digit_cp(uint32_t c)
{
    return c >= '0' && c <= '9';
}

static int is_space_cp(uint32_t c)
{
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f) || c == 0x85 ||
           c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
           c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

static int is_word_cp(uint32_t c)
{
    if (c < 0x80)
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_';
    if (c >= 0xDC80 && c <= 0xDCFF)
        return 0; /* undecodable byte */
    if (c < 0xC0)
        return c == 0xAA || c == 0xB2 || c == 0xB3 || c == 0xB5 || c == 0xB9 || c == 0xBA ||
               (c >= 0xBC && c <= 0xBE);
    if (c == 0xD7 || c == 0xF7)
        return 0;
    if (c >= 0x2000 && c <= 0x206F)
        return 0;
    if (c >= 0x3000 && c <= 0x303F)
        return 0;
    return !is_space_cp(c);
}

static int class_has(const struct cls *k, uint32_t c)
{
    if ((k->sets & SET_D) && is_digit_cp(c))
        return 1;
    if ((k->sets & SET_ND) && !is_digit_cp(c))
        return 1;
    if ((k->sets & SET_W) && is_word_cp(c))
        return 1;
    if ((k->sets & SET_NW) && !is_word_cp(c))
        return 1;
    if ((k->sets & SET_S) && is_space_cp(c))
        return 1;
    if ((k->sets & SET_NS) && !is_space_cp(c))
        return 1;
    for (size_t i = 0; i < k->nr; i++)
        if (c >= k->r[i][0] && c <= k->r[i][1])
            return 1;
    return 0;
}

static int class_match(const struct node *n, uint32_t c)
{
    int hit = class_has(n->cls, c);
    if (!hit && n->ci) {
        uint32_t l = lower_cp(c), u = upper_cp(c);
        hit = (l != c && class_has(n->cls, l)) || (u != c && class_has(n->cls, u));
    }
    return n->cls->neg ? !hit : hit;
}

/* ==== parser ============================================================================ */

struct parser {
    const unsigned char *p;
    size_t len, pos;
    mi_regex *re;
    unsigned ci : 1, dotall : 1, ml : 1, verbose : 1;
    int global_flags_seen; /* flags found in (?i) form: the caller re-parses */
    int found_flags;
    const char *err;
    size_t err_pos;
};

static struct node *new_node(struct parser *ps, enum nkind k)
{
    struct node *n = mi_arena_zalloc(&ps->re->arena, sizeof(*n));
    n->kind = k;
    n->ci = ps->ci;
    n->dotall = ps->dotall;
    n->ml = ps->ml;
    return n;
}

static struct node *perror_at(struct parser *ps, const char *msg)
{
    if (!ps->err) {
        ps->err = msg;
        ps->err_pos = ps->pos;
    }
    return NULL;
}

static int at_end(struct parser *ps)
{
    return ps->pos >= ps->len;
}

static uint32_t next_cp(struct parser *ps)
{
    size_t n;
    uint32_t c = decode(ps->p, ps->len, ps->pos, &n);
    ps->pos += n;
    return c;
}

static void skip_verbose(struct parser *ps)
{
    if (!ps->verbose)
        return;
    while (!at_end(ps)) {
        unsigned char c = ps->p[ps->pos];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            ps->pos++;
        } else if (c == '#') {
            while (!at_end(ps) && ps->p[ps->pos] != '\n')
                ps->pos++;
        } else {
            return;
        }
    }
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int read_hex(struct parser *ps, int digits, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < digits; i++) {
        if (at_end(ps) || hexval(ps->p[ps->pos]) < 0)
            return -1;
        v = v * 16 + (uint32_t)hexval(ps->p[ps->pos++]);
    }
    *out = v;
    return 0;
}

/* Escapes that stand for one character, shared by classes and the main pattern.
 * Returns 1 with *cp set, 0 when c is no such escape, -1 on a malformed escape. */
static int simple_escape(struct parser *ps, uint32_t c, uint32_t *cp)
{
    switch (c) {
    case 'a':
        *cp = 7;
        return 1;
    case 'f':
        *cp = 12;
        return 1;
    case 'n':
        *cp = 10;
        return 1;
    case 'r':
        *cp = 13;
        return 1;
    case 't':
        *cp = 9;
        return 1;
    case 'v':
        *cp = 11;
        return 1;
    case 'x':
        return read_hex(ps, 2, cp) < 0 ? -1 : 1;
    case 'u':
        return read_hex(ps, 4, cp) < 0 ? -1 : 1;
    case 'U':
        if (read_hex(ps, 8, cp) < 0 || *cp > 0x10FFFF)
            return -1;
        return 1;
    default:
        return 0;
    }
}

static void cls_add(struct parser *ps, struct cls *k, size_t *cap, uint32_t lo, uint32_t hi)
{
    if (k->nr == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        uint32_t(*nr)[2] = mi_arena_alloc(&ps->re->arena, ncap * sizeof(*nr));
        if (k->nr)
            memcpy(nr, k->r, k->nr * sizeof(*nr));
        k->r = nr;
        *cap = ncap;
    }
    k->r[k->nr][0] = lo;
    k->r[k->nr][1] = hi;
    k->nr++;
}

static struct node *parse_class(struct parser *ps)
{
    /* '[' consumed */
    struct node *n = new_node(ps, N_CLASS);
    struct cls *k = mi_arena_zalloc(&ps->re->arena, sizeof(*k));
    size_t cap = 0;
    n->cls = k;
    if (!at_end(ps) && ps->p[ps->pos] == '^') {
        k->neg = 1;
        ps->pos++;
    }
    int first = 1;
    for (;;) {
        if (at_end(ps))
            return perror_at(ps, "unterminated character set");
        size_t item_start = ps->pos;
        uint32_t c = next_cp(ps);
        if (c == ']' && !first)
            break;
        first = 0;
        uint32_t lo;
        int is_set = 0;
        if (c == '\\') {
            if (at_end(ps))
                return perror_at(ps, "bad escape (end of pattern)");
            uint32_t e = next_cp(ps);
            int r = simple_escape(ps, e, &lo);
            if (r < 0)
                return perror_at(ps, "incomplete escape");
            if (r == 0) {
                switch (e) {
                case 'd':
                    k->sets |= SET_D;
                    is_set = 1;
                    break;
                case 'D':
                    k->sets |= SET_ND;
                    is_set = 1;
                    break;
                case 'w':
                    k->sets |= SET_W;
                    is_set = 1;
                    break;
                case 'W':
                    k->sets |= SET_NW;
                    is_set = 1;
                    break;
                case 's':
                    k->sets |= SET_S;
                    is_set = 1;
                    break;
                case 'S':
                    k->sets |= SET_NS;
                    is_set = 1;
                    break;
                case 'b':
                    lo = 8;
                    break;
                case '0':
                case '1':
                case '2':
                case '3':
                case '4':
                case '5':
                case '6':
                case '7': {
                    lo = e - '0';
                    for (int i = 0; i < 2 && !at_end(ps) && ps->p[ps->pos] >= '0' &&
                                    ps->p[ps->pos] <= '7';
                         i++)
                        lo = lo * 8 + (uint32_t)(ps->p[ps->pos++] - '0');
                    break;
                }
                default:
                    if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') ||
                        (e >= '0' && e <= '9')) {
                        ps->pos = item_start;
                        return perror_at(ps, "bad escape in character set");
                    }
                    lo = e;
                }
            }
        } else {
            lo = c;
        }
        if (is_set)
            continue;
        /* a range? */
        if (ps->pos + 1 < ps->len && ps->p[ps->pos] == '-' && ps->p[ps->pos + 1] != ']') {
            ps->pos++;
            uint32_t hi = next_cp(ps);
            if (hi == '\\') {
                if (at_end(ps))
                    return perror_at(ps, "bad escape (end of pattern)");
                uint32_t e = next_cp(ps);
                int r = simple_escape(ps, e, &hi);
                if (r < 0)
                    return perror_at(ps, "incomplete escape");
                if (r == 0) {
                    if (e == 'b')
                        hi = 8;
                    else if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') ||
                             (e >= '0' && e <= '9'))
                        return perror_at(ps, "bad character range");
                    else
                        hi = e;
                }
            }
            if (hi < lo)
                return perror_at(ps, "bad character range");
            cls_add(ps, k, &cap, lo, hi);
        } else {
            cls_add(ps, k, &cap, lo, lo);
        }
    }
    return n;
}

static struct node *parse_alt(struct parser *ps, int depth);

static int parse_flag_letters(struct parser *ps, unsigned *on, unsigned *off)
{
    int minus = 0;
    while (!at_end(ps)) {
        unsigned char c = ps->p[ps->pos];
        unsigned bit = 0;
        if (c == 'i')
            bit = MI_RE_IGNORECASE;
        else if (c == 's')
            bit = MI_RE_DOTALL;
        else if (c == 'm')
            bit = MI_RE_MULTILINE;
        else if (c == 'x')
            bit = MI_RE_VERBOSE;
        else if (c == 'a' || c == 'u' || c == 'L')
            bit = 0x100; /* accepted, no effect on our classes */
        else if (c == '-' && !minus) {
            minus = 1;
            ps->pos++;
            continue;
        } else
            return 0;
        if (minus)
            *off |= bit;
        else
            *on |= bit;
        ps->pos++;
    }
    return 0;
}

static void apply_flags(struct parser *ps, unsigned on, unsigned off)
{
    if (on & MI_RE_IGNORECASE)
        ps->ci = 1;
    if (on & MI_RE_DOTALL)
        ps->dotall = 1;
    if (on & MI_RE_MULTILINE)
        ps->ml = 1;
    if (on & MI_RE_VERBOSE)
        ps->verbose = 1;
    if (off & MI_RE_IGNORECASE)
        ps->ci = 0;
    if (off & MI_RE_DOTALL)
        ps->dotall = 0;
    if (off & MI_RE_MULTILINE)
        ps->ml = 0;
    if (off & MI_RE_VERBOSE)
        ps->verbose = 0;
}

static int fixed_width(const struct node *n)
{
    switch (n->kind) {
    case N_CHAR:
    case N_ANY:
    case N_CLASS:
        return 1;
    case N_EMPTY:
    case N_BOL:
    case N_EOL:
    case N_BOS:
    case N_EOS:
    case N_WORDB:
    case N_NWORDB:
    case N_LOOK:
        return 0;
    case N_CAT: {
        int w = 0;
        for (size_t i = 0; i < n->nkids; i++) {
            int k = fixed_width(n->kids[i]);
            if (k < 0)
                return -1;
            w += k;
        }
        return w;
    }
    case N_ALT: {
        int w = -2;
        for (size_t i = 0; i < n->nkids; i++) {
            int k = fixed_width(n->kids[i]);
            if (k < 0 || (w != -2 && k != w))
                return -1;
            w = k;
        }
        return w < 0 ? 0 : w;
    }
    case N_REPEAT:
        if (n->min != n->max) {
            return -1;
        } else {
            int k = fixed_width(n->child);
            return k < 0 ? -1 : (int)(k * n->min);
        }
    case N_GROUP:
    case N_ATOMIC:
        return fixed_width(n->child);
    case N_BACKREF:
        return -1;
    }
    return -1;
}

static struct node *parse_group(struct parser *ps, int depth)
{
    /* '(' consumed */
    if (!at_end(ps) && ps->p[ps->pos] == '?') {
        ps->pos++;
        if (at_end(ps))
            return perror_at(ps, "unexpected end of pattern");
        unsigned char c = ps->p[ps->pos];
        if (c == ':' || c == '>') {
            ps->pos++;
            struct node *inner = parse_alt(ps, depth + 1);
            if (!inner)
                return NULL;
            if (at_end(ps) || ps->p[ps->pos] != ')')
                return perror_at(ps, "missing ), unterminated subpattern");
            ps->pos++;
            if (c == ':')
                return inner;
            struct node *a = new_node(ps, N_ATOMIC);
            a->child = inner;
            return a;
        }
        if (c == '#') {
            while (!at_end(ps) && ps->p[ps->pos] != ')')
                ps->pos++;
            if (at_end(ps))
                return perror_at(ps, "missing ), unterminated comment");
            ps->pos++;
            return new_node(ps, N_EMPTY);
        }
        if (c == 'P') {
            ps->pos++;
            if (!at_end(ps) && ps->p[ps->pos] == '<') {
                ps->pos++;
                size_t s = ps->pos;
                while (!at_end(ps) && ps->p[ps->pos] != '>')
                    ps->pos++;
                if (at_end(ps) || ps->pos == s)
                    return perror_at(ps, "missing group name");
                for (size_t i = s; i < ps->pos; i++) {
                    unsigned char ch = ps->p[i];
                    int ok = ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                             (i > s && ch >= '0' && ch <= '9') || ch >= 0x80;
                    if (!ok)
                        return perror_at(ps, "bad character in group name");
                }
                mi_regex *re = ps->re;
                for (int g = 0; g < re->ngroups; g++)
                    if (re->names[g] && strlen(re->names[g]) == ps->pos - s &&
                        memcmp(re->names[g], ps->p + s, ps->pos - s) == 0)
                        return perror_at(ps, "redefinition of group name");
                char *name = mi_arena_strndup(&re->arena, (const char *)ps->p + s, ps->pos - s);
                ps->pos++; /* '>' */
                int idx = ++re->ngroups;
                re->names = mi_xrealloc(re->names, (size_t)re->ngroups * sizeof(char *));
                re->names[idx - 1] = name;
                struct node *inner = parse_alt(ps, depth + 1);
                if (!inner)
                    return NULL;
                if (at_end(ps) || ps->p[ps->pos] != ')')
                    return perror_at(ps, "missing ), unterminated subpattern");
                ps->pos++;
                struct node *g = new_node(ps, N_GROUP);
                g->group = idx;
                g->child = inner;
                return g;
            }
            if (!at_end(ps) && ps->p[ps->pos] == '=') {
                ps->pos++;
                size_t s = ps->pos;
                while (!at_end(ps) && ps->p[ps->pos] != ')')
                    ps->pos++;
                if (at_end(ps))
                    return perror_at(ps, "missing ), unterminated name");
                mi_regex *re = ps->re;
                int found = -1;
                for (int g = 0; g < re->ngroups; g++)
                    if (re->names[g] && strlen(re->names[g]) == ps->pos - s &&
                        memcmp(re->names[g], ps->p + s, ps->pos - s) == 0)
                        found = g + 1;
                if (found < 0)
                    return perror_at(ps, "unknown group name");
                ps->pos++;
                struct node *b = new_node(ps, N_BACKREF);
                b->group = found;
                return b;
            }
            return perror_at(ps, "unknown extension ?P");
        }
        if (c == '=' || c == '!' || c == '<') {
            int behind = 0;
            if (c == '<') {
                ps->pos++;
                if (at_end(ps) || (ps->p[ps->pos] != '=' && ps->p[ps->pos] != '!'))
                    return perror_at(ps, "unknown extension ?<");
                behind = 1;
                c = ps->p[ps->pos];
            }
            ps->pos++;
            struct node *inner = parse_alt(ps, depth + 1);
            if (!inner)
                return NULL;
            if (at_end(ps) || ps->p[ps->pos] != ')')
                return perror_at(ps, "missing ), unterminated subpattern");
            ps->pos++;
            struct node *l = new_node(ps, N_LOOK);
            l->behind = behind;
            l->neg = c == '!';
            l->child = inner;
            if (behind) {
                l->width = fixed_width(inner);
                if (l->width < 0)
                    return perror_at(ps, "look-behind requires fixed-width pattern");
            }
            return l;
        }
        if (c == '(')
            return perror_at(ps, "conditional groups are not supported");
        /* inline flags: (?imsx) or (?imsx-imsx:...) */
        unsigned on = 0, off = 0;
        parse_flag_letters(ps, &on, &off);
        if (at_end(ps))
            return perror_at(ps, "missing flag");
        if (ps->p[ps->pos] == ')') {
            ps->pos++;
            if (off)
                return perror_at(ps, "global flags cannot be turned off");
            /* Global flags apply to the whole pattern (Python before 3.11 and in effect
             * after): remember them; compile re-parses with them set from the start. */
            ps->found_flags |= (int)on;
            return new_node(ps, N_EMPTY);
        }
        if (ps->p[ps->pos] != ':')
            return perror_at(ps, "unknown extension");
        ps->pos++;
        unsigned saved_ci = ps->ci, saved_dotall = ps->dotall, saved_ml = ps->ml,
                 saved_verbose = ps->verbose;
        apply_flags(ps, on, off);
        struct node *inner = parse_alt(ps, depth + 1);
        ps->ci = saved_ci;
        ps->dotall = saved_dotall;
        ps->ml = saved_ml;
        ps->verbose = saved_verbose;
        if (!inner)
            return NULL;
        if (at_end(ps) || ps->p[ps->pos] != ')')
            return perror_at(ps, "missing ), unterminated subpattern");
        ps->pos++;
        return inner;
    }
    int idx = ++ps->re->ngroups;
    ps->re->names = mi_xrealloc(ps->re->names, (size_t)ps->re->ngroups * sizeof(char *));
    ps->re->names[idx - 1] = NULL;
    struct node *inner = parse_alt(ps, depth + 1);
    if (!inner)
        return NULL;
    if (at_end(ps) || ps->p[ps->pos] != ')')
        return perror_at(ps, "missing ), unterminated subpattern");
    ps->pos++;
    struct node *g = new_node(ps, N_GROUP);
    g->group = idx;
    g->child = inner;
    return g;
}

static struct node *parse_escape(struct parser *ps)
{
    /* '\\' consumed */
    if (at_end(ps))
        return perror_at(ps, "bad escape (end of pattern)");
    size_t start = ps->pos;
    uint32_t e = next_cp(ps);
    uint32_t cp;
    int r = simple_escape(ps, e, &cp);
    if (r < 0)
        return perror_at(ps, "incomplete escape");
    if (r > 0) {
        struct node *n = new_node(ps, N_CHAR);
        n->cp = cp;
        return n;
    }
    unsigned set = 0;
    switch (e) {
    case 'A':
        return new_node(ps, N_BOS);
    case 'Z':
        return new_node(ps, N_EOS);
    case 'b':
        return new_node(ps, N_WORDB);
    case 'B':
        return new_node(ps, N_NWORDB);
    case 'd':
        set = SET_D;
        break;
    case 'D':
        set = SET_ND;
        break;
    case 'w':
        set = SET_W;
        break;
    case 'W':
        set = SET_NW;
        break;
    case 's':
        set = SET_S;
        break;
    case 'S':
        set = SET_NS;
        break;
    default:
        break;
    }
    if (set) {
        struct node *n = new_node(ps, N_CLASS);
        n->cls = mi_arena_zalloc(&ps->re->arena, sizeof(*n->cls));
        n->cls->sets = set;
        return n;
    }
    if (e >= '0' && e <= '9') {
        /* Octal escape or group reference, as Python decides: a leading 0 or three octal
         * digits make an octal escape, otherwise up to two digits name a group. */
        size_t s = start;
        if (e == '0') {
            uint32_t v = 0;
            for (int i = 0; i < 2 && !at_end(ps) && ps->p[ps->pos] >= '0' && ps->p[ps->pos] <= '7';
                 i++)
                v = v * 8 + (uint32_t)(ps->p[ps->pos++] - '0');
            struct node *n = new_node(ps, N_CHAR);
            n->cp = v;
            return n;
        }
        if (ps->pos + 1 < ps->len + 1 && e <= '7' && ps->pos + 1 < ps->len &&
            ps->p[ps->pos] >= '0' && ps->p[ps->pos] <= '7' && ps->p[ps->pos + 1] >= '0' &&
            ps->p[ps->pos + 1] <= '7') {
            uint32_t v = (e - '0') * 64 + (uint32_t)(ps->p[ps->pos] - '0') * 8 +
                         (uint32_t)(ps->p[ps->pos + 1] - '0');
            ps->pos += 2;
            if (v > 0377)
                return perror_at(ps, "octal escape value outside of range 0-0o377");
            struct node *n = new_node(ps, N_CHAR);
            n->cp = v;
            return n;
        }
        int g = (int)(e - '0');
        if (!at_end(ps) && ps->p[ps->pos] >= '0' && ps->p[ps->pos] <= '9')
            g = g * 10 + (ps->p[ps->pos++] - '0');
        (void)s;
        if (g > ps->re->ngroups)
            return perror_at(ps, "invalid group reference");
        struct node *n = new_node(ps, N_BACKREF);
        n->group = g;
        return n;
    }
    if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z')) {
        ps->pos = start - 1;
        return perror_at(ps, "bad escape");
    }
    struct node *n = new_node(ps, N_CHAR);
    n->cp = e;
    return n;
}

static struct node *parse_atom(struct parser *ps, int depth)
{
    uint32_t c = next_cp(ps);
    switch (c) {
    case '(':
        return parse_group(ps, depth);
    case '[':
        return parse_class(ps);
    case '\\':
        return parse_escape(ps);
    case '.':
        return new_node(ps, N_ANY);
    case '^':
        return new_node(ps, N_BOL);
    case '$':
        return new_node(ps, N_EOL);
    default: {
        struct node *n = new_node(ps, N_CHAR);
        n->cp = c;
        return n;
    }
    }
}

/* Reads {m,n} at pos (after '{'); returns 1 with min/max when it is a quantifier. */
static int read_braces(struct parser *ps, long *min, long *max)
{
    size_t save = ps->pos;
    if (!at_end(ps) && ps->p[ps->pos] == '}')
        return 0;
    long lo = -1, hi = -1;
    size_t s = ps->pos;
    while (!at_end(ps) && ps->p[ps->pos] >= '0' && ps->p[ps->pos] <= '9')
        ps->pos++;
    if (ps->pos > s)
        lo = strtol((const char *)ps->p + s, NULL, 10);
    int comma = 0;
    if (!at_end(ps) && ps->p[ps->pos] == ',') {
        comma = 1;
        ps->pos++;
        size_t h = ps->pos;
        while (!at_end(ps) && ps->p[ps->pos] >= '0' && ps->p[ps->pos] <= '9')
            ps->pos++;
        if (ps->pos > h)
            hi = strtol((const char *)ps->p + h, NULL, 10);
    } else {
        hi = lo;
    }
    if (at_end(ps) || ps->p[ps->pos] != '}') {
        ps->pos = save;
        return 0;
    }
    ps->pos++;
    (void)comma;
    *min = lo < 0 ? 0 : lo;
    *max = hi < 0 ? REP_INF : hi;
    return 1;
}

static struct node *parse_cat(struct parser *ps, int depth)
{
    struct node **kids = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        skip_verbose(ps);
        if (at_end(ps) || ps->p[ps->pos] == '|' || ps->p[ps->pos] == ')')
            break;
        unsigned char c = ps->p[ps->pos];
        if (c == '*' || c == '+' || c == '?')
            return perror_at(ps, "nothing to repeat");
        if (c == '{') {
            long mn, mx;
            size_t save = ps->pos;
            ps->pos++;
            if (read_braces(ps, &mn, &mx)) {
                ps->pos = save;
                return perror_at(ps, "nothing to repeat");
            }
            ps->pos = save;
        }
        struct node *atom = parse_atom(ps, depth);
        if (!atom) {
            free(kids);
            return NULL;
        }
        /* quantifiers */
        for (;;) {
            skip_verbose(ps);
            if (at_end(ps))
                break;
            c = ps->p[ps->pos];
            long mn, mx;
            if (c == '*') {
                mn = 0;
                mx = REP_INF;
                ps->pos++;
            } else if (c == '+') {
                mn = 1;
                mx = REP_INF;
                ps->pos++;
            } else if (c == '?') {
                mn = 0;
                mx = 1;
                ps->pos++;
            } else if (c == '{') {
                ps->pos++;
                if (!read_braces(ps, &mn, &mx)) {
                    ps->pos--;
                    break;
                }
                if (mx != REP_INF && mx < mn) {
                    free(kids);
                    return perror_at(ps, "min repeat greater than max repeat");
                }
            } else {
                break;
            }
            if (atom->kind == N_REPEAT && !atom->group) {
                free(kids);
                return perror_at(ps, "multiple repeat");
            }
            if (atom->kind == N_BOL || atom->kind == N_EOL || atom->kind == N_BOS ||
                atom->kind == N_EOS || atom->kind == N_WORDB || atom->kind == N_NWORDB) {
                free(kids);
                return perror_at(ps, "nothing to repeat");
            }
            struct node *r = new_node(ps, N_REPEAT);
            r->child = atom;
            r->min = mn;
            r->max = mx;
            r->greedy = 1;
            if (!at_end(ps) && ps->p[ps->pos] == '?') {
                r->greedy = 0;
                ps->pos++;
            } else if (!at_end(ps) && ps->p[ps->pos] == '+') {
                /* possessive: a greedy repeat that is never backtracked into */
                ps->pos++;
                struct node *a = new_node(ps, N_ATOMIC);
                a->child = r;
                atom = a;
                atom->group = 0;
                /* mark so a following quantifier is "multiple repeat" */
                r->group = 0;
                continue;
            }
            atom = r;
            /* N_REPEAT with group 0 marks "already quantified" for the check above. */
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            kids = mi_xrealloc(kids, cap * sizeof(*kids));
        }
        kids[n++] = atom;
    }
    if (n == 0) {
        free(kids);
        return new_node(ps, N_EMPTY);
    }
    if (n == 1) {
        struct node *only = kids[0];
        free(kids);
        return only;
    }
    struct node *cat = new_node(ps, N_CAT);
    cat->kids = mi_arena_alloc(&ps->re->arena, n * sizeof(*cat->kids));
    memcpy(cat->kids, kids, n * sizeof(*kids));
    cat->nkids = n;
    free(kids);
    return cat;
}

static struct node *parse_alt(struct parser *ps, int depth)
{
    if (depth > 200)
        return perror_at(ps, "pattern nests too deeply");
    struct node **alts = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        struct node *c = parse_cat(ps, depth);
        if (!c) {
            free(alts);
            return NULL;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 4;
            alts = mi_xrealloc(alts, cap * sizeof(*alts));
        }
        alts[n++] = c;
        if (!at_end(ps) && ps->p[ps->pos] == '|') {
            ps->pos++;
            continue;
        }
        break;
    }
    if (n == 1) {
        struct node *only = alts[0];
        free(alts);
        return only;
    }
    struct node *alt = new_node(ps, N_ALT);
    alt->kids = mi_arena_alloc(&ps->re->arena, n * sizeof(*alt->kids));
    memcpy(alt->kids, alts, n * sizeof(*alts));
    alt->nkids = n;
    free(alts);
    return alt;
}

static void reset_regex(mi_regex *re)
{
    mi_arena_release(&re->arena);
    free(re->names);
    re->names = NULL;
    re->ngroups = 0;
    re->root = NULL;
}

int mi_regex_compile(mi_regex **out, const char *pattern, size_t len, int flags)
{
    *out = NULL;
    mi_regex *re = mi_xcalloc(1, sizeof(*re));
    mi_arena_init(&re->arena);
    for (int pass = 0; pass < 2; pass++) {
        struct parser ps = {0};
        ps.p = (const unsigned char *)pattern;
        ps.len = len;
        ps.re = re;
        ps.ci = (flags & MI_RE_IGNORECASE) != 0;
        ps.dotall = (flags & MI_RE_DOTALL) != 0;
        ps.ml = (flags & MI_RE_MULTILINE) != 0;
        ps.verbose = (flags & MI_RE_VERBOSE) != 0;
        struct node *root = parse_alt(&ps, 0);
        if (root && !at_end(&ps))
            root = perror_at(&ps, "unbalanced parenthesis");
        if (!root) {
            int rc = mi_error_set(MI_ERR, "invalid regular expression '%.*s': %s at position %zu",
                                  (int)len, pattern, ps.err ? ps.err : "error", ps.err_pos);
            reset_regex(re);
            free(re);
            return rc;
        }
        if (ps.found_flags && (ps.found_flags & ~flags) && pass == 0) {
            flags |= ps.found_flags;
            reset_regex(re);
            continue;
        }
        re->root = root;
        break;
    }
    re->first_cp = -1;
    const struct node *f = re->root;
    while (f && (f->kind == N_CAT || f->kind == N_GROUP)) {
        if (f->kind == N_CAT)
            f = f->nkids ? f->kids[0] : NULL;
        else
            f = f->child;
    }
    if (f && f->kind == N_CHAR) {
        re->first_cp = (int)f->cp;
        re->first_ci = f->ci;
    }
    *out = re;
    return 0;
}

void mi_regex_free(mi_regex *re)
{
    if (!re)
        return;
    reset_regex(re);
    free(re);
}

int mi_regex_groups(const mi_regex *re)
{
    return re->ngroups;
}

int mi_regex_group_index(const mi_regex *re, const char *name)
{
    for (int g = 0; g < re->ngroups; g++)
        if (re->names[g] && strcmp(re->names[g], name) == 0)
            return g + 1;
    return -1;
}

/* ==== matcher =========================================================================== */

enum kkind { K_SEQ, K_REP, K_GROUP, K_ACCEPT, K_BEHIND_END };

struct cont {
    enum kkind kind;
    const struct node *n;
    size_t idx;   /* K_SEQ: next child; K_REP: iterations done */
    size_t start; /* K_REP: where this iteration began; K_GROUP: group start; K_BEHIND_END */
    const struct cont *next;
};

struct mctx {
    const unsigned char *s;
    size_t len;
    long *cs, *ce;
    int ngroups;
    long budget;
    int depth;
    int err;
    size_t accept_pos;
};

static int m(struct mctx *c, const struct node *n, size_t pos, const struct cont *k);

static int go(struct mctx *c, const struct cont *k, size_t pos);

static int single_char_at(struct mctx *c, const struct node *n, size_t pos, size_t *next)
{
    if (pos >= c->len)
        return 0;
    size_t len;
    uint32_t cp = decode(c->s, c->len, pos, &len);
    switch (n->kind) {
    case N_CHAR:
        if (cp != n->cp && !(n->ci && lower_cp(cp) == lower_cp(n->cp)))
            return 0;
        break;
    case N_ANY:
        if (cp == '\n' && !n->dotall)
            return 0;
        break;
    case N_CLASS:
        if (!class_match(n, cp))
            return 0;
        break;
    default:
        return 0;
    }
    *next = pos + len;
    return 1;
}

static int is_single(const struct node *n)
{
    return n->kind == N_CHAR || n->kind == N_ANY || n->kind == N_CLASS;
}

static int word_at(struct mctx *c, size_t pos)
{
    if (pos >= c->len)
        return 0;
    size_t n;
    return is_word_cp(decode(c->s, c->len, pos, &n));
}

static int word_before(struct mctx *c, size_t pos)
{
    if (pos == 0)
        return 0;
    size_t p = step_back(c->s, c->len, pos);
    size_t n;
    return is_word_cp(decode(c->s, c->len, p, &n));
}

static int rep_try(struct mctx *c, const struct node *n, size_t count, size_t pos,
                   const struct cont *k)
{
    struct cont kk = {K_REP, n, count + 1, pos, k};
    int can_more = n->max == REP_INF || (long)count < n->max;
    if (n->greedy) {
        if (can_more && m(c, n->child, pos, &kk))
            return 1;
        if (c->err)
            return 0;
        if ((long)count >= n->min)
            return go(c, k, pos);
        return 0;
    }
    if ((long)count >= n->min) {
        if (go(c, k, pos))
            return 1;
        if (c->err)
            return 0;
    }
    if (can_more)
        return m(c, n->child, pos, &kk);
    return 0;
}

static int go(struct mctx *c, const struct cont *k, size_t pos)
{
    if (!k) {
        c->accept_pos = pos;
        return 1;
    }
    switch (k->kind) {
    case K_ACCEPT:
        c->accept_pos = pos;
        return 1;
    case K_BEHIND_END:
        return pos == k->start;
    case K_SEQ: {
        const struct node *n = k->n;
        if (k->idx >= n->nkids)
            return go(c, k->next, pos);
        struct cont kk = {K_SEQ, n, k->idx + 1, 0, k->next};
        return m(c, n->kids[k->idx], pos, &kk);
    }
    case K_GROUP: {
        int g = k->n->group;
        long os = c->cs[g], oe = c->ce[g];
        c->cs[g] = (long)k->start;
        c->ce[g] = (long)pos;
        if (go(c, k->next, pos))
            return 1;
        c->cs[g] = os;
        c->ce[g] = oe;
        return 0;
    }
    case K_REP: {
        const struct node *n = k->n;
        /* An iteration that matched nothing ends the loop, as in Python. */
        if (pos == k->start && (long)k->idx > n->min)
            return 0;
        if (pos == k->start && (long)k->idx >= n->min)
            return go(c, k->next, pos);
        return rep_try(c, n, k->idx, pos, k->next);
    }
    }
    return 0;
}

static int m(struct mctx *c, const struct node *n, size_t pos, const struct cont *k)
{
    if (--c->budget < 0 || c->depth > MATCH_MAX_DEPTH) {
        c->err = 1;
        return 0;
    }
    c->depth++;
    int r = 0;
    size_t next;
    switch (n->kind) {
    case N_EMPTY:
        r = go(c, k, pos);
        break;
    case N_CHAR:
    case N_ANY:
    case N_CLASS:
        r = single_char_at(c, n, pos, &next) ? go(c, k, next) : 0;
        break;
    case N_BOL:
        r = (pos == 0 || (n->ml && c->s[pos - 1] == '\n')) ? go(c, k, pos) : 0;
        break;
    case N_EOL:
        r = (pos == c->len || (pos + 1 == c->len && c->s[pos] == '\n') ||
             (n->ml && c->s[pos] == '\n'))
                ? go(c, k, pos)
                : 0;
        break;
    case N_BOS:
        r = pos == 0 ? go(c, k, pos) : 0;
        break;
    case N_EOS:
        r = pos == c->len ? go(c, k, pos) : 0;
        break;
    case N_WORDB:
    case N_NWORDB: {
        int b = word_before(c, pos) != word_at(c, pos);
        r = (b == (n->kind == N_WORDB)) ? go(c, k, pos) : 0;
        break;
    }
    case N_CAT: {
        struct cont kk = {K_SEQ, n, 1, 0, k};
        r = m(c, n->kids[0], pos, &kk);
        break;
    }
    case N_ALT:
        for (size_t i = 0; i < n->nkids && !c->err; i++) {
            if (m(c, n->kids[i], pos, k)) {
                r = 1;
                break;
            }
        }
        break;
    case N_GROUP: {
        struct cont kk = {K_GROUP, n, 0, pos, k};
        r = m(c, n->child, pos, &kk);
        break;
    }
    case N_BACKREF: {
        int g = n->group;
        if (c->cs[g] < 0 || c->ce[g] < 0)
            break;
        size_t gl = (size_t)(c->ce[g] - c->cs[g]);
        if (pos + gl > c->len)
            break;
        const unsigned char *a = c->s + c->cs[g], *b = c->s + pos;
        int eq = 1;
        for (size_t i = 0; i < gl; i++) {
            unsigned char x = a[i], y = b[i];
            if (x != y && !(n->ci && lower_cp(x) == lower_cp(y) && x < 0x80 && y < 0x80)) {
                eq = 0;
                break;
            }
        }
        r = eq ? go(c, k, pos + gl) : 0;
        break;
    }
    case N_LOOK: {
        long *saved_s = NULL, *saved_e = NULL;
        size_t gsz = (size_t)(c->ngroups + 1) * sizeof(long);
        saved_s = mi_xmalloc(gsz);
        saved_e = mi_xmalloc(gsz);
        memcpy(saved_s, c->cs, gsz);
        memcpy(saved_e, c->ce, gsz);
        int ok;
        if (n->behind) {
            size_t p = pos;
            int possible = 1;
            for (int i = 0; i < n->width; i++) {
                if (p == 0) {
                    possible = 0;
                    break;
                }
                p = step_back(c->s, c->len, p);
            }
            struct cont end = {K_BEHIND_END, n, 0, pos, NULL};
            ok = possible && m(c, n->child, p, &end);
        } else {
            struct cont acc = {K_ACCEPT, n, 0, 0, NULL};
            ok = m(c, n->child, pos, &acc);
        }
        if (c->err) {
            free(saved_s);
            free(saved_e);
            break;
        }
        if (n->neg) {
            memcpy(c->cs, saved_s, gsz);
            memcpy(c->ce, saved_e, gsz);
            ok = !ok;
        }
        if (ok) {
            r = go(c, k, pos);
            if (!r) {
                memcpy(c->cs, saved_s, gsz);
                memcpy(c->ce, saved_e, gsz);
            }
        } else {
            memcpy(c->cs, saved_s, gsz);
            memcpy(c->ce, saved_e, gsz);
        }
        free(saved_s);
        free(saved_e);
        break;
    }
    case N_ATOMIC: {
        struct cont acc = {K_ACCEPT, n, 0, 0, NULL};
        if (m(c, n->child, pos, &acc))
            r = go(c, k, c->accept_pos);
        break;
    }
    case N_REPEAT:
        if (is_single(n->child)) {
            /* Count how far the single-character node reaches, then hand the rest of the
             * pattern each candidate end, longest first (greedy) or shortest first. */
            const struct node *ch = n->child;
            long count = 0;
            size_t p = pos;
            if (n->greedy) {
                while ((n->max == REP_INF || count < n->max) && single_char_at(c, ch, p, &next)) {
                    p = next;
                    count++;
                }
                if (count < n->min)
                    break;
                for (;;) {
                    if (go(c, k, p)) {
                        r = 1;
                        break;
                    }
                    if (c->err || count == n->min)
                        break;
                    if (--c->budget < 0) {
                        c->err = 1;
                        break;
                    }
                    p = step_back(c->s, c->len, p);
                    count--;
                }
            } else {
                while (count < n->min) {
                    if (!single_char_at(c, ch, p, &next))
                        break;
                    p = next;
                    count++;
                }
                if (count < n->min)
                    break;
                for (;;) {
                    if (go(c, k, p)) {
                        r = 1;
                        break;
                    }
                    if (c->err || (n->max != REP_INF && count >= n->max))
                        break;
                    if (--c->budget < 0) {
                        c->err = 1;
                        break;
                    }
                    if (!single_char_at(c, ch, p, &next))
                        break;
                    p = next;
                    count++;
                }
            }
        } else {
            r = rep_try(c, n, 0, pos, k);
        }
        break;
    }
    c->depth--;
    return c->err ? 0 : r;
}

static int exec_at(const mi_regex *re, struct mctx *c, size_t pos)
{
    for (int g = 0; g <= re->ngroups; g++)
        c->cs[g] = c->ce[g] = -1;
    c->depth = 0;
    return m(c, re->root, pos, NULL);
}

int mi_regex_exec(const mi_regex *re, const char *subject, size_t len, size_t pos, int anchored,
                  mi_regex_span *spans)
{
    struct mctx c = {0};
    c.s = (const unsigned char *)subject;
    c.len = len;
    c.ngroups = re->ngroups;
    c.budget = MATCH_BUDGET;
    long stack_cs[16], stack_ce[16];
    long *cs = stack_cs, *ce = stack_ce;
    if (re->ngroups + 1 > 16) {
        cs = mi_xmalloc((size_t)(re->ngroups + 1) * sizeof(long));
        ce = mi_xmalloc((size_t)(re->ngroups + 1) * sizeof(long));
    }
    c.cs = cs;
    c.ce = ce;
    int found = 0;
    size_t start = pos;
    for (;;) {
        int try_here = 1;
        if (!anchored && re->first_cp >= 0 && start < len) {
            size_t n;
            uint32_t cp = decode(c.s, len, start, &n);
            if (cp != (uint32_t)re->first_cp &&
                !(re->first_ci && lower_cp(cp) == lower_cp((uint32_t)re->first_cp)))
                try_here = 0;
        }
        if (try_here && exec_at(re, &c, start)) {
            found = 1;
            break;
        }
        if (c.err || anchored || start >= len)
            break;
        size_t n;
        decode(c.s, len, start, &n);
        start += n;
    }
    if (found && spans) {
        spans[0].start = (long)start;
        spans[0].end = (long)c.accept_pos;
        for (int g = 1; g <= re->ngroups; g++) {
            spans[g].start = c.cs[g];
            spans[g].end = c.ce[g];
        }
    }
    if (cs != stack_cs) {
        free(cs);
        free(ce);
    }
    if (c.err)
        return MI_REGEX_EBUDGET;
    return found;
}

int mi_regex_fullmatch(const mi_regex *re, const char *subject, size_t len)
{
    /* fullmatch = match of (?:pattern)\Z; emulate by requiring the end: try the anchored
     * match, and if it ends early, retry through a wrapper node. */
    struct node eos = {0};
    eos.kind = N_EOS;
    struct node *kids[2] = {re->root, &eos};
    struct node cat = {0};
    cat.kind = N_CAT;
    cat.kids = kids;
    cat.nkids = 2;
    mi_regex tmp = *re;
    tmp.root = &cat;
    tmp.first_cp = -1;
    return mi_regex_exec(&tmp, subject, len, 0, 1, NULL);
}

int mi_regex_match_once(const char *pattern, const char *subject, size_t len, int flags)
{
    mi_regex *re = NULL;
    int rc = mi_regex_compile(&re, pattern, strlen(pattern), flags);
    if (rc < 0)
        return rc;
    rc = mi_regex_exec(re, subject, len, 0, 1, NULL);
    mi_regex_free(re);
    return rc;
}

void mi_regex_escape(mi_buf *out, const char *s, size_t len)
{
    static const char special[] = "()[]{}?*+-|^$\\.&~# \t\n\r\v\f";
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c != '\0' && strchr(special, c))
            mi_buf_addch(out, '\\');
        mi_buf_addch(out, c);
    }
}
