/*
 * bench_store - one timed plan-store operation per process, so peak memory (ru_maxrss) is
 * that operation's alone. Driven by bench/store/run.sh.
 *
 *   bench_store gen FILE BYTES           write BYTES of pseudo-random plan data
 *   bench_store sha FILE                 SHA-256 of the plan (what put does first)
 *   bench_store seal FILE OUT            seal FILE into OUT (OUT may be /dev/null)
 *   bench_store put FILE                 seal + upload to the store (MLINFRA_STORE or Azure env)
 *   bench_store get OUT                  download + verify + unseal into OUT
 *
 * Prints one line: "<op> bytes=<n> seconds=<s> mb_per_s=<r> peak_rss_kb=<k>".
 * Keys and store settings come from the environment (MLINFRA_PLAN_KEY, AZURE_*).
 */
#include <curl/curl.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/seal.h"
#include "store/store.h"
#include "util/error.h"

#define SHA "0123456789abcdef0123456789abcdef01234567"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static double cpu_start;

/* Wall-clock MB/s, and MB per second of this process's CPU time: on a machine shared with
 * other work the second still says what one free core would do. */
static void report(const char *op, long long bytes, double secs)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = cpu_s() - cpu_start;
    printf("%s bytes=%lld seconds=%.3f mb_per_s=%.1f cpu_seconds=%.3f mb_per_cpu_s=%.1f "
           "peak_rss_kb=%ld\n",
           op, bytes, secs, secs > 0 ? (double)bytes / 1e6 / secs : 0.0, cpu,
           cpu > 0 ? (double)bytes / 1e6 / cpu : 0.0, ru.ru_maxrss);
}

static int die(const char *what)
{
    fprintf(stderr, "bench_store: %s: %s\n", what, mi_error_last());
    return 1;
}

static long long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static void binding(struct mi_seal_binding *b)
{
    memset(b, 0, sizeof(*b));
    b->repository = mi_xstrdup("bench/store");
    b->environment = mi_xstrdup("bench");
    b->pr = 1;
    b->head_sha = mi_xstrdup(SHA);
    b->config_fingerprint = mi_xstrdup("sha256:bench");
    b->terraform_version = mi_xstrdup("1.9.5");
    b->created_at = mi_xstrdup("2025-01-01T00:00:00Z");
}

int main(int argc, char **argv)
{
    if (argc < 3 || sodium_init() < 0)
        return 2;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const char *op = argv[1];
    struct mi_seal_keyring keys;
    if (strcmp(op, "gen") == 0) {
        long long n = argc > 3 ? strtoll(argv[3], NULL, 10) : 0;
        unsigned char seed[randombytes_SEEDBYTES] = {42};
        size_t piece = 1 << 20;
        unsigned char *buf = malloc(piece);
        FILE *f = fopen(argv[2], "wb");
        if (!f || !buf)
            return 1;
        for (long long off = 0; off < n; off += (long long)piece) {
            seed[1] = (unsigned char)(off >> 20);
            seed[2] = (unsigned char)(off >> 28);
            size_t k = n - off < (long long)piece ? (size_t)(n - off) : piece;
            randombytes_buf_deterministic(buf, k, seed);
            fwrite(buf, 1, k, f);
        }
        fclose(f);
        free(buf);
        return 0;
    }
    if (strcmp(op, "sha") == 0) {
        char hex[65];
        int fd = open(argv[2], O_RDONLY);
        double t = now_s();
        cpu_start = cpu_s();
        if (fd < 0 || mi_seal_sha256_fd(hex, fd, argv[2]) < 0)
            return die("sha");
        report("sha", file_size(argv[2]), now_s() - t);
        return 0;
    }
    if (mi_seal_keyring_from_env(&keys) < 0)
        return die("keys");
    struct mi_seal_binding b;
    binding(&b);
    if (strcmp(op, "seal") == 0 && argc > 3) {
        /* Sealing alone: the hash is the caller's (the plan command has it already). */
        char hex[65];
        int fd = open(argv[2], O_RDONLY);
        if (fd < 0 || mi_seal_sha256_fd(hex, fd, argv[2]) < 0)
            return die("sha");
        b.plan_sha256 = mi_xstrdup(hex);
        struct mi_sealer *s = NULL;
        if (mi_sealer_new(&s, &keys, &b, fd) < 0)
            return die("seal");
        int out = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC, 0600);
        char *buf = malloc(256 * 1024);
        double t = now_s();
        cpu_start = cpu_s();
        for (;;) {
            size_t got = 0;
            if (mi_sealer_read(s, buf, 256 * 1024, &got) < 0)
                return die("seal");
            if (got == 0)
                break;
            if (write(out, buf, got) != (ssize_t)got)
                return 1;
        }
        report("seal", file_size(argv[2]), now_s() - t);
        close(out);
        return 0;
    }
    struct mi_store_config cfg;
    mi_store_config_from_env(&cfg);
    struct mi_store *st = NULL;
    if (mi_store_open(&st, &cfg, "bench/store") < 0)
        return die("open");
    if (strcmp(op, "put") == 0) {
        double t = now_s();
        cpu_start = cpu_s();
        if (mi_store_put(st, &keys, &b, argv[2]) < 0)
            return die("put");
        report("put", file_size(argv[2]), now_s() - t);
    } else if (strcmp(op, "get") == 0) {
        struct mi_seal_expect e = {"bench/store", "bench", 1, SHA, NULL};
        double t = now_s();
        cpu_start = cpu_s();
        if (mi_store_get(st, &keys, &e, argv[2], 1, NULL) < 0)
            return die("get");
        report("get", file_size(argv[2]), now_s() - t);
    } else {
        return 2;
    }
    mi_store_free(st);
    return 0;
}
