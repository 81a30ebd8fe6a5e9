#include "plangen.h"

#include <string.h>

void mi_test_plan_generate(mi_buf *out, size_t n, const char *secret_prefix,
                           struct mi_test_plan_counts *counts)
{
    struct mi_test_plan_counts c = {0, 0, 0, 0};
    mi_buf_adds(out, "{\"format_version\":\"1.2\",\"terraform_version\":\"1.9.8\","
                     "\"resource_changes\":[");
    for (size_t i = 0; i < n; i++) {
        size_t kind = i % 10;
        const char *actions;
        if (kind < 6) {
            actions = "[\"create\"]";
            c.add++;
        } else if (kind < 8) {
            actions = "[\"update\"]";
            c.change++;
        } else if (kind == 8) {
            actions = "[\"delete\"]";
            c.destroy++;
        } else {
            actions = "[\"delete\",\"create\"]";
            c.add++;
            c.destroy++;
            c.replace++;
        }
        size_t module = i % 5;
        int secret = kind == 3 || kind == 7;
        if (i)
            mi_buf_addch(out, ',');
        mi_buf_addf(out,
                    "{\"address\":\"module.m%zu.azurerm_storage_container.c[%zu]\","
                    "\"module_address\":\"module.m%zu\",\"mode\":\"managed\","
                    "\"type\":\"azurerm_storage_container\",\"name\":\"c\",\"index\":%zu,"
                    "\"provider_name\":\"registry.terraform.io/hashicorp/azurerm\","
                    "\"change\":{\"actions\":%s,",
                    module, i, module, i, actions);
        const char *before_name = kind == 9 ? "old" : "c";
        if (kind < 6)
            mi_buf_adds(out, "\"before\":null,");
        else
            mi_buf_addf(out,
                        "\"before\":{\"name\":\"%s-%zu\",\"container_access_type\":\"private\","
                        "\"metadata\":{\"team\":\"ml\",\"rev\":\"1\"}%s%s%s},",
                        before_name, i, secret ? ",\"password\":\"" : "",
                        secret ? secret_prefix : "", secret ? "-old\"" : "");
        if (kind == 8)
            mi_buf_adds(out, "\"after\":null,");
        else
            mi_buf_addf(out,
                        "\"after\":{\"name\":\"c-%zu\",\"container_access_type\":\"private\","
                        "\"metadata\":{\"team\":\"ml\",\"rev\":\"%s\"}",
                        i, kind >= 6 && kind < 8 ? "2" : "1");
        if (kind != 8 && secret)
            mi_buf_addf(out, ",\"password\":\"%s-%zu\"", secret_prefix, i);
        if (kind != 8)
            mi_buf_adds(out, "},");
        mi_buf_addf(out, "\"after_unknown\":{%s},", kind == 8 ? "" : "\"id\":true");
        mi_buf_addf(out, "\"before_sensitive\":%s,\"after_sensitive\":%s",
                    kind < 6 ? "false"
                    : secret ? "{\"password\":true}"
                             : "{}",
                    kind == 8 ? "false"
                    : secret  ? "{\"password\":true}"
                              : "{}");
        if (kind == 9)
            mi_buf_adds(out, ",\"replace_paths\":[[\"name\"]]");
        mi_buf_adds(out, "}");
        if (kind == 9)
            mi_buf_adds(out, ",\"action_reason\":\"replace_because_cannot_update\"");
        mi_buf_adds(out, "}");
    }
    mi_buf_adds(out, "],\"output_changes\":{"
                     "\"endpoint\":{\"actions\":[\"update\"],\"before\":\"http://10.0.0.1\","
                     "\"after\":null,\"after_unknown\":true,\"before_sensitive\":false,"
                     "\"after_sensitive\":false},"
                     "\"count\":{\"actions\":[\"update\"],\"before\":1,\"after\":2,"
                     "\"after_unknown\":false,\"before_sensitive\":false,"
                     "\"after_sensitive\":false}},"
                     "\"applyable\":true,\"complete\":true,\"errored\":false}");
    if (counts)
        *counts = c;
}
