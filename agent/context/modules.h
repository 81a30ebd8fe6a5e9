/*
 * modules.h - the local modules a Terraform configuration uses, directly or through other
 * local modules, read from a commit's tree.
 *
 * A module is local when its `source` starts with "./" or "../" (Terraform's rule); it is
 * resolved against the directory of the .tf file that holds the block. Registry, git and
 * other remote sources are not followed. Both native syntax (*.tf) and JSON syntax
 * (*.tf.json) are read; symbolic links are not followed.
 *
 * Files are read from the commit's tree, never from the working tree, so what a pull request
 * puts on disk (symbolic links to elsewhere, files outside the repository) cannot steer it;
 * a source that climbs out of the repository is skipped with a warning.
 *
 * Ownership: lists and graphs are owned by the caller and freed with their _free (NULL is a
 * no-op). A graph borrows the repository, which must outlive it. Never prints, never exits.
 */
#ifndef MI_CONTEXT_MODULES_H
#define MI_CONTEXT_MODULES_H

#include <git2.h>
#include <stddef.h>

/* A .tf file larger than this is skipped with a warning. */
#define MI_MODULES_MAX_FILE_BYTES (4u * 1024u * 1024u)

#define MI_MODULE_DIRECT ((size_t)-1)

struct mi_module_use {
    char *dir;  /* the module's directory, repository-relative and normalized */
    size_t via; /* index (in the same list) of the module whose block uses this one, or
                 * MI_MODULE_DIRECT when the configuration's own files do */
    char *file; /* the file holding the module block, repository-relative */
    int line;   /* its line (0 for JSON syntax, which has no positions) */
};

struct mi_module_list {
    struct mi_module_use *items; /* in breadth-first order: the chain through `via` to any
                                  * module is a shortest one */
    size_t n;
    char **warnings; /* sources skipped: outside the repository, missing, unreadable */
    size_t nwarnings;
};

/* A cache over one commit's tree, for reading many configurations that share modules. */
struct mi_module_graph;

int mi_module_graph_new(struct mi_module_graph **out, git_repository *repo, const git_oid *commit);
void mi_module_graph_free(struct mi_module_graph *g);

/* The local modules the configuration in dir (repository-relative) uses, transitively;
 * dir itself is not in the list. A dir missing from the tree gives an empty list. */
int mi_module_graph_for_dir(struct mi_module_list **out, struct mi_module_graph *g,
                            const char *dir);

/* The same for one environment without a graph to keep: the module directories whose trees
 * make up an environment's configuration besides its own directory (what a configuration
 * fingerprint covers). */
int mi_modules_for_env(struct mi_module_list **out, git_repository *repo, const git_oid *commit,
                       const char *env_dir);

void mi_module_list_free(struct mi_module_list *l);

/* The chain of module directories from the configuration to item i: dirs[0] is used by the
 * configuration, dirs[n-1] is l->items[i].dir. Caller frees the array (not the strings,
 * which are borrowed from the list). */
size_t mi_module_list_chain(const struct mi_module_list *l, size_t i, const char ***dirs);

/* Scans Terraform native-syntax text for the `source` of top-level `module` blocks and calls
 * fn for each literal source (any kind; fn decides). Bounded and safe on any bytes. */
typedef void (*mi_module_source_fn)(void *ctx, const char *source, int line);
void mi_modules_scan_tf(const char *text, size_t len, mi_module_source_fn fn, void *ctx);
/* The same for JSON syntax. Returns 0, or MI_ERR for text that is not a JSON object. */
int mi_modules_scan_tf_json(const char *text, size_t len, mi_module_source_fn fn, void *ctx);

#endif
