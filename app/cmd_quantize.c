/*
 * app/cmd_quantize.c - `cove quantize IN.gguf OUT.gguf TYPE`: requantize the weight
 * matrices of a GGUF file (docs/convert.md).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "convert/convert.h"

static void print_help(void)
{
    printf("usage: cove quantize [-q] IN.gguf OUT.gguf TYPE\n\n"
           "Writes a copy of the GGUF file IN.gguf to OUT.gguf with its weight matrices\n"
           "(two-dimensional *.weight tensors, not position or token-type tables) in\n"
           "TYPE: each is dequantized to f32 and quantized again. A matrix already of\n"
           "TYPE is copied unchanged; one whose rows are not whole blocks of TYPE keeps\n"
           "its type (with a warning); every other tensor and all metadata are copied,\n"
           "and general.file_type is set to match TYPE.\n\n"
           "TYPE: f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q2_k q3_k q4_k q5_k q6_k\n\n"
           "options:\n"
           "  -q, --quiet  no progress and no summary\n"
           "  -h, --help   show this help\n\n"
           "Progress goes to stderr when it is a terminal; a summary goes to stdout.\n"
           "Exit status: 0 on success, 1 when it failed (the reason goes to stderr),\n"
           "2 on bad usage.\n");
}

typedef struct progress {
    int on;
    int last_pct;
} progress;

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

/* Positional arguments IN OUT TYPE and -q; returns an exit code. */
static int parse_args(int argc, char **argv, const char *pos[3], int *quiet)
{
    int n = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0)
            *quiet = 1;
        else if (a[0] == '-' && a[1])
            return cli_usage_error("quantize", "unknown option '%s'", a);
        else if (n < 3)
            pos[n++] = a;
        else
            return cli_usage_error("quantize", "too many arguments");
    }
    if (n < 3)
        return cli_usage_error("quantize", "expected IN.gguf OUT.gguf TYPE");
    return COVE_EXIT_OK;
}

int cove_cmd_quantize(int argc, char **argv)
{
    const char *pos[3] = {0};
    int quiet = 0;
    cove_convert_report rep;
    cove_error err = {0};
    if (argc > 1 && cli_is_help(argv[1])) {
        print_help();
        return COVE_EXIT_OK;
    }
    int rc = parse_args(argc, argv, pos, &quiet);
    if (rc != COVE_EXIT_OK)
        return rc;
    int t = cove_type_from_name(pos[2]);
    if (t < 0 || !cove_convert_type_ok((enum cove_ggml_type)t))
        return cli_usage_error("quantize", "unknown or unsupported TYPE '%s'", pos[2]);
    progress prog = {!quiet && isatty(STDERR_FILENO), -1};
    cove_quantize_params p = {(enum cove_ggml_type)t, show_progress, &prog};
    if (cove_convert_quantize(pos[0], pos[1], &p, &rep, &err) != COVE_OK) {
        if (prog.on && prog.last_pct >= 0 && prog.last_pct < 100)
            fputc('\n', stderr);
        return cli_fail("quantize", "%s", cove_error_msg(&err));
    }
    if (!quiet)
        printf("wrote %s: %s, %llu tensors (%llu quantized, %llu kept for their row length), "
               "%llu bytes\n", pos[1], rep.arch, (unsigned long long)rep.n_tensors,
               (unsigned long long)rep.n_quantized, (unsigned long long)rep.n_fallback,
               (unsigned long long)rep.out_bytes);
    return COVE_EXIT_OK;
}
