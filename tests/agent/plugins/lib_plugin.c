/*
 * tests/agent/plugins/lib_plugin.c - a shared-library tool plugin for the tests: it
 * answers with the length of its arguments and their text (cove/plugin.h).
 */
#include <stdio.h>

#include "cove/plugin.h"

int cove_plugin_abi(void);
int cove_plugin_call(const char *args_json, size_t args_len, char *out, size_t cap,
                     size_t *out_len);

int cove_plugin_abi(void)
{
    return COVE_PLUGIN_ABI;
}

int cove_plugin_call(const char *args_json, size_t args_len, char *out, size_t cap,
                     size_t *out_len)
{
    int n = snprintf(out, cap, "library plugin got %zu bytes: %s", args_len, args_json);
    *out_len = n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
    return 0;
}
