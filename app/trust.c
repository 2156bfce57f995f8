/*
 * app/trust.c - the command line's trust settings: signed models (--require-signed),
 * the sandbox report at start, and `cove plugin-host`.
 *
 * --require-signed KEYS may follow any command that loads a model; main() takes it out
 * of the arguments and puts KEYS into COVE_REQUIRE_SIGNED, which every model load of the
 * command line then honours (and which a deployment may set itself). A model is loaded
 * only when MODEL.manifest.json beside it is signed by one of the keys and names the
 * file's SHA-256 (audit/sign.h).
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/sign.h"
#include "base/alloc.h"
#include "base/log.h"
#include "cli.h"
#include "cove/plugin.h"
#include "sandbox/sandbox.h"

#define REQUIRE_ENV "COVE_REQUIRE_SIGNED"

int cove_cli_take_trust_args(int *argc, char **argv)
{
    int j = 1;
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            while (i < *argc)
                argv[j++] = argv[i++];
            break;
        }
        if (strcmp(argv[i], "--require-signed") != 0) {
            argv[j++] = argv[i];
            continue;
        }
        if (i + 1 >= *argc || argv[i + 1][0] == '\0')
            return cli_usage_error(argv[0], "--require-signed needs the trusted keys (a key "
                                   "file or a directory of *.pub files)");
        if (setenv(REQUIRE_ENV, argv[++i], 1) != 0)
            return cli_fail(argv[0], "cannot set %s", REQUIRE_ENV);
    }
    argv[j] = NULL;
    *argc = j;
    return -1;
}

cove_status cove_cli_require_signed(const char *cmd, const char *const *paths, size_t n,
                                    cove_error *err)
{
    const char *keys = getenv(REQUIRE_ENV);
    if (!keys || !*keys)
        return COVE_OK;
    cove_audit_trust *trust = NULL;
    cove_status st = cove_audit_trust_load(keys, &trust, err);
    for (size_t i = 0; st == COVE_OK && i < n; i++) {
        size_t j = 0;
        while (paths[i] && j < i && !(paths[j] && strcmp(paths[j], paths[i]) == 0))
            j++;
        if (!paths[i] || j < i) /* none, or checked already */
            continue;
        st = cove_audit_require_signed_model(paths[i], trust, err);
        if (st == COVE_OK)
            cove_log_info("%s: signed model %s", cmd, paths[i]);
    }
    cove_audit_trust_free(trust);
    return st;
}

int cove_cli_check_signed_list(const char *cmd, const char *const *paths, size_t n)
{
    cove_error err = {0};
    if (cove_cli_require_signed(cmd, paths, n, &err) != COVE_OK)
        return cli_fail(cmd, "%s", cove_error_msg(&err));
    return COVE_EXIT_OK;
}

int cove_cli_check_signed(const char *cmd, const char *model_path)
{
    return cove_cli_check_signed_list(cmd, &model_path, 1);
}

int cove_cli_model_load(const char *cmd, const char *path, cove_model_params mp, cove_model **out)
{
    cove_error err = {0};
    *out = NULL;
    if (cove_cli_check_signed(cmd, path) != COVE_EXIT_OK)
        return COVE_EXIT_ERROR;
    if (cove_model_load(path, mp, out, &err) != COVE_OK)
        return cli_fail(cmd, "%s: %s", path, cove_error_msg(&err));
    return COVE_EXIT_OK;
}

int cove_cli_sandbox_line(char *line, size_t n)
{
    struct cove_sandbox_caps caps;
    cove_sandbox_probe(&caps);
    cove_sandbox_caps_describe(&caps, line, n);
    return caps.landlock_abi > 0 && caps.seccomp_filter;
}

void cove_cli_log_sandbox(int accept_weak)
{
    char line[256];
    if (cove_cli_sandbox_line(line, sizeof line))
        cove_log_info("sandbox: %s", line);
    else if (accept_weak)
        cove_log_warn("sandbox: %s; weak mode accepted: file tools, plugins and pdftotext "
                      "run without file-system confinement", line);
    else
        cove_log_warn("sandbox: %s; file tools, plugins and pdftotext will refuse to run "
                      "(--accept-weak-sandbox accepts the weaker mode)", line);
}

/*
 * `cove plugin-host LIB [NAME=PATH]...`: runs inside the sandbox (started by the agent
 * for a shared-library plugin): loads LIB, hands it the arguments from stdin, writes its
 * observation to stdout. Not listed in `cove help`.
 */
int cove_cmd_plugin_host(int argc, char **argv)
{
    if (argc < 2 || cli_is_help(argv[1])) {
        printf("usage: cove plugin-host LIB [NAME=PATH]...\n\nRuns a shared-library tool "
               "plugin inside the sandbox (started by cove itself; docs/plugins.md).\n");
        return argc < 2 ? COVE_EXIT_USAGE : COVE_EXIT_OK;
    }
    static char args[COVE_AGENT_MAX_ARGS + 1];
    size_t n = fread(args, 1, sizeof args - 1, stdin);
    args[n] = '\0';
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        return cli_fail("plugin-host", "%s", dlerror());
    /* POSIX: dlsym's result converts to a function pointer; memcpy keeps ISO C quiet */
    void *sym_abi = dlsym(lib, "cove_plugin_abi"), *sym_call = dlsym(lib, "cove_plugin_call");
    cove_plugin_abi_fn *abi = NULL;
    cove_plugin_call_fn *call = NULL;
    if (sym_abi)
        memcpy(&abi, &sym_abi, sizeof abi);
    if (sym_call)
        memcpy(&call, &sym_call, sizeof call);
    if (!abi || !call || abi() != COVE_PLUGIN_ABI)
        return cli_fail("plugin-host", "%s: not a cove plugin of ABI %d (needs cove_plugin_abi "
                        "and cove_plugin_call)", argv[1], COVE_PLUGIN_ABI);
    size_t cap = COVE_AGENT_MAX_OBSERVATION, len = 0;
    char *out = cove_malloc(cap);
    if (!out)
        return cli_fail("plugin-host", "out of memory");
    int rc = call(args, n, out, cap, &len);
    if (len > cap)
        len = cap;
    fwrite(out, 1, len, rc == 0 ? stdout : stderr);
    cove_free(out);
    return rc == 0 ? COVE_EXIT_OK : COVE_EXIT_ERROR;
}
