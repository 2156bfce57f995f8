/*
 * app/cli.h - shared pieces of the `cove` command line.
 *
 * Exit codes: COVE_EXIT_OK (0) on success, COVE_EXIT_ERROR (1) on a reported
 * error, COVE_EXIT_USAGE (2) on bad usage. Output meant for programs goes to
 * stdout, diagnostics to stderr.
 */
#ifndef COVE_APP_CLI_H
#define COVE_APP_CLI_H

#include "cove/engine.h"
#include "cove/status.h"

enum { COVE_EXIT_OK = 0, COVE_EXIT_ERROR = 1, COVE_EXIT_USAGE = 2 };

/* A subcommand: argv[0] is the command name; returns an exit code. */
typedef int (*cove_cmd_fn)(int argc, char **argv);

typedef struct cove_cmd {
    const char *name;
    const char *summary; /* one line for `cove help` */
    cove_cmd_fn run;
} cove_cmd;

/* Print "cove CMD: message" and a hint to stderr; returns COVE_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Print "cove CMD: message" to stderr; returns COVE_EXIT_ERROR. */
int cli_fail(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* 1 when arg is -h or --help. */
int cli_is_help(const char *arg);

/* Strict number parsing: the whole string must be a number in [min, max]. 0 on success. */
int cli_parse_long(const char *s, long min, long max, long *out);
int cli_parse_double(const char *s, double *out);

/* Subcommands, each in app/cmd_<name>.c. */
int cove_cmd_inspect(int argc, char **argv);
int cove_cmd_tokenize(int argc, char **argv);
int cove_cmd_complete(int argc, char **argv);
int cove_cmd_pull(int argc, char **argv);
int cove_cmd_models(int argc, char **argv);
int cove_cmd_embed(int argc, char **argv);
int cove_cmd_convert(int argc, char **argv);
int cove_cmd_quantize(int argc, char **argv);
int cove_cmd_bench(int argc, char **argv);
int cove_cmd_gen_model(int argc, char **argv);
int cove_cmd_chat(int argc, char **argv);
int cove_cmd_serve(int argc, char **argv);
int cove_cmd_ask(int argc, char **argv);
int cove_cmd_tool(int argc, char **argv);
int cove_cmd_validate(int argc, char **argv);     /* cmd_validate.c */
int cove_cmd_schema2gbnf(int argc, char **argv);  /* cmd_validate.c */
int cove_cmd_audit(int argc, char **argv);
int cove_cmd_keygen(int argc, char **argv);
int cove_cmd_sign(int argc, char **argv);
int cove_cmd_verify_sig(int argc, char **argv); /* in cmd_sign.c */
int cove_cmd_ingest(int argc, char **argv);
int cove_cmd_search(int argc, char **argv);
int cove_cmd_plugin_host(int argc, char **argv); /* trust.c */

/*
 * trust.c. cove_cli_take_trust_args removes "--require-signed KEYS" from argv (setting
 * COVE_REQUIRE_SIGNED=KEYS); returns -1 to go on or an exit code.
 * cove_cli_require_signed: COVE_OK when no signature is required or the manifest of each
 * of the n model paths is signed by a trusted key (the keys loaded once; NULL paths and
 * repeats skipped), else the first failure in err. cove_cli_check_signed_list and
 * cove_cli_check_signed: the same as an exit code, printing why (COVE_EXIT_ERROR).
 * cove_cli_model_load: that check, then cove_model_load (a failure printed as
 * "cmd: path: why"); *out is the caller's to free. cove_cli_sandbox_line describes what
 * the kernel's sandbox offers and returns whether it confines files and system calls;
 * cove_cli_log_sandbox logs that line (a warning when Landlock is missing).
 */
int cove_cli_take_trust_args(int *argc, char **argv);
cove_status cove_cli_require_signed(const char *cmd, const char *const *paths, size_t n,
                                    cove_error *err);
int cove_cli_check_signed_list(const char *cmd, const char *const *paths, size_t n);
int cove_cli_check_signed(const char *cmd, const char *model_path);
int cove_cli_model_load(const char *cmd, const char *path, cove_model_params mp, cove_model **out);
int cove_cli_sandbox_line(char *line, size_t n);
void cove_cli_log_sandbox(int accept_weak);

#endif
