/*
 * app/cmd_gen_model.c - `cove gen-model`: a GGUF model of a real model's shapes with random
 * weights, for benchmarks and tests of the engine on sizes that matter.
 *
 * The shapes are the published configurations (the `likes` table). The vocabulary is
 * copied from a vocabulary-only GGUF when one of the right size is given (--vocab FILE, or
 * $COVE_TEST_MODELS/vocab/ggml-vocab-<name>.gguf when that variable is set), else it is a
 * synthetic SentencePiece vocabulary with byte fallback (any text tokenizes) of the right
 * size. Weights are uniform random, scaled by 1/sqrt(row length) so that activations stay
 * of order one; norms are near 1. The text the model writes is noise; its speed is real.
 *
 * Types: any type the engine computes with, plus q4_k_m: the common Q4_K_M recipe
 * (llama.cpp's): q6_k for the output (the token embeddings when tied) and for attn_v and
 * ffn_down of the layers i < n/8, i >= 7n/8 and every third between, q4_k elsewhere. A
 * k-quant needs rows of a multiple of 256; other rows fall back as that recipe does (q4_k
 * -> q5_0, q5_k -> q5_1, q6_k -> q8_0, q2_k/q3_k -> q4_0), and a 32-block type on rows
 * that are not multiples of 32 falls back to f16.
 *
 * The file is written as it is generated (the converter's streaming writer): a few
 * megabytes of rows at a time, generated and quantized by all cores, so a 1.7B model
 * needs little memory. Rows are seeded by (tensor, row): the bytes do not depend on the
 * number of threads.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/cpu.h"
#include "base/pool.h"
#include "cli.h"
#include "convert/convert_int.h"
#include "engine/kernels/kernels.h"

#define CMD "gen-model"
#define CHUNK_FLOATS (1u << 21) /* f32 values generated per piece of a tensor */
#define MAX_JOBS 1024
#define TYPE_Q4_K_M (-2)

/* A published configuration. */
typedef struct like {
    const char *name, *arch;
    int layers, embd, heads, kv_heads, head_dim, ff, vocab, ctx;
    float rope_base, eps;
    const char *vocab_name; /* ggml-vocab-<name>.gguf of the test models, or NULL */
} like;

static const like likes[] = {
    {"smollm2-135m", "llama", 30, 576, 9, 3, 0, 1536, 49152, 8192, 100000.0f, 1e-5f, "smollm2"},
    {"smollm2-360m", "llama", 32, 960, 15, 5, 0, 2560, 49152, 8192, 100000.0f, 1e-5f, "smollm2"},
    {"smollm2-1.7b", "llama", 24, 2048, 32, 32, 0, 8192, 49152, 8192, 130000.0f, 1e-5f, "smollm2"},
    {"qwen2.5-0.5b", "qwen2", 24, 896, 14, 2, 0, 4864, 151936, 32768, 1000000.0f, 1e-6f, NULL},
    {"gemma3-270m", "gemma3", 18, 640, 4, 1, 256, 2048, 262144, 32768, 1000000.0f, 1e-6f, NULL},
    {"bge-small", "bert", 12, 384, 12, 12, 0, 1536, 30522, 512, 0.0f, 1e-12f, "bert-bge"},
};

#define N_LIKES (sizeof likes / sizeof likes[0])

typedef struct gen_opts {
    const like *l;
    int type; /* enum cove_ggml_type, or TYPE_Q4_K_M */
    const char *out, *vocab;
    long seed, threads;
    int quiet;
} gen_opts;

