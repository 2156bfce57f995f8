/*
 * app/cmd_complete.c - `cove complete`: generate text from a prompt with a local model.
 *
 * Only the generated text goes to stdout, streamed and flushed token by token (no newline
 * is added at the end); timings go to stderr with -v.
 *
 * With --grammar, --json-schema or --json the tokens are constrained by a grammar
 * (cove/grammar.h): each step masks the logits, generation stops when the grammar is
 * complete, and the continuation the grammar forces (jump-forward) is appended and fed to
 * the model in the same batch as the sampled token.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "cli.h"
#include "cove/engine.h"
#include "cove/grammar.h"
#include "schema/schema.h"

#define CMD "complete"

typedef struct complete_opts {
    const char *model;
    const char *prompt; /* NULL: start from BOS alone */
    long n_predict;
    long n_ctx;
    long n_threads;
    int seed_given;
    long long seed;
    int verbose;
    int kv_type; /* enum cove_kv_type */
    cove_sampler_params sp;
    const char *grammar_file; /* --grammar */
    const char *schema_file;  /* --json-schema */
    int any_json;             /* --json */
    int no_jump;              /* --no-jump-forward */
} complete_opts;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: cove complete -m MODEL [-p PROMPT] [-n N] [--temp T] [--seed S] [-t THREADS]\n"
            "                     [--top-k K] [--top-p P] [--min-p P] [--repeat-penalty R]\n"
            "                     [--ctx N] [--kv f16|f32|q8_0] [-v]\n"
            "                     [--grammar FILE | --json-schema FILE | --json] [--no-jump-forward]\n\n"
            "Continues PROMPT with the model (a GGUF file) and prints only the generated text,\n"
            "token by token. Without -p, generation starts from the BOS token alone. Control\n"
            "tokens written in the prompt (\"<s>\") are read as those tokens.\n\n"
            "  -m MODEL            GGUF model file\n"
            "  -p PROMPT           text to continue\n"
            "  -n N                tokens to generate (default 128; -1: until end of text\n"
            "                      or a full context)\n"
            "  --temp T            temperature; 0 is greedy (default 0.8)\n"
            "  --seed S            random seed (default: a fresh one each run)\n"
            "  -t THREADS          threads (default: all cores)\n"
            "  --top-k K           keep the K most likely tokens; 0: off (default 40)\n"
            "  --top-p P           nucleus sampling; 1: off (default 0.95)\n"
            "  --min-p P           drop tokens below P times the best; 0: off (default 0.05)\n"
            "  --repeat-penalty R  penalise the last 64 tokens; 1: off (default 1.0)\n"
            "  --ctx N             context size in tokens (default: the model's, at most %d)\n"
            "  --kv TYPE           KV cache type: f16 (default), f32, q8_0\n"
            "  -v                  timings and model facts on stderr\n"
            "  --grammar FILE      constrain the output to the GBNF grammar in FILE (start rule root)\n"
            "  --json-schema FILE  constrain the output to a JSON document valid for the JSON Schema\n"
            "                      in FILE; stdout then holds exactly the document\n"
            "  --json              constrain the output to one JSON value\n"
            "  --no-jump-forward   sample every token, even those the grammar forces\n\n"
            "With a grammar, generation stops when the grammar is complete; an output cut short\n"
            "by -n or the context is an error. Grammar errors name the line and column.\n\n"
            "Exit status: 0 done, 1 error (model, prompt too long, grammar), 2 bad usage.\n",
            COVE_CTX_DEFAULT_MAX);
}

