/*
 * regex.h - regular expressions with Python's `re` syntax and matching rules.
 *
 * terraform-compliance feature files carry Python regular expressions ("its value must
 * match the \"^(on)$|^([4-9]|\\d{2,})$\" regex") and its step patterns are Python regexes
 * too, so the engine needs Python's dialect: (?P<name>...), lazy and possessive quantifiers,
 * look-around, backreferences, literal '{' where no quantifier fits, \A \Z, scoped and global
 * inline flags. It is a backtracking matcher over UTF-8 code points, like Python's sre.
 *
 * Rules:
 *  - A compiled regex is immutable and may be shared; matching allocates nothing that
 *    outlives the call.
 *  - Matching has a work budget: a pathological pattern on a long subject stops with
 *    MI_REGEX_EBUDGET instead of running for minutes (Python would hang).
 *  - Case folding (MI_RE_IGNORECASE) covers ASCII and Latin-1; \d, \w and \s are ASCII
 *    plus common Unicode spaces and letters (documented approximation of Python's Unicode
 *    classes).
 *  - Compile errors set the error message (util/error.h) with the pattern and position.
 */
#ifndef MI_POLICY_REGEX_H
#define MI_POLICY_REGEX_H

#include <stddef.h>

enum {
    MI_RE_IGNORECASE = 1,
    MI_RE_DOTALL = 2,
    MI_RE_MULTILINE = 4,
    MI_RE_VERBOSE = 8,
};

#define MI_REGEX_EBUDGET (-2)

typedef struct mi_regex mi_regex;

typedef struct mi_regex_span {
    long start, end; /* byte offsets; -1 when the group did not take part */
} mi_regex_span;

int mi_regex_compile(mi_regex **out, const char *pattern, size_t len, int flags);
void mi_regex_free(mi_regex *re);

/* Number of capturing groups (group 0, the whole match, not counted). */
int mi_regex_groups(const mi_regex *re);
/* Index of the named group, or -1. */
int mi_regex_group_index(const mi_regex *re, const char *name);

/* Python's re.match (anchored == 1: the match starts at pos) or re.search (anchored == 0).
 * spans may be NULL; otherwise it has room for mi_regex_groups(re) + 1 entries.
 * Returns 1 on a match, 0 on none, MI_REGEX_EBUDGET when the work budget ran out. */
int mi_regex_exec(const mi_regex *re, const char *subject, size_t len, size_t pos, int anchored,
                  mi_regex_span *spans);

/* Python's re.fullmatch. */
int mi_regex_fullmatch(const mi_regex *re, const char *subject, size_t len);

/* Compiles and runs once: re.match(pattern, subject, flags) != None. Returns 1, 0, or a
 * negative error (compile error with message set, or MI_REGEX_EBUDGET). */
int mi_regex_match_once(const char *pattern, const char *subject, size_t len, int flags);

struct mi_buf;
/* Appends Python 3.7+'s re.escape(s). */
void mi_regex_escape(struct mi_buf *out, const char *s, size_t len);

#endif