static void usage(FILE *f)
{
    fprintf(f, "usage: cove gen-model --like NAME --type TYPE -o FILE [--vocab FILE] [--seed N]\n"
               "                      [-t THREADS] [-q]\n\n"
               "Writes a GGUF model with the shapes of a published model and random weights\n"
               "(for benchmarks). The vocabulary comes from --vocab FILE (a GGUF holding one\n"
               "of the right size), else from $COVE_TEST_MODELS/vocab when set, else it is a\n"
               "synthetic byte-fallback vocabulary of the right size.\n\n"
               "  --like NAME  smollm2-135m smollm2-360m smollm2-1.7b qwen2.5-0.5b gemma3-270m\n"
               "               bge-small\n"
               "  --type TYPE  f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q2_k q3_k q4_k q5_k q6_k\n"
               "               q4_k_m\n"
               "  -o FILE      output file\n"
               "  --seed N     random seed (default 1)\n"
               "  -t THREADS   threads (default: all cores)\n"
               "  -q           no summary\n\n"
               "Exit status: 0 done, 1 error, 2 bad usage.\n");
}

/* ================================ options ================================ */

static int parse_type(const char *s, int *out)
{
    if (strcmp(s, "q4_k_m") == 0 || strcmp(s, "Q4_K_M") == 0) {
        *out = TYPE_Q4_K_M;
        return 0;
    }
    int t = cove_type_from_name(s);
    if (t < 0 || !cove_kernel_for((uint32_t)t))
        return -1;
    *out = t;
    return 0;
}

static int parse_opt(gen_opts *o, const char *a, const char *v)
{
    int ok = 1;
    if (strcmp(a, "--like") == 0) {
        for (size_t i = 0; i < N_LIKES; i++)
            if (strcmp(likes[i].name, v) == 0)
                o->l = &likes[i];
        if (!o->l)
            return cli_usage_error(CMD, "unknown model '%s' (see --help)", v);
    } else if (strcmp(a, "--type") == 0) {
        ok = parse_type(v, &o->type) == 0;
    } else if (strcmp(a, "-o") == 0) {
        o->out = v;
    } else if (strcmp(a, "--vocab") == 0) {
        o->vocab = v;
    } else if (strcmp(a, "--seed") == 0) {
        ok = cli_parse_long(v, 0, 0x7fffffffL, &o->seed) == 0;
    } else if (strcmp(a, "-t") == 0) {
        ok = cli_parse_long(v, 1, 256, &o->threads) == 0;
    } else {
        return cli_usage_error(CMD, "unknown option '%s'", a);
    }
    return ok ? 0 : cli_usage_error(CMD, "bad value '%s' for %s", v, a);
}

/* Returns -1 to go on, or an exit code. */
static int parse_args(gen_opts *o, int argc, char **argv)
{
    *o = (gen_opts){.type = -1, .seed = 1};
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return COVE_EXIT_OK;
        }
        if (strcmp(argv[i], "-q") == 0) {
            o->quiet = 1;
            continue;
        }
        if (i + 1 >= argc)
            return cli_usage_error(CMD, "%s needs a value", argv[i]);
        int rc = parse_opt(o, argv[i], argv[i + 1]);
        if (rc)
            return rc;
        i++;
    }
    if (!o->l || o->type == -1 || !o->out)
        return cli_usage_error(CMD, "--like, --type and -o are required");
    return -1;
}

/* ============================ the tensor plan ============================ */

/* Q4_K_M: use more bits in the first and last eighth and every third layer between. */
static int more_bits(int il, int n)
{
    return il < n / 8 || il >= 7 * n / 8 || (il - n / 8) % 3 == 2;
}

/* The type of a matrix of rows of `cols` named `part` of layer il (-1: not in a layer). */
static enum cove_ggml_type matrix_type(const gen_opts *o, const char *part, int il, int64_t cols)
{
    int t = o->type;
    if (t == TYPE_Q4_K_M) {
        int big = strcmp(part, "output.weight") == 0 || strcmp(part, "tied") == 0 ||
                  ((strcmp(part, "attn_v.weight") == 0 || strcmp(part, "ffn_down.weight") == 0) &&
                   more_bits(il, o->l->layers));
        t = big ? COVE_TYPE_Q6_K : COVE_TYPE_Q4_K;
    }
    const cove_kernel *k = cove_kernel_for((uint32_t)t);
    if (cols % k->block_size == 0)
        return (enum cove_ggml_type)t;
    switch (t) {
    case COVE_TYPE_Q4_K: return COVE_TYPE_Q5_0;
    case COVE_TYPE_Q5_K: return COVE_TYPE_Q5_1;
    case COVE_TYPE_Q6_K: return COVE_TYPE_Q8_0;
    case COVE_TYPE_Q2_K:
    case COVE_TYPE_Q3_K: return COVE_TYPE_Q4_0;
    default: return COVE_TYPE_F16;
    }
}