/* The KV cache type named `s`; -1 when unknown. */
static int parse_kv(const char *s, int *out)
{
    static const struct { const char *name; enum cove_kv_type t; } kv[] = {
        {"f16", COVE_KV_F16}, {"f32", COVE_KV_F32}, {"q8_0", COVE_KV_Q8_0}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        if (strcmp(s, kv[i].name) == 0) {
            *out = (int)kv[i].t;
            return 0;
        }
    return -1;
}

/* Parse one option with a value; returns 0, or an exit code. */
static int parse_value(complete_opts *o, const char *opt, const char *val)
{
    long l;
    double d;
    int ok = 1;
    if (strcmp(opt, "-m") == 0)
        o->model = val;
    else if (strcmp(opt, "--grammar") == 0)
        o->grammar_file = val;
    else if (strcmp(opt, "--json-schema") == 0)
        o->schema_file = val;
    else if (strcmp(opt, "-p") == 0)
        o->prompt = val;
    else if (strcmp(opt, "-n") == 0)
        ok = cli_parse_long(val, -1, 1L << 30, &o->n_predict) == 0;
    else if (strcmp(opt, "--ctx") == 0)
        ok = cli_parse_long(val, 1, 1L << 20, &o->n_ctx) == 0;
    else if (strcmp(opt, "-t") == 0)
        ok = cli_parse_long(val, 1, 256, &o->n_threads) == 0;
    else if (strcmp(opt, "--kv") == 0)
        ok = parse_kv(val, &o->kv_type) == 0;
    else if (strcmp(opt, "--seed") == 0) {
        ok = cli_parse_long(val, 0, 0x7fffffffL, &l) == 0;
        o->seed = l;
        o->seed_given = 1;
    } else if (strcmp(opt, "--top-k") == 0) {
        ok = cli_parse_long(val, 0, 1L << 30, &l) == 0;
        o->sp.top_k = (int32_t)l;
    } else if (cli_parse_double(val, &d) != 0 || d != d) {
        ok = 0;
    } else if (strcmp(opt, "--temp") == 0) {
        o->sp.temp = (float)d;
    } else if (strcmp(opt, "--top-p") == 0) {
        o->sp.top_p = (float)d;
    } else if (strcmp(opt, "--min-p") == 0) {
        o->sp.min_p = (float)d;
    } else if (strcmp(opt, "--repeat-penalty") == 0) {
        ok = d > 0;
        o->sp.repeat_penalty = (float)d;
    } else {
        return cli_usage_error(CMD, "unknown option '%s'", opt);
    }
    return ok ? 0 : cli_usage_error(CMD, "bad value '%s' for %s", val, opt);
}

static int takes_value(const char *opt)
{
    static const char *const with_value[] = {"-m", "-p", "-n", "--ctx", "--kv", "-t", "--seed",
                                             "--top-k", "--temp", "--top-p", "--min-p",
                                             "--repeat-penalty", "--grammar", "--json-schema"};
    for (size_t i = 0; i < sizeof with_value / sizeof with_value[0]; i++)
        if (strcmp(opt, with_value[i]) == 0)
            return 1;
    return 0;
}

/* Returns -1 to go on, or an exit code. */
static int parse_args(complete_opts *o, int argc, char **argv)
{
    *o = (complete_opts){.n_predict = 128, .sp = cove_sampler_default_params()};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            usage(stdout);
            return COVE_EXIT_OK;
        }
        if (strcmp(a, "-v") == 0 || strcmp(a, "--json") == 0 || strcmp(a, "--no-jump-forward") == 0) {
            o->verbose |= strcmp(a, "-v") == 0;
            o->any_json |= strcmp(a, "--json") == 0;
            o->no_jump |= strcmp(a, "--no-jump-forward") == 0;
            continue;
        }
        if (!takes_value(a))
            return cli_usage_error(CMD, "unexpected argument '%s'", a);
        if (i + 1 >= argc)
            return cli_usage_error(CMD, "%s needs a value", a);
        int rc = parse_value(o, a, argv[++i]);
        if (rc)
            return rc;
    }
    if (!o->model)
        return cli_usage_error(CMD, "-m MODEL is required");
    if (!!o->grammar_file + !!o->schema_file + o->any_json > 1)
        return cli_usage_error(CMD, "--grammar, --json-schema and --json exclude each other");
    o->sp.seed = o->seed_given ? (uint64_t)o->seed : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    return -1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The tokens generation starts from: the prompt's, or BOS alone. *out is cove_malloc'd. */
static int prompt_tokens(const cove_model *m, const char *prompt, int32_t **out, int32_t *n)
{
    cove_error err = {0};
    *out = NULL;
    *n = 0;
    size_t len = prompt ? strlen(prompt) : 0;
    int32_t need = 1;
    if (prompt && cove_tokenize(m, prompt, len, 1, 1, NULL, 0, &need, &err) != COVE_OK &&
        err.status != COVE_ERR_LIMIT)
        return cli_fail(CMD, "cannot tokenize the prompt: %s", cove_error_msg(&err));
    *out = cove_malloc((need > 0 ? (size_t)need : 1) * sizeof **out);
    if (!*out)
        return cli_fail(CMD, "out of memory");
    if (!prompt) {
        (*out)[0] = cove_model_token_bos(m);
        *n = (*out)[0] >= 0;
    } else if (cove_tokenize(m, prompt, len, 1, 1, *out, need, n, &err) != COVE_OK) {
        return cli_fail(CMD, "cannot tokenize the prompt: %s", cove_error_msg(&err));
    }
    if (*n == 0)
        return cli_fail(CMD, "nothing to start from: the prompt is empty and the model has no BOS");
    return 0;
}

