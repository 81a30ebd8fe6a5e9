/* mlinfra version: the agent's version and the versions of the libraries it was linked with,
 * which is what a bug report needs. */
#include <curl/curl.h>
#include <git2.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "cmd/cmd.h"
#include "util/error.h"

int mi_cmd_version(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: mlinfra version\n\nPrints the version of mlinfra and its libraries.\n");
        return MI_EXIT_OK;
    }
    if (argc > 1)
        return mi_cmd_usage_error("version", "unexpected argument '%s'", argv[1]);
    int major, minor, rev;
    git_libgit2_version(&major, &minor, &rev);
    printf("mlinfra %s\n", MLINFRA_VERSION);
    printf("libcurl %s\n", curl_version_info(CURLVERSION_NOW)->version);
    printf("jansson %s\n", jansson_version_str());
    printf("libgit2 %d.%d.%d\n", major, minor, rev);
    printf("libsodium %s\n", sodium_version_string());
    printf("libyaml %s\n", yaml_get_version_string());
    return MI_EXIT_OK;
}