/* The plan: the jobs, and how to fill each (values base + scale * uniform[-1, 1)). */
typedef struct plan {
    cove_convert_job jobs[MAX_JOBS];
    float base[MAX_JOBS], scale[MAX_JOBS];
    size_t n;
    uint64_t bytes;
} plan;

static void add_job(plan *p, const char *name, enum cove_ggml_type t, int64_t cols, int64_t rows,
                    float base, float scale)
{
    cove_convert_job *j = &p->jobs[p->n];
    memset(j, 0, sizeof *j);
    snprintf(j->name, sizeof j->name, "%s", name);
    j->type = t;
    j->n_dims = rows > 1 ? 2 : 1;
    j->ne[0] = (uint64_t)cols;
    j->ne[1] = (uint64_t)rows;
    j->n_bytes = cove_kernel_row_bytes(cove_kernel_for(t), cols) * (uint64_t)rows;
    p->base[p->n] = base;
    p->scale[p->n] = scale;
    p->bytes += j->n_bytes;
    p->n++;
}

static void add_matrix(plan *p, const gen_opts *o, int il, const char *part, int64_t cols,
                       int64_t rows)
{
    char name[96];
    if (il >= 0)
        snprintf(name, sizeof name, "blk.%d.%s", il, part);
    else
        snprintf(name, sizeof name, "%s", part);
    add_job(p, name, matrix_type(o, part, il, cols), cols, rows, 0.0f, 1.0f / sqrtf((float)cols));
}

static void add_vector(plan *p, int il, const char *part, int64_t n, float base, float scale)
{
    char name[96];
    snprintf(name, sizeof name, "blk.%d.%s", il, part);
    add_job(p, name, COVE_TYPE_F32, n, 1, base, scale);
}

static void plan_decoder_layer(plan *p, const gen_opts *o, int il)
{
    const like *l = o->l;
    const int64_t E = l->embd, hd = l->head_dim ? l->head_dim : l->embd / l->heads;
    const int64_t Q = l->heads * hd, KV = l->kv_heads * hd, F = l->ff;
    add_vector(p, il, "attn_norm.weight", E, 1.0f, 0.1f);
    add_matrix(p, o, il, "attn_q.weight", E, Q);
    add_matrix(p, o, il, "attn_k.weight", E, KV);
    add_matrix(p, o, il, "attn_v.weight", E, KV);
    add_matrix(p, o, il, "attn_output.weight", Q, E);
    if (strcmp(l->arch, "qwen2") == 0) {
        add_vector(p, il, "attn_q.bias", Q, 0.0f, 0.1f);
        add_vector(p, il, "attn_k.bias", KV, 0.0f, 0.1f);
        add_vector(p, il, "attn_v.bias", KV, 0.0f, 0.1f);
    }
    if (strcmp(l->arch, "gemma3") == 0) {
        add_vector(p, il, "attn_q_norm.weight", hd, 1.0f, 0.1f);
        add_vector(p, il, "attn_k_norm.weight", hd, 1.0f, 0.1f);
        add_vector(p, il, "post_attention_norm.weight", E, 1.0f, 0.1f);
        add_vector(p, il, "post_ffw_norm.weight", E, 1.0f, 0.1f);
    }
    add_vector(p, il, "ffn_norm.weight", E, 1.0f, 0.1f);
    add_matrix(p, o, il, "ffn_gate.weight", E, F);
    add_matrix(p, o, il, "ffn_up.weight", E, F);
    add_matrix(p, o, il, "ffn_down.weight", F, E);
}

