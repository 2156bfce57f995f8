/*
 * app/cmd_keygen.c - `cove keygen -o PREFIX`: a new Ed25519 key pair for signing
 * audit-log checkpoints and plugin/model manifests.
 */
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "cli.h"

#define CMD "keygen"

static void usage(FILE *f)
{
    fprintf(f, "usage: cove keygen -o PREFIX\n\n"
               "Writes a new Ed25519 key pair: PREFIX.pub (public key, 64 hex digits; give it to\n"
               "whoever verifies) and PREFIX.key (secret key, mode 0600; keep it private).\n"
               "Existing files are never overwritten.\n\n"
               "Exit status: 0 done, 1 error, 2 bad usage.\n");
}

int cove_cmd_keygen(int argc, char **argv)
{
    const char *prefix = NULL;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return COVE_EXIT_OK;
        }
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
            prefix = argv[++i];
        else
            return cli_usage_error(CMD, "unknown option or missing value: '%s'", argv[i]);
    }
    if (!prefix)
        return cli_usage_error(CMD, "give the output prefix with -o PREFIX");
    cove_error err = {0};
    if (cove_audit_keygen(prefix, &err) != COVE_OK)
        return cli_fail(CMD, "%s", cove_error_msg(&err));
    char pub[4200];
    unsigned char pk[COVE_AUDIT_PUBKEY_BYTES];
    snprintf(pub, sizeof pub, "%s.pub", prefix);
    if (cove_audit_pubkey_load(pub, pk, &err) != COVE_OK)
        return cli_fail(CMD, "%s", cove_error_msg(&err));
    printf("wrote %s.key (secret) and %s.pub (public)\n", prefix, prefix);
    return COVE_EXIT_OK;
}
