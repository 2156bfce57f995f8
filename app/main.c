/*
 * app/main.c - `cove`: one binary, many subcommands.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "cli.h"

static int cmd_help(int argc, char **argv);
static int cmd_version(int argc, char **argv);

static const cove_cmd commands[] = {
    {"help", "list the commands, or explain one: cove help CMD", cmd_help},
    {"version", "print the version and what the kernel offers the sandbox", cmd_version},
    {"models", "list the catalogue of default models and what is in the cache", cove_cmd_models},
    {"pull", "download a model into the cache and verify it", cove_cmd_pull},
    {"inspect", "print a GGUF file's metadata and tensor table", cove_cmd_inspect},
    {"tokenize", "print the token ids of a text", cove_cmd_tokenize},
    {"complete", "generate text from a prompt", cove_cmd_complete},
    {"chat", "talk with an instruction-tuned model (one message per line)", cove_cmd_chat},
    {"ask", "answer a request with an agent: tools, sources, sessions", cove_cmd_ask},
    {"tool", "run one agent tool as an agent would and print its result", cove_cmd_tool},
    {"embed", "print the sentence embeddings of texts as JSON", cove_cmd_embed},
    {"serve", "serve a model over HTTP (llama.cpp- and OpenAI-compatible API)", cove_cmd_serve},
    {"ingest", "add files to a knowledge base (txt, md, csv, html, pdf)", cove_cmd_ingest},
    {"search", "search a knowledge base by meaning and keywords", cove_cmd_search},
    {"convert", "turn a Hugging Face model directory into a GGUF file", cove_cmd_convert},
    {"quantize", "requantize the weights of a GGUF file", cove_cmd_quantize},
    {"gen-model", "write a random model of a real model's shapes (benchmarks)", cove_cmd_gen_model},
    {"bench", "measure prefill and decode speed of a model", cove_cmd_bench},
    {"validate", "check a JSON document against a JSON Schema", cove_cmd_validate},
    {"schema2gbnf", "print the GBNF grammar of a JSON Schema", cove_cmd_schema2gbnf},
    {"audit", "verify, show or append to a tamper-evident audit log", cove_cmd_audit},
    {"keygen", "make an Ed25519 key pair (audit checkpoints, manifests)", cove_cmd_keygen},
    {"sign", "sign a plugin or model manifest", cove_cmd_sign},
    {"verify-sig", "check a signed plugin or model manifest", cove_cmd_verify_sig},
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

static const cove_cmd *find_cmd(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static void print_overview(FILE *f)
{
    fprintf(f, "usage: cove COMMAND [ARGS...]\n\n"
               "Private AI agents on small local language models.\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'cove COMMAND --help' explains a command.\n\nenvironment:\n"
               "  COVE_MODELS      model cache (default ~/.cache/cove/models)\n"
               "  COVE_CATALOGUE   model catalogue file (default: the one installed with cove)\n"
               "  COVE_LOG_LEVEL   error | warn | info | debug (default warn)\n"
               "  COVE_LOG_FORMAT  plain | json\n"
               "  COVE_CPU_DISABLE CPU features to leave unused, e.g. avx512,avx2\n"
               "  COVE_AUDIT_LOG   audit log of commands that take --audit FILE\n"
               "  COVE_AUDIT_KEY   secret key file signing the audit log's checkpoints\n"
               "  COVE_REQUIRE_SIGNED  trusted keys; models load only with a manifest signed\n"
               "                   by one of them (also: --require-signed KEYS after any\n"
               "                   command that loads a model)\n");
}

static int cmd_help(int argc, char **argv)
{
    if (argc < 2) {
        print_overview(stdout);
        return COVE_EXIT_OK;
    }
    if (argc > 2)
        return cli_usage_error("help", "expected at most one command name");
    if (cli_is_help(argv[1])) {
        print_overview(stdout);
        return COVE_EXIT_OK;
    }
    const cove_cmd *c = find_cmd(argv[1]);
    if (!c)
        return cli_usage_error("help", "unknown command '%s'", argv[1]);
    if (c->run == cmd_help) {
        print_overview(stdout);
        return COVE_EXIT_OK;
    }
    char help[] = "--help";
    char *sub[] = {argv[1], help, NULL};
    return c->run(2, sub);
}

static int cmd_version(int argc, char **argv)
{
    if (argc > 1 && cli_is_help(argv[1])) {
        printf("usage: cove version\n\nPrints the version of cove and what the kernel offers its "
               "sandbox (Landlock ABI, seccomp, openat2).\n");
        return COVE_EXIT_OK;
    }
    if (argc > 1)
        return cli_usage_error("version", "takes no arguments");
    printf("cove %s\n", COVE_VERSION);
    char line[256];
    cove_cli_sandbox_line(line, sizeof line);
    printf("sandbox: %s\n", line);
    return COVE_EXIT_OK;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "cove %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see 'cove %s --help')\n", cmd);
    return COVE_EXIT_USAGE;
}

int cli_fail(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "cove %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return COVE_EXIT_ERROR;
}

int cli_is_help(const char *arg)
{
    return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

int cli_parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int cli_parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end)
        return -1;
    *out = v;
    return 0;
}

static void setup_logging(void)
{
    enum cove_log_level level = COVE_LOG_WARN;
    enum cove_log_format format = COVE_LOG_PLAIN;
    const char *lv = getenv("COVE_LOG_LEVEL");
    const char *fm = getenv("COVE_LOG_FORMAT");
    if (lv && cove_log_level_parse(lv, &level) != 0)
        fprintf(stderr, "cove: ignoring COVE_LOG_LEVEL=%s (want error|warn|info|debug)\n", lv);
    if (fm && strcmp(fm, "json") == 0)
        format = COVE_LOG_JSON;
    cove_log_setup(stderr, level, format);
}

int main(int argc, char **argv)
{
    setup_logging();
    if (argc < 2) {
        print_overview(stderr);
        return COVE_EXIT_USAGE;
    }
    if (cli_is_help(argv[1]))
        return cmd_help(1, argv);
    if (strcmp(argv[1], "--version") == 0)
        return cmd_version(1, argv + 1);
    if (strcmp(argv[1], "plugin-host") == 0) /* started by cove inside the sandbox */
        return cove_cmd_plugin_host(argc - 1, argv + 1);
    const cove_cmd *c = find_cmd(argv[1]);
    if (!c) {
        fprintf(stderr, "cove: unknown command '%s'\n\n", argv[1]);
        print_overview(stderr);
        return COVE_EXIT_USAGE;
    }
    int sub_argc = argc - 1;
    int rc = cove_cli_take_trust_args(&sub_argc, argv + 1);
    if (rc >= 0)
        return rc;
    return c->run(sub_argc, argv + 1);
}