static void plan_bert_layer(plan *p, const gen_opts *o, int il)
{
    const int64_t E = o->l->embd, F = o->l->ff;
    static const char *const sq[] = {"attn_q", "attn_k", "attn_v", "attn_output"};
    char name[64];
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "%s.weight", sq[i]);
        add_matrix(p, o, il, name, E, E);
        snprintf(name, sizeof name, "%s.bias", sq[i]);
        add_vector(p, il, name, E, 0.0f, 0.02f);
    }
    add_vector(p, il, "attn_output_norm.weight", E, 1.0f, 0.1f);
    add_vector(p, il, "attn_output_norm.bias", E, 0.0f, 0.02f);
    add_matrix(p, o, il, "ffn_up.weight", E, F);
    add_vector(p, il, "ffn_up.bias", F, 0.0f, 0.02f);
    add_matrix(p, o, il, "ffn_down.weight", F, E);
    add_vector(p, il, "ffn_down.bias", E, 0.0f, 0.02f);
    add_vector(p, il, "layer_output_norm.weight", E, 1.0f, 0.1f);
    add_vector(p, il, "layer_output_norm.bias", E, 0.0f, 0.02f);
}

static void plan_model(plan *p, const gen_opts *o)
{
    const like *l = o->l;
    int bert = strcmp(l->arch, "bert") == 0;
    enum cove_ggml_type table = o->type == COVE_TYPE_F32 ? COVE_TYPE_F32 : COVE_TYPE_F16;
    p->n = 0;
    p->bytes = 0;
    /* tied output everywhere (all six are): the embeddings are the output matrix */
    add_job(p, "token_embd.weight", matrix_type(o, bert ? "token_embd" : "tied", -1, l->embd),
            l->embd, l->vocab, 0.0f, 0.5f);
    if (bert) {
        add_job(p, "position_embd.weight", table, l->embd, l->ctx, 0.0f, 0.1f);
        add_job(p, "token_types.weight", table, l->embd, 2, 0.0f, 0.1f);
        add_job(p, "token_embd_norm.weight", COVE_TYPE_F32, l->embd, 1, 1.0f, 0.1f);
        add_job(p, "token_embd_norm.bias", COVE_TYPE_F32, l->embd, 1, 0.0f, 0.02f);
    } else {
        add_job(p, "output_norm.weight", COVE_TYPE_F32, l->embd, 1, 1.0f, 0.1f);
    }
    for (int il = 0; il < l->layers; il++) {
        if (bert)
            plan_bert_layer(p, o, il);
        else
            plan_decoder_layer(p, o, il);
    }
}

/* ================================ metadata ================================ */

static void set_u32(cove_gguf_writer *w, const char *arch, const char *k, uint32_t v)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, k);
    cove_gguf_writer_set_u32(w, key, v);
}

static void set_f32(cove_gguf_writer *w, const char *arch, const char *k, float v)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, k);
    cove_gguf_writer_set_f32(w, key, v);
}

static uint32_t file_type(int t)
{
    switch (t) {
    case COVE_TYPE_F32: return 0;
    case COVE_TYPE_F16: return 1;
    case COVE_TYPE_Q4_0: return 2;
    case COVE_TYPE_Q4_1: return 3;
    case COVE_TYPE_Q8_0: return 7;
    case COVE_TYPE_Q5_0: return 8;
    case COVE_TYPE_Q5_1: return 9;
    case COVE_TYPE_Q2_K: return 10;
    case COVE_TYPE_Q3_K: return 11;
    case COVE_TYPE_Q4_K: return 14;
    case TYPE_Q4_K_M: return 15;
    case COVE_TYPE_Q5_K: return 16;
    case COVE_TYPE_Q6_K: return 18;
    default: return 32; /* bf16 */
    }
}

