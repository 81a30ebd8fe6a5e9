/*
 * tfsource.h - where a resource is declared: resource address -> .tf file and line.
 *
 * Terraform's plan JSON says which resources change but not where they are written (its
 * `configuration` section has no file or line), so reports that want to point at the code
 * (SARIF results, annotations) read the configuration's own files: the top-level `resource`
 * and `data` blocks of every *.tf file of a directory, and, through `module` blocks whose
 * source is local ("./" or "../"), of the modules it calls, recursively, with the module
 * path in front of the address ("module.mlflow.helm_release.this").
 *
 * Rules:
 *  - Only native syntax (*.tf) is read; *.tf.json files and remote module sources are not
 *    (their resources are simply not found). Symbolic links are not followed, files larger
 *    than MI_TFSOURCE_MAX_FILE are skipped, module nesting stops at MI_TFSOURCE_MAX_DEPTH.
 *    A file that cannot be read is skipped: this is a best-effort index for pointing at
 *    code, and a missing location is never an error for its users.
 *  - The scanner follows HCL's lexical structure (strings with ${...} templates, heredocs,
 *    #, // and block comments), so a `resource "a" "b" {` inside a string or comment, or
 *    inside another block, is not taken for a declaration. It never fails on any bytes.
 *  - An index owns its strings; mi_tfsource_free(NULL) is a no-op. Lookups return borrowed
 *    entries that live as long as the index. Paths are the directory given joined with the
 *    file's path below it (so a repository-relative directory gives repository-relative
 *    paths).
 *  - Nothing here prints.
 */
#ifndef MI_TERRAFORM_TFSOURCE_H
#define MI_TERRAFORM_TFSOURCE_H

#include <stddef.h>

#define MI_TFSOURCE_MAX_FILE (4u * 1024u * 1024u)
#define MI_TFSOURCE_MAX_DEPTH 16

struct mi_tfsource_block {
    char *address; /* "type.name", "data.type.name", with "module.x." steps in front */
    char *file;    /* dir/..., normalized (no "./", no "dir/../") */
    int line;      /* 1-based line of the block's first token */
};

struct mi_tfsource {
    struct mi_tfsource_block *blocks; /* sorted by address */
    size_t len;
};

/* Indexes the configuration in dir. Fails only when dir itself cannot be opened
 * (MI_ENOTFOUND / MI_ERR, naming it). */
int mi_tfsource_scan(struct mi_tfsource **out, const char *dir);

/* Indexes one file's text as if it were in dir (tests, fuzzing); modules are not followed. */
void mi_tfsource_scan_text(struct mi_tfsource **out, const char *text, size_t len,
                           const char *file);

/* The block declaring a resource instance: instance keys ("[0]", "[\"a\"]") are ignored in
 * every step, so "module.m[1].aws_x.y[\"k\"]" finds module m's aws_x.y. NULL when unknown. */
const struct mi_tfsource_block *mi_tfsource_find(const struct mi_tfsource *s, const char *address);

void mi_tfsource_free(struct mi_tfsource *s);

#endif