/* Everything one run holds; released by run_free. */
typedef struct complete_run {
    cove_model *model;
    cove_context *ctx;
    cove_sampler *smp;
    cove_detok *detok;
    int32_t *prompt;
    int32_t n_prompt;
    int32_t n_gen;
    double t_load, t_prompt, t_gen;
    /* grammar-constrained generation (all NULL without a grammar) */
    cove_grammar_vocab *gvocab;
    cove_grammar *grammar;
    cove_grammar_matcher *gm;
    uint32_t *mask;
    float *logits;   /* masked copy of the context's logits */
    int32_t *batch;  /* the sampled token and the forced ones */
    int32_t n_decode; /* forward passes during generation */
    int32_t n_forced; /* tokens appended by jump-forward */
} complete_run;

#define JUMP_MAX_TOKENS 64 /* forced tokens fed with one sampled token */

static void run_free(complete_run *r)
{
    cove_grammar_matcher_free(r->gm);
    cove_grammar_free(r->grammar);
    cove_grammar_vocab_free(r->gvocab);
    cove_free(r->mask);
    cove_free(r->logits);
    cove_free(r->batch);
    cove_detok_free(r->detok);
    cove_sampler_free(r->smp);
    cove_context_free(r->ctx);
    cove_model_free(r->model);
    cove_free(r->prompt);
}

static int grammar_setup(complete_run *r, const complete_opts *o);

static int run_setup(complete_run *r, const complete_opts *o)
{
    cove_error err = {0};
    double t0 = now_s();
    if (cove_cli_model_load(CMD, o->model, cove_model_default_params(), &r->model) != COVE_EXIT_OK)
        return COVE_EXIT_ERROR;
    cove_context_params cp = cove_context_default_params();
    cp.n_ctx = (int32_t)o->n_ctx;
    cp.n_threads = (int32_t)o->n_threads;
    cp.kv_type = (enum cove_kv_type)o->kv_type;
    if (cove_context_create(r->model, cp, &r->ctx, &err) != COVE_OK ||
        cove_sampler_create(o->sp, cove_model_n_vocab(r->model), &r->smp, &err) != COVE_OK)
        return cli_fail(CMD, "%s", cove_error_msg(&err));
    if (cove_detok_create(r->model, 0, &r->detok) != COVE_OK)
        return cli_fail(CMD, "out of memory");
    int rc = grammar_setup(r, o);
    if (rc)
        return rc;
    r->t_load = now_s() - t0;
    return prompt_tokens(r->model, o->prompt, &r->prompt, &r->n_prompt);
}