static void write_hparams(cove_gguf_writer *w, const gen_opts *o)
{
    const like *l = o->l;
    const char *a = l->arch;
    char name[96];
    snprintf(name, sizeof name, "cove-random-%s", l->name);
    cove_gguf_writer_set_str(w, "general.architecture", a);
    cove_gguf_writer_set_str(w, "general.name", name);
    cove_gguf_writer_set_u32(w, "general.file_type", file_type(o->type));
    cove_gguf_writer_set_u32(w, "general.quantization_version", 2);
    set_u32(w, a, "block_count", (uint32_t)l->layers);
    set_u32(w, a, "embedding_length", (uint32_t)l->embd);
    set_u32(w, a, "feed_forward_length", (uint32_t)l->ff);
    set_u32(w, a, "attention.head_count", (uint32_t)l->heads);
    set_u32(w, a, "context_length", (uint32_t)l->ctx);
    if (strcmp(a, "bert") == 0) {
        set_f32(w, a, "attention.layer_norm_epsilon", l->eps);
        set_u32(w, a, "pooling_type", 2);
        cove_gguf_writer_set_bool(w, "bert.attention.causal", 0);
        return;
    }
    set_u32(w, a, "attention.head_count_kv", (uint32_t)l->kv_heads);
    set_u32(w, a, "vocab_size", (uint32_t)l->vocab);
    set_f32(w, a, "rope.freq_base", l->rope_base);
    set_f32(w, a, "attention.layer_norm_rms_epsilon", l->eps);
    if (l->head_dim) {
        set_u32(w, a, "attention.key_length", (uint32_t)l->head_dim);
        set_u32(w, a, "attention.value_length", (uint32_t)l->head_dim);
        set_u32(w, a, "attention.sliding_window", 512);
    } else {
        set_u32(w, a, "rope.dimension_count", (uint32_t)(l->embd / l->heads));
    }
}

/* Synthetic vocabulary of n tokens: specials, the 256 byte tokens, then filler pieces.
 * SentencePiece with byte fallback (bert: WordPiece with every printable ASCII character). */
static cove_status synth_vocab(cove_gguf_writer *w, const like *l, cove_error *err)
{
    const int n = l->vocab, bert = strcmp(l->arch, "bert") == 0;
    const char **toks = cove_malloc((size_t)n * sizeof *toks);
    char *store = cove_malloc((size_t)n * 16);
    float *scores = cove_malloc((size_t)n * sizeof *scores);
    int32_t *types = cove_malloc((size_t)n * sizeof *types);
    static const char *const spm_special[3] = {"<unk>", "<s>", "</s>"};
    static const char *const wpm_special[5] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    const int n_special = bert ? 5 : 3;
    cove_status st = COVE_ERR_NOMEM;
    if (toks && store && scores && types) {
        for (int i = 0; i < n; i++) {
            char *s = store + (size_t)i * 16;
            int b = i - n_special;
            if (i < n_special)
                snprintf(s, 16, "%s", bert ? wpm_special[i] : spm_special[i]);
            else if (bert && b < 2 * 94)
                snprintf(s, 16, "%s%c", b % 2 ? "" : "\xe2\x96\x81", (char)(33 + b / 2));
            else if (!bert && b < 256)
                snprintf(s, 16, "<0x%02X>", b);
            else
                snprintf(s, 16, "\xe2\x96\x81w%d", i);
            toks[i] = s;
            scores[i] = (float)-i;
            types[i] = i < n_special ? (i == (bert ? 1 : 0) ? 2 : 3) : (!bert && b < 256) ? 6 : 1;
        }
        st = cove_gguf_writer_set_str(w, "tokenizer.ggml.model", bert ? "bert" : "llama");
        if (st == COVE_OK)
            st = cove_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", toks, (uint64_t)n);
        if (st == COVE_OK)
            st = cove_gguf_writer_set_arr(w, "tokenizer.ggml.scores", COVE_GGUF_FLOAT32, scores,
                                          (uint64_t)n);
        if (st == COVE_OK)
            st = cove_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", COVE_GGUF_INT32, types,
                                          (uint64_t)n);
        if (st == COVE_OK && bert) {
            cove_gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", 1);
            cove_gguf_writer_set_u32(w, "tokenizer.ggml.cls_token_id", 2);
            cove_gguf_writer_set_u32(w, "tokenizer.ggml.seperator_token_id", 3);
            cove_gguf_writer_set_u32(w, "tokenizer.ggml.padding_token_id", 0);
        }
    }
    cove_free(toks);
    cove_free(store);
    cove_free(scores);
    cove_free(types);
    return st == COVE_OK ? COVE_OK : cove_error_set(err, st, "cannot write the vocabulary");
}

