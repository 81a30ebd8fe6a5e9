/* terraform output -json read by terraform/outputs.h: values as text, sensitive values never
 * kept but handed to the masking callback, bad input refused. */
#include <criterion/criterion.h>
#include <string.h>

#include "terraform/outputs.h"
#include "util/buf.h"
#include "util/error.h"

static mi_buf seen;

static void collect(void *ctx, const char *secret)
{
    (void)ctx;
    mi_buf_addf(&seen, "[%s]", secret);
}

static void setup(void)
{
    mi_buf_init(&seen);
}

static void teardown(void)
{
    mi_buf_release(&seen);
}

TestSuite(tf_outputs, .init = setup, .fini = teardown);

/* As terraform 1.11 prints it for examples/local. */
static const char real[] =
    "{\n  \"service_ip\": {\n    \"sensitive\": false,\n    \"type\": \"string\",\n"
    "    \"value\": \"127.0.0.1\"\n  },\n  \"service_url\": {\n    \"sensitive\": false,\n"
    "    \"type\": \"string\",\n    \"value\": \"http://127.0.0.1:5000\"\n  },\n"
    "  \"tracking_password\": {\n    \"sensitive\": true,\n    \"type\": \"string\",\n"
    "    \"value\": \"local-demo-password\"\n  }\n}\n";

Test(tf_outputs, reads_strings_and_keeps_no_sensitive_value)
{
    struct mi_tf_outputs o = MI_TF_OUTPUTS_INIT;
    cr_assert_eq(mi_tf_outputs_parse(&o, real, strlen(real), "t", collect, NULL), 0, "%s",
                 mi_error_last());
    cr_assert_eq(o.len, 3);
    const struct mi_tf_output *url = mi_tf_outputs_find(&o, "service_url");
    cr_assert(url && !url->sensitive);
    cr_assert_str_eq(url->value, "http://127.0.0.1:5000");
    const struct mi_tf_output *pw = mi_tf_outputs_find(&o, "tracking_password");
    cr_assert(pw && pw->sensitive);
    cr_assert_null(pw->value);
    cr_assert(strstr(seen.ptr, "[local-demo-password]"), "%s", seen.ptr);
    cr_assert_null(mi_tf_outputs_find(&o, "nope"));
    mi_tf_outputs_release(&o);
    mi_tf_outputs_release(&o);
}

Test(tf_outputs, other_values_are_compact_json_and_sensitive_strings_inside_are_masked)
{
    const char *j = "{\"n\":{\"value\":3},\"l\":{\"value\":[\"a\",true]},"
                    "\"m\":{\"sensitive\":true,\"value\":{\"user\":\"admin\",\"pw\":\"s3cret\"}}}";
    struct mi_tf_outputs o = MI_TF_OUTPUTS_INIT;
    cr_assert_eq(mi_tf_outputs_parse(&o, j, strlen(j), "t", collect, NULL), 0);
    cr_assert_str_eq(mi_tf_outputs_find(&o, "n")->value, "3");
    cr_assert_str_eq(mi_tf_outputs_find(&o, "l")->value, "[\"a\",true]");
    cr_assert(strstr(seen.ptr, "[s3cret]") && strstr(seen.ptr, "[admin]"), "%s", seen.ptr);
    mi_tf_outputs_release(&o);
}

Test(tf_outputs, refuses_what_is_not_terraforms_output)
{
    static const char *const bad[] = {"",
                                      "[]",
                                      "{\"a\":1}",
                                      "{\"a\":{\"type\":\"string\"}}",
                                      "{\"a\":{\"value\":1},\"a\":{\"value\":2}}",
                                      "{",
                                      NULL};
    for (size_t i = 0; bad[i]; i++) {
        struct mi_tf_outputs o = MI_TF_OUTPUTS_INIT;
        cr_assert_eq(
            mi_tf_outputs_parse(&o, bad[i], strlen(bad[i]), "terraform output -json", NULL, NULL),
            MI_ERR, "accepted: %s", bad[i]);
        cr_assert(strstr(mi_error_last(), "terraform output -json"), "%s", mi_error_last());
        cr_assert_eq(o.len, 0);
        cr_assert_null(o.items);
    }
}