/* Read the file at path (at most max bytes) into *out (cove_malloc'd, NUL-terminated). */
static int read_text(const char *path, size_t max, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return cli_fail(CMD, "cannot open %s", path);
    char *buf = cove_malloc(max + 1);
    size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
    int bad = ferror(f);
    fclose(f);
    if (!buf)
        return cli_fail(CMD, "out of memory");
    if (bad || n > max) {
        cove_free(buf);
        return cli_fail(CMD, bad ? "cannot read %s" : "%s is larger than %zu bytes", path, max);
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return 0;
}

/* The GBNF text the options ask for into *text (cove_free); 0 or an exit code. */
static int grammar_text(const complete_opts *o, char **text, size_t *len)
{
    cove_error err = {0};
    if (o->grammar_file)
        return read_text(o->grammar_file, COVE_GRAMMAR_MAX_TEXT, text, len);
    if (o->any_json) {
        if (cove_schema_any_json_gbnf(NULL, text, &err) != COVE_OK)
            return cli_fail(CMD, "%s", cove_error_msg(&err));
        *len = strlen(*text);
        return 0;
    }
    char *js = NULL;
    size_t jlen = 0;
    int rc = read_text(o->schema_file, COVE_GRAMMAR_MAX_TEXT, &js, &jlen);
    if (rc)
        return rc;
    cove_status st = cove_schema_to_gbnf(js, jlen, NULL, text, &err);
    cove_free(js);
    if (st != COVE_OK)
        return cli_fail(CMD, "%s: %s", o->schema_file, cove_error_msg(&err));
    *len = strlen(*text);
    return 0;
}

static int grammar_setup(complete_run *r, const complete_opts *o)
{
    if (!o->grammar_file && !o->schema_file && !o->any_json)
        return 0;
    char *text = NULL;
    size_t len = 0;
    int rc = grammar_text(o, &text, &len);
    if (rc)
        return rc;
    cove_error err = {0};
    cove_status st = cove_grammar_vocab_create(r->model, &r->gvocab, &err);
    if (st == COVE_OK)
        st = cove_grammar_compile(r->gvocab, text, len, &r->grammar, &err);
    cove_free(text);
    if (st != COVE_OK)
        return cli_fail(CMD, "%s: %s", o->grammar_file ? o->grammar_file : "grammar", cove_error_msg(&err));
    if (cove_grammar_matcher_create(r->grammar, &r->gm, &err) != COVE_OK)
        return cli_fail(CMD, "%s", cove_error_msg(&err));
    int32_t nv = cove_model_n_vocab(r->model);
    r->mask = cove_malloc(cove_grammar_vocab_mask_words(r->gvocab) * sizeof *r->mask);
    r->logits = cove_malloc((size_t)nv * sizeof *r->logits);
    r->batch = cove_malloc((JUMP_MAX_TOKENS + 1) * sizeof *r->batch);
    if (!r->mask || !r->logits || !r->batch)
        return cli_fail(CMD, "out of memory");
    return 0;
}

static int emit(complete_run *r, int32_t tok, int flush)
{
    char buf[COVE_DETOK_BUF_MIN];
    size_t len = 0;
    cove_status st = flush ? cove_detok_flush(r->detok, buf, sizeof buf, &len)
                           : cove_detok_push(r->detok, tok, buf, sizeof buf, &len);
    if (st != COVE_OK)
        return cli_fail(CMD, "cannot decode token %d: %s", tok, cove_status_str(st));
    if (len && (fwrite(buf, 1, len, stdout) != len || fflush(stdout) != 0))
        return cli_fail(CMD, "cannot write the output");
    return 0;
}

/* Sample the next token, under the grammar's mask when there is one. */
static int sample_next(complete_run *r, int32_t *tok)
{
    const float *lg = cove_context_logits(r->ctx, -1);
    if (!r->gm) {
        cove_sampler_sample(r->smp, lg, tok);
        return 0;
    }
    cove_error err = {0};
    if (cove_grammar_matcher_fill_mask(r->gm, r->mask, &err) != COVE_OK)
        return cli_fail(CMD, "%s", cove_error_msg(&err));
    int32_t nv = cove_model_n_vocab(r->model), best = -1;
    memcpy(r->logits, lg, (size_t)nv * sizeof *lg);
    cove_grammar_mask_apply(r->mask, r->logits, nv);
    for (int32_t t = 0; t < nv; t++)
        if (cove_grammar_mask_test(r->mask, t) && (best < 0 || r->logits[t] > r->logits[best]))
            best = t;
    if (best < 0)
        return cli_fail(CMD, "no token of the vocabulary can continue the grammar here");
    cove_sampler_sample(r->smp, r->logits, tok);
    if (!cove_grammar_mask_test(r->mask, *tok))
        *tok = best; /* all the mass was masked away: take the best allowed */
    return 0;
}

/* Take token tok: grammar, sampler history, output. */
static int take_token(complete_run *r, int32_t tok)
{
    cove_error err = {0};
    if (r->gm && cove_grammar_matcher_accept_token(r->gm, tok, &err) != COVE_OK)
        return cli_fail(CMD, "%s", cove_error_msg(&err));
    cove_sampler_accept(r->smp, tok);
    r->n_gen++;
    return emit(r, tok, 0);
}

/* After the sampled token batch[0]: append the forced tokens (at most max). */
static int jump_forward(complete_run *r, int32_t *n_batch, long max)
{
    cove_error err = {0};
    int32_t nf = 0;
    if (max > JUMP_MAX_TOKENS)
        max = JUMP_MAX_TOKENS;
    if (max <= 0 || cove_grammar_matcher_is_complete(r->gm))
        return 0;
    if (cove_grammar_matcher_jump_forward(r->gm, r->batch + 1, (int32_t)max, &nf, NULL, 0, NULL,
                                          &err) != COVE_OK)
        return cli_fail(CMD, "%s", cove_error_msg(&err));
    for (int32_t k = 0; k < nf; k++) {
        int rc = take_token(r, r->batch[1 + k]);
        if (rc)
            return rc;
    }
    r->n_forced += nf;
    *n_batch += nf;
    return 0;
}

static int generate(complete_run *r, const complete_opts *o)
{
    cove_error err = {0};
    double t0 = now_s();
    cove_batch b = {r->prompt, NULL, NULL, r->n_prompt, NULL};
    if (cove_decode(r->ctx, &b, &err) != COVE_OK)
        return cli_fail(CMD, "%s", cove_error_msg(&err));
    for (int32_t i = 0; i < r->n_prompt; i++)
        cove_sampler_accept(r->smp, r->prompt[i]);
    r->t_prompt = now_s() - t0;
    t0 = now_s();
    int32_t one;
    int32_t *batch = r->batch ? r->batch : &one;
    for (long i = 0; o->n_predict < 0 || i < o->n_predict;) {
        int rc = sample_next(r, &batch[0]);
        if (rc)
            return rc;
        if (cove_token_is_eog(r->model, batch[0]))
            break;
        int32_t n_batch = 1;
        rc = take_token(r, batch[0]);
        if (!rc && r->gm && !o->no_jump)
            rc = jump_forward(r, &n_batch, o->n_predict < 0 ? JUMP_MAX_TOKENS : o->n_predict - i - 1);
        if (rc)
            return rc;
        i += n_batch;
        if (r->gm && cove_grammar_matcher_is_complete(r->gm))
            break;
        if (o->n_predict >= 0 && i >= o->n_predict)
            break; /* the last token needs no forward pass */
        if (cove_context_n_past(r->ctx, 0) + n_batch > cove_context_n_ctx(r->ctx)) {
            fprintf(stderr, "\ncove complete: the context of %d tokens is full\n",
                    cove_context_n_ctx(r->ctx));
            break;
        }
        b = (cove_batch){batch, NULL, NULL, n_batch, NULL};
        if (cove_decode(r->ctx, &b, &err) != COVE_OK)
            return cli_fail(CMD, "%s", cove_error_msg(&err));
        r->n_decode++;
    }
    r->t_gen = now_s() - t0;
    int rc = emit(r, 0, 1);
    if (!rc && r->gm && !cove_grammar_matcher_can_end(r->gm))
        return cli_fail(CMD, "the output stopped after %d tokens, before the grammar was complete "
                        "(raise -n or --ctx)", r->n_gen);
    return rc;
}

static void report(const complete_run *r)
{
    const cove_model *m = r->model;
    fprintf(stderr, "\ncove complete: %s '%s': %llu parameters, %d layers, n_embd %d, vocab %d, "
            "context %d\n", cove_model_arch(m), cove_model_name(m),
            (unsigned long long)cove_model_n_params(m), cove_model_n_layer(m), cove_model_n_embd(m),
            cove_model_n_vocab(m), cove_context_n_ctx(r->ctx));
    fprintf(stderr, "cove complete: load %.1f ms; prompt %d tokens in %.2f ms (%.1f tok/s); "
            "generated %d tokens in %.2f ms (%.1f tok/s)\n", r->t_load * 1e3, r->n_prompt,
            r->t_prompt * 1e3, r->t_prompt > 0 ? r->n_prompt / r->t_prompt : 0.0, r->n_gen,
            r->t_gen * 1e3, r->t_gen > 0 ? r->n_gen / r->t_gen : 0.0);
    if (r->gm)
        fprintf(stderr, "cove complete: grammar: %d tokens (%d forced by jump-forward) in %d forward "
                "passes\n", r->n_gen, r->n_forced, r->n_decode);
}

int cove_cmd_complete(int argc, char **argv)
{
    complete_opts o;
    int rc = parse_args(&o, argc, argv);
    if (rc >= 0)
        return rc;
    complete_run r = {0};
    rc = run_setup(&r, &o);
    if (rc == 0)
        rc = generate(&r, &o);
    if (rc == 0 && o.verbose)
        report(&r);
    run_free(&r);
    return rc;
}