/* The tokenizer.* keys of the vocabulary file g (of l->vocab tokens) into w. */
static cove_status copy_vocab(cove_gguf_writer *w, const cove_gguf *g, cove_error *err)
{
    uint64_t n = cove_gguf_kv_count(g);
    char **skip = cove_calloc((size_t)n + 1, sizeof *skip);
    cove_status st = skip ? COVE_OK : COVE_ERR_NOMEM;
    for (uint64_t i = 0, k = 0; i < n && st == COVE_OK; i++) {
        cove_gguf_str key = cove_gguf_kv_key(g, i);
        if (key.len >= 10 && memcmp(key.ptr, "tokenizer.", 10) == 0)
            continue;
        if (!(skip[k] = cove_malloc((size_t)key.len + 1)))
            st = COVE_ERR_NOMEM;
        else
            snprintf(skip[k++], (size_t)key.len + 1, "%.*s", (int)key.len, key.ptr);
    }
    if (st == COVE_OK)
        st = cove_convert_copy_meta(g, w, (const char *const *)skip, err);
    else
        cove_error_set(err, st, "out of memory");
    for (uint64_t i = 0; skip && skip[i]; i++)
        cove_free(skip[i]);
    cove_free(skip);
    return st;
}

/* Where the vocabulary comes from: --vocab, the test models, or NULL (synthetic). */
static const char *vocab_path(const gen_opts *o, char *buf, size_t n)
{
    const char *dir = getenv("COVE_TEST_MODELS");
    if (o->vocab)
        return o->vocab;
    if (!dir || !*dir || !o->l->vocab_name)
        return NULL;
    snprintf(buf, n, "%s/vocab/ggml-vocab-%s.gguf", dir, o->l->vocab_name);
    return buf;
}

static cove_status write_vocab(cove_gguf_writer *w, const gen_opts *o, cove_error *err)
{
    char buf[4096];
    const char *path = vocab_path(o, buf, sizeof buf);
    cove_gguf *g = NULL;
    uint64_t n = 0;
    enum cove_gguf_vtype et;
    if (!path)
        return synth_vocab(w, o->l, err);
    cove_status st = cove_gguf_open(path, &g, err);
    if (st == COVE_OK && (cove_gguf_get_arr(g, "tokenizer.ggml.tokens", &et, &n) != COVE_OK ||
                          n != (uint64_t)o->l->vocab))
        st = cove_error_set(err, COVE_ERR_INVALID_ARG, "%s holds %llu tokens, %s has %d", path,
                            (unsigned long long)n, o->l->name, o->l->vocab);
    if (st == COVE_OK)
        st = copy_vocab(w, g, err);
    cove_gguf_free(g);
    return st;
}

/* ================================ the data ================================ */

/* One piece of a tensor: rows [r0, r1) generated into f and converted into out. */
typedef struct piece {
    const plan *p;
    size_t job;
    int64_t r0;
    uint64_t seed;
    float *f;      /* rows * cols floats */
    uint8_t *out;  /* rows * row bytes */
} piece;

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

/* Rows [begin, end) of the piece: random values, then the tensor's type. */
static void piece_rows(void *ctx, size_t begin, size_t end, int ith)
{
    const piece *pc = ctx;
    const cove_convert_job *j = &pc->p->jobs[pc->job];
    const cove_kernel *k = cove_kernel_for(j->type);
    const int64_t cols = (int64_t)j->ne[0];
    const size_t rb = cove_kernel_row_bytes(k, cols);
    const float base = pc->p->base[pc->job], scale = pc->p->scale[pc->job];
    for (size_t r = begin; r < end; r++) {
        float *f = pc->f + r * (size_t)cols;
        uint64_t s = mix(pc->seed ^ mix(((uint64_t)pc->job << 40) ^ (uint64_t)(pc->r0 + (int64_t)r)));
        for (int64_t c = 0; c < cols; c++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            f[c] = base + scale * ((float)(s >> 40) / 8388608.0f - 1.0f);
        }
        k->from_f32(f, pc->out + r * rb, cols);
    }
    (void)ith;
}

