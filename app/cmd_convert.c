/*
 * app/cmd_convert.c - `cove convert DIR -o OUT.gguf`: a Hugging Face model directory
 * into one GGUF file (docs/convert.md).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "convert/convert.h"

static void print_help(void)
{
    printf("usage: cove convert DIR -o OUT.gguf [options]\n\n"
           "Converts the Hugging Face model directory DIR into the GGUF file OUT.gguf.\n"
           "DIR holds config.json, the weights (model.safetensors, or shards named by\n"
           "model.safetensors.index.json; F32, F16 or BF16) and the vocabulary\n"
           "(tokenizer.json or vocab.txt), with tokenizer_config.json,\n"
           "special_tokens_map.json, chat_template.jinja and the sentence-transformers\n"
           "files (modules.json, 1_Pooling/config.json) when present. Families: llama\n"
           "(and mistral), qwen2, qwen3, gemma3, bert.\n\n"
           "options:\n"
           "  -o, --output FILE  the GGUF file to write (required); written under a\n"
           "                     temporary name and renamed when complete\n"
           "  -t, --type TYPE    type of the weight matrices: f32 f16 bf16 q8_0 q4_0 q4_1\n"
           "                     q5_0 q5_1 q2_k q3_k q4_k q5_k q6_k (default f16). Norms\n"
           "                     and biases stay f32; a matrix whose rows are not whole\n"
           "                     blocks of a quantized type is written as f16 (with a\n"
           "                     warning)\n"
           "  --vocab-only       write the metadata and the vocabulary only; no weights\n"
           "                     are read (nor need to be present)\n"
           "  --name NAME        general.name (default: the directory's name)\n"
           "  --pre NAME         tokenizer.ggml.pre to write instead of the detected one\n"
           "  -q, --quiet        no progress and no summary\n"
           "  -h, --help         show this help\n\n"
           "Progress goes to stderr when it is a terminal; a summary goes to stdout.\n"
           "Exit status: 0 on success, 1 when the conversion failed (the reason goes to\n"
           "stderr), 2 on bad usage.\n");
}

typedef struct progress {
    int on;
    int last_pct;
} progress;

/* Percent done on one terminal line, redrawn when it changes. */
static void show_progress(void *ctx, const char *tensor, uint64_t done, uint64_t total)
{
    progress *p = ctx;
    int pct = total ? (int)(done * 100 / total) : 100;
    if (!p->on || pct == p->last_pct)
        return;
    p->last_pct = pct;
    fprintf(stderr, "\r%3d%%  %-40.40s", pct, tensor);
    if (pct == 100)
        fputc('\n', stderr);
    fflush(stderr);
}

typedef struct opts {
    const char *dir, *out;
    cove_convert_params p;
    int quiet;
} opts;

/* The value of option argv[*i] into *dst (advancing *i); a usage error when it has none. */
static int value_of(int argc, char **argv, int *i, const char **dst)
{
    if (*i + 1 >= argc)
        return cli_usage_error("convert", "%s needs a value", argv[*i]);
    *dst = argv[++*i];
    return COVE_EXIT_OK;
}

static int parse_type(int argc, char **argv, int *i, enum cove_ggml_type *t)
{
    const char *s = NULL;
    int rc = value_of(argc, argv, i, &s);
    if (rc != COVE_EXIT_OK)
        return rc;
    int v = cove_type_from_name(s);
    if (v < 0 || !cove_convert_type_ok((enum cove_ggml_type)v))
        return cli_usage_error("convert", "unknown or unsupported --type '%s'", s);
    *t = (enum cove_ggml_type)v;
    return COVE_EXIT_OK;
}

/* One option at argv[*i]; returns an exit code, COVE_EXIT_OK to go on. */
static int parse_opt(int argc, char **argv, int *i, opts *o)
{
    const char *a = argv[*i];
    if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0)
        return value_of(argc, argv, i, &o->out);
    if (strcmp(a, "-t") == 0 || strcmp(a, "--type") == 0)
        return parse_type(argc, argv, i, &o->p.type);
    if (strcmp(a, "--name") == 0)
        return value_of(argc, argv, i, &o->p.name);
    if (strcmp(a, "--pre") == 0)
        return value_of(argc, argv, i, &o->p.pre);
    if (strcmp(a, "--vocab-only") == 0)
        o->p.vocab_only = 1;
    else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0)
        o->quiet = 1;
    else if (a[0] == '-' && a[1])
        return cli_usage_error("convert", "unknown option '%s'", a);
    else if (!o->dir)
        o->dir = a;
    else
        return cli_usage_error("convert", "more than one model directory");
    return COVE_EXIT_OK;
}

static int parse_args(int argc, char **argv, opts *o)
{
    o->p = cove_convert_default_params();
    for (int i = 1; i < argc; i++) {
        int rc = parse_opt(argc, argv, &i, o);
        if (rc != COVE_EXIT_OK)
            return rc;
    }
    if (!o->dir)
        return cli_usage_error("convert", "no model directory given");
    if (!o->out)
        return cli_usage_error("convert", "no output file given (-o OUT.gguf)");
    return COVE_EXIT_OK;
}

static void print_summary(const opts *o, const cove_convert_report *r)
{
    printf("wrote %s: %s, %llu tensors, %llu parameters, %s weights (%llu quantized, %llu f16 "
           "fall-backs), vocabulary %s/%s of %u tokens, %llu bytes\n",
           o->out, r->arch, (unsigned long long)r->n_tensors, (unsigned long long)r->n_params,
           o->p.vocab_only ? "no" : cove_type_info_get(o->p.type)->name,
           (unsigned long long)r->n_quantized, (unsigned long long)r->n_fallback, r->tok_model,
           r->pre, r->n_vocab, (unsigned long long)r->out_bytes);
}

int cove_cmd_convert(int argc, char **argv)
{
    opts o = {0};
    cove_convert_report rep;
    cove_error err = {0};
    if (argc > 1 && cli_is_help(argv[1])) {
        print_help();
        return COVE_EXIT_OK;
    }
    int rc = parse_args(argc, argv, &o);
    if (rc != COVE_EXIT_OK)
        return rc;
    progress prog = {!o.quiet && isatty(STDERR_FILENO), -1};
    o.p.progress = show_progress;
    o.p.progress_ctx = &prog;
    if (cove_convert_hf(o.dir, o.out, &o.p, &rep, &err) != COVE_OK) {
        if (prog.on && prog.last_pct >= 0 && prog.last_pct < 100)
            fputc('\n', stderr);
        return cli_fail("convert", "%s", cove_error_msg(&err));
    }
    if (!o.quiet)
        print_summary(&o, &rep);
    return COVE_EXIT_OK;
}