static cove_status write_job(cove_convert_out *out, const gen_opts *o, const plan *p, size_t ji,
                             cove_pool *pool, float *f, uint8_t *buf, cove_error *err)
{
    const cove_convert_job *j = &p->jobs[ji];
    const int64_t cols = (int64_t)j->ne[0], rows = (int64_t)j->ne[1];
    const size_t rb = cove_kernel_row_bytes(cove_kernel_for(j->type), cols);
    int64_t step = (int64_t)CHUNK_FLOATS / cols;
    step = step < 1 ? 1 : step;
    for (int64_t r0 = 0; r0 < rows; r0 += step) {
        int64_t n = rows - r0 < step ? rows - r0 : step;
        piece pc = {p, ji, r0, (uint64_t)o->seed, f, buf};
        if (cove_pool_parallel_for(pool, (size_t)n, piece_rows, &pc) != COVE_OK)
            piece_rows(&pc, 0, (size_t)n, 0);
        cove_status st = cove_convert_out_data(out, buf, (size_t)n * rb, err);
        if (st != COVE_OK)
            return st;
    }
    return cove_convert_out_end_tensor(out, err);
}

static cove_status write_data(cove_convert_out *out, const gen_opts *o, const plan *p,
                              cove_error *err)
{
    int n_threads = o->threads ? (int)o->threads : cove_cpu_get()->n_cpus_usable;
    cove_pool *pool = NULL;
    int64_t widest = 0;
    for (size_t i = 0; i < p->n; i++)
        widest = (int64_t)p->jobs[i].ne[0] > widest ? (int64_t)p->jobs[i].ne[0] : widest;
    size_t floats = CHUNK_FLOATS > (size_t)widest ? CHUNK_FLOATS : (size_t)widest;
    float *f = cove_malloc(floats * sizeof *f);
    uint8_t *buf = cove_malloc(floats * sizeof(float));
    cove_status st = f && buf ? cove_pool_create(n_threads > 256 ? 256 : n_threads, &pool)
                              : COVE_ERR_NOMEM;
    if (st != COVE_OK)
        st = cove_error_set(err, COVE_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < p->n && st == COVE_OK; i++)
        st = write_job(out, o, p, i, pool, f, buf, err);
    cove_pool_free(pool);
    cove_free(f);
    cove_free(buf);
    return st;
}

static int generate(const gen_opts *o, plan *p)
{
    cove_error err = {0};
    cove_gguf_writer *w = NULL;
    cove_convert_out *out = NULL;
    uint64_t bytes = 0;
    plan_model(p, o);
    cove_status st = cove_gguf_writer_create(&w);
    if (st == COVE_OK) {
        write_hparams(w, o);
        st = write_vocab(w, o, &err);
    }
    if (st == COVE_OK)
        st = cove_convert_out_open(o->out, w, p->jobs, p->n, &out, &err);
    if (st == COVE_OK)
        st = write_data(out, o, p, &err);
    if (st == COVE_OK) {
        st = cove_convert_out_finish(out, &bytes, &err);
        out = NULL;
    }
    cove_convert_out_abort(out);
    cove_gguf_writer_free(w);
    if (st != COVE_OK)
        return cli_fail(CMD, "%s: %s", o->out, cove_error_msg(&err));
    if (!o->quiet)
        printf("%s: %s-shaped random model, %zu tensors, %.1f MB\n", o->out, o->l->name, p->n,
               (double)bytes / 1e6);
    return COVE_EXIT_OK;
}

int cove_cmd_gen_model(int argc, char **argv)
{
    gen_opts o;
    int rc = parse_args(&o, argc, argv);
    if (rc >= 0)
        return rc;
    plan *p = cove_malloc(sizeof *p);
    if (!p)
        return cli_fail(CMD, "out of memory");
    rc = generate(&o, p);
    cove_free(p);
    return rc;
}
