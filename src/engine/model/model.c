/*
 * engine/model/model.c - loading models: the architecture table, hyper-parameters, tensors.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/cpu.h"
#include "base/limits.h"
#include "engine/model/model_int.h"

/* Registered architectures, looked up by general.architecture. */
static const cove_arch *const arch_table[] = {
    &cove_arch_llama,
    &cove_arch_qwen2,
    &cove_arch_qwen3,
    &cove_arch_gemma3,
    &cove_arch_bert,
};

#define N_ARCHS (sizeof arch_table / sizeof arch_table[0])

#define MODEL_ARENA_CHUNK (64u << 10)
#define MODEL_ARENA_MAX (1ull << 30)
#define KEY_MAX 160
#define PACK_SLICE_BYTES ((size_t)2 << 20) /* rows read and packed at a time: they stay in cache between */

cove_model_params cove_model_default_params(void)
{
    cove_model_params p = {.vocab_only = 0};
    return p;
}

/* ---- hyper-parameters ---- */

/* Unsigned `<arch>.<suffix>` into *out, in [1, max]; `def` when absent and not required. */
static cove_status hp_int(const cove_model *m, const char *suffix, int required, int32_t def,
                          uint64_t max, int32_t *out, cove_error *err)
{
    char key[KEY_MAX];
    uint64_t v;
    snprintf(key, sizeof key, "%s.%s", m->arch_name, suffix);
    cove_status st = cove_gguf_get_u64(m->g, key, &v);
    if (st == COVE_ERR_NOT_FOUND && !required) {
        *out = def;
        return COVE_OK;
    }
    if (st == COVE_ERR_NOT_FOUND)
        return cove_error_set(err, COVE_ERR_FORMAT, "the model has no %s", key);
    if (st != COVE_OK)
        return cove_error_set(err, COVE_ERR_FORMAT, "%s is not a non-negative integer", key);
    if (v == 0)
        return cove_error_set(err, COVE_ERR_FORMAT, "%s is 0", key);
    if (v > max)
        return cove_error_set(err, COVE_ERR_LIMIT, "%s = %llu exceeds the limit of %llu", key,
                              (unsigned long long)v, (unsigned long long)max);
    *out = (int32_t)v;
    return COVE_OK;
}

/* Positive finite float `<arch>.<suffix>` into *out; `def` when absent and not required. */
static cove_status hp_float(const cove_model *m, const char *suffix, int required, float def,
                            float *out, cove_error *err)
{
    char key[KEY_MAX];
    double v;
    snprintf(key, sizeof key, "%s.%s", m->arch_name, suffix);
    cove_status st = cove_gguf_get_f64(m->g, key, &v);
    if (st == COVE_ERR_NOT_FOUND && !required) {
        *out = def;
        return COVE_OK;
    }
    if (st == COVE_ERR_NOT_FOUND)
        return cove_error_set(err, COVE_ERR_FORMAT, "the model has no %s", key);
    if (st != COVE_OK || !isfinite(v) || v <= 0.0 || v > 1e30)
        return cove_error_set(err, COVE_ERR_FORMAT, "%s is not a positive number", key);
    *out = (float)v;
    return COVE_OK;
}

cove_status cove_model_opt_float(const cove_model *m, const char *suffix, float *out,
                                 cove_error *err)
{
    char key[KEY_MAX];
    double v;
    snprintf(key, sizeof key, "%s.%s", m->arch_name, suffix);
    cove_status st = cove_gguf_get_f64(m->g, key, &v);
    if (st == COVE_ERR_NOT_FOUND)
        return COVE_OK;
    if (st != COVE_OK || !isfinite(v) || v < 0.0 || v > 1e30)
        return cove_error_set(err, COVE_ERR_FORMAT, "%s is not a non-negative number", key);
    *out = (float)v;
    return COVE_OK;
}

cove_status cove_model_opt_int(const cove_model *m, const char *suffix, uint64_t max,
                               int32_t *out, cove_error *err)
{
    char key[KEY_MAX];
    uint64_t v;
    snprintf(key, sizeof key, "%s.%s", m->arch_name, suffix);
    cove_status st = cove_gguf_get_u64(m->g, key, &v);
    if (st == COVE_ERR_NOT_FOUND)
        return COVE_OK;
    if (st != COVE_OK)
        return cove_error_set(err, COVE_ERR_FORMAT, "%s is not a non-negative integer", key);
    if (v > max)
        return cove_error_set(err, COVE_ERR_LIMIT, "%s = %llu exceeds the limit of %llu", key,
                              (unsigned long long)v, (unsigned long long)max);
    *out = (int32_t)v;
    return COVE_OK;
}

static cove_status check_hparams(const cove_model *m, cove_error *err)
{
    const cove_hparams *hp = &m->hp;
    const char *a = m->arch_name;
    if (hp->n_head_kv > hp->n_head || hp->n_head % hp->n_head_kv != 0)
        return cove_error_set(err, COVE_ERR_FORMAT, "%s.attention.head_count %d is not a multiple "
                              "of head_count_kv %d", a, hp->n_head, hp->n_head_kv);
    if (hp->head_dim <= 0 || (int64_t)hp->head_dim * hp->n_head > COVE_MAX_EMBD)
        return cove_error_set(err, COVE_ERR_FORMAT, "%s: head size %d with %d heads is out of "
                              "range", a, hp->head_dim, hp->n_head);
    if (hp->n_rot % 2 != 0 || hp->n_rot > hp->head_dim)
        return cove_error_set(err, COVE_ERR_FORMAT, "%s.rope.dimension_count %d must be even and "
                              "at most the head size %d", a, hp->n_rot, hp->head_dim);
    return COVE_OK;
}

/* The head size: attention.key_length (= value_length), else n_embd / n_head. */
static cove_status read_head_dim(cove_model *m, cove_error *err)
{
    cove_hparams *hp = &m->hp;
    int32_t k = 0, v = 0;
    cove_status st;
    if ((st = cove_model_opt_int(m, "attention.key_length", COVE_MAX_EMBD, &k, err)) ||
        (st = cove_model_opt_int(m, "attention.value_length", COVE_MAX_EMBD, &v, err)))
        return st;
    if (k == 0 && hp->n_embd % hp->n_head != 0)
        return cove_error_set(err, COVE_ERR_FORMAT, "%s.embedding_length %d is not a multiple of "
                              "attention.head_count %d", m->arch_name, hp->n_embd, hp->n_head);
    hp->head_dim = k ? k : hp->n_embd / hp->n_head;
    if (v && v != hp->head_dim)
        return cove_error_set(err, COVE_ERR_UNSUPPORTED, "%s.attention.value_length %d differs "
                              "from the key length %d", m->arch_name, v, hp->head_dim);
    return COVE_OK;
}

/* <arch>.rope.scaling.type / factor / original_context_length (or rope.scale_linear). */
static cove_status read_rope_scaling(cove_model *m, cove_error *err)
{
    cove_hparams *hp = &m->hp;
    char key[KEY_MAX];
    cove_gguf_str type;
    float linear = 0.0f;
    cove_status st;
    hp->rope_factor = 1.0f;
    snprintf(key, sizeof key, "%s.rope.scaling.type", m->arch_name);
    if (cove_gguf_get_str(m->g, key, &type) == COVE_OK) {
        if (cove_gguf_str_eq(type, "linear"))
            hp->rope_scaling = COVE_ROPE_SCALING_LINEAR;
        else if (cove_gguf_str_eq(type, "yarn"))
            hp->rope_scaling = COVE_ROPE_SCALING_YARN;
        else if (!cove_gguf_str_eq(type, "none"))
            return cove_error_set(err, COVE_ERR_UNSUPPORTED, "%s '%.*s' is not supported", key,
                                  (int)(type.len > 32 ? 32 : type.len), type.ptr);
    }
    if ((st = cove_model_opt_float(m, "rope.scaling.factor", &hp->rope_factor, err)) ||
        (st = cove_model_opt_float(m, "rope.scale_linear", &linear, err)) ||
        (st = cove_model_opt_int(m, "rope.scaling.original_context_length", COVE_MAX_CTX,
                                 &hp->rope_orig_ctx, err)))
        return st;
    if (linear > 0.0f && hp->rope_scaling == COVE_ROPE_SCALING_NONE) {
        hp->rope_scaling = COVE_ROPE_SCALING_LINEAR;
        hp->rope_factor = linear;
    }
    if (hp->rope_scaling != COVE_ROPE_SCALING_NONE && !(hp->rope_factor > 0.0f))
        return cove_error_set(err, COVE_ERR_FORMAT, "%s.rope.scaling.factor must be positive",
                              m->arch_name);
    if (hp->rope_orig_ctx == 0)
        hp->rope_orig_ctx = hp->n_ctx_train;
    return COVE_OK;
}

cove_status cove_model_read_hparams(cove_model *m, cove_error *err)
{
    cove_hparams *hp = &m->hp;
    cove_status st;
    if ((st = hp_int(m, "block_count", 1, 0, COVE_MAX_LAYERS, &hp->n_layer, err)) ||
        (st = hp_int(m, "embedding_length", 1, 0, COVE_MAX_EMBD, &hp->n_embd, err)) ||
        (st = hp_int(m, "feed_forward_length", 1, 0, COVE_MAX_FF, &hp->n_ff, err)) ||
        (st = hp_int(m, "attention.head_count", 1, 0, COVE_MAX_HEADS, &hp->n_head, err)) ||
        (st = hp_int(m, "attention.head_count_kv", 0, hp->n_head, COVE_MAX_HEADS, &hp->n_head_kv,
                     err)) ||
        (st = hp_int(m, "context_length", 1, 0, COVE_MAX_CTX, &hp->n_ctx_train, err)) ||
        (st = read_head_dim(m, err)))
        return st;
    if ((st = hp_int(m, "rope.dimension_count", 0, hp->head_dim, COVE_MAX_EMBD, &hp->n_rot, err)) ||
        (st = hp_float(m, "rope.freq_base", 0, 10000.0f, &hp->rope_base, err)) ||
        (st = hp_float(m, "attention.layer_norm_rms_epsilon", 1, 0, &hp->rms_eps, err)) ||
        (st = read_rope_scaling(m, err)))
        return st;
    hp->n_vocab = cove_vocab_n_tokens(m->vocab);
    hp->rope_type = COVE_ROPE_NORM;
    hp->act = COVE_ACT_SILU;
    hp->embd_scale = 1.0f;
    hp->attn_scale = 1.0f / sqrtf((float)hp->head_dim);
    hp->rope_base_swa = hp->rope_base;
    if ((st = cove_model_opt_float(m, "attention.scale", &hp->attn_scale, err)) ||
        (st = cove_model_opt_float(m, "attn_logit_softcapping", &hp->attn_softcap, err)) ||
        (st = cove_model_opt_float(m, "final_logit_softcapping", &hp->final_softcap, err)))
        return st;
    return check_hparams(m, err);
}

/* ---- tensors ---- */

static cove_status check_shape(const cove_gguf_tensor *t, const char *name, int64_t d0, int64_t d1,
                               cove_error *err)
{
    if (t->ne[0] == (uint64_t)d0 && t->ne[1] == (uint64_t)d1 && t->ne[2] == 1 && t->ne[3] == 1)
        return COVE_OK;
    if (d1 == 1)
        return cove_error_set(err, COVE_ERR_FORMAT, "tensor %s has shape [%llu, %llu], expected "
                              "[%lld]", name, (unsigned long long)t->ne[0],
                              (unsigned long long)t->ne[1], (long long)d0);
    return cove_error_set(err, COVE_ERR_FORMAT, "tensor %s has shape [%llu, %llu, %llu], expected "
                          "[%lld, %lld]", name, (unsigned long long)t->ne[0],
                          (unsigned long long)t->ne[1], (unsigned long long)t->ne[2],
                          (long long)d0, (long long)d1);
}

static cove_status kernel_of(const cove_gguf_tensor *t, const char *name, const cove_kernel **k,
                             cove_error *err)
{
    const cove_type_info *ti = cove_type_info_get(t->type);
    *k = cove_kernel_for(t->type);
    if (!*k || !(*k)->ops)
        return cove_error_set(err, COVE_ERR_UNSUPPORTED, "tensor %s has type %s, which cove cannot "
                              "compute with yet", name, ti && ti->name ? ti->name : "(unknown)");
    if (t->ne[0] % (*k)->block_size != 0)
        return cove_error_set(err, COVE_ERR_FORMAT, "tensor %s: row of %llu is not a whole number "
                              "of %s blocks", name, (unsigned long long)t->ne[0], (*k)->name);
    if ((*k)->block_bytes % 4 == 0 && ((uintptr_t)t->data % 4) != 0)
        return cove_error_set(err, COVE_ERR_FORMAT, "tensor %s is misaligned in the file", name);
    return COVE_OK;
}

/* Reading and packing one tensor's rows, split between the threads of the load pool. */
typedef struct {
    cove_model *m;
    const cove_gguf_tensor *t;
    uint8_t *dst;
    size_t rb;
    int64_t cols;
} pack_job;

static void pack_range(void *ctx, size_t begin, size_t end, int ith)
{
    const pack_job *j = ctx;
    const int64_t slice = j->rb < PACK_SLICE_BYTES ? (int64_t)(PACK_SLICE_BYTES / j->rb) : 1;
    for (int64_t r0 = (int64_t)begin; r0 < (int64_t)end; r0 += slice) {
        const int64_t n = (int64_t)end - r0 < slice ? (int64_t)end - r0 : slice;
        uint8_t *d = j->dst + (size_t)r0 * j->rb;
        if (cove_gguf_tensor_read(j->m->g, j->t, (uint64_t)r0 * j->rb, d, (size_t)n * j->rb,
                                  &j->m->load_errs[ith]) != COVE_OK)
            return;
        (void)cove_quant_pack_rows(j->t->type, d, j->rb, n, j->cols);
    }
}

/* The load pool, started on first use (one thread per usable CPU). */
static cove_status load_pool(cove_model *m, cove_error *err)
{
    if (m->load_pool)
        return COVE_OK;
    int n = cove_cpu_get()->n_cpus_usable;
    n = n < 1 ? 1 : n > COVE_MAX_THREADS ? COVE_MAX_THREADS : n;
    m->load_errs = cove_calloc((size_t)n, sizeof *m->load_errs);
    if (!m->load_errs || cove_pool_create(n, &m->load_pool) != COVE_OK)
        return cove_error_set(err, COVE_ERR_NOMEM, "cannot start %d threads to load the weights", n);
    return COVE_OK;
}

static void load_pool_free(cove_model *m)
{
    cove_pool_free(m->load_pool);
    cove_free(m->load_errs);
    m->load_pool = NULL;
    m->load_errs = NULL;
}

/* Read tensor t's rows into dst and pack them there, on the load pool. */
static cove_status read_and_pack(cove_model *m, const cove_gguf_tensor *t, const cove_matrix *out, uint8_t *dst,
                                 cove_error *err)
{
    cove_status st = load_pool(m, err);
    if (st != COVE_OK)
        return st;
    const int nth = cove_pool_size(m->load_pool);
    for (int i = 0; i < nth; i++)
        cove_error_clear(&m->load_errs[i]);
    pack_job j = {m, t, dst, out->row_bytes, out->n_cols};
    if ((st = cove_pool_parallel_for(m->load_pool, (size_t)out->n_rows, pack_range, &j)) != COVE_OK)
        return cove_error_set(err, st, "cannot run the threads that load the weights");
    for (int i = 0; i < nth; i++)
        if (m->load_errs[i].status != COVE_OK) {
            if (err)
                *err = m->load_errs[i];
            return m->load_errs[i].status;
        }
    return COVE_OK;
}

/*
 * Pack the rows of matrix `out` (tensor t) for the packed decode kernel when this CPU has
 * one for its type: the tensor is read from the file into the model's buffer of huge pages
 * (m->wbuf) and packed there, PACK_SLICE_BYTES at a time by each thread of the load pool,
 * and `out` points at the copy (once per tensor: a tensor read twice is packed once). Tables
 * of one row stay as they are; so does every tensor when the buffer cannot be had.
 */
static cove_status maybe_pack(cove_model *m, const cove_gguf_tensor *t, cove_matrix *out, cove_error *err)
{
    const cove_kernel *pk = cove_kernel_packed_for(t->type);
    const uint64_t idx = (uint64_t)(t - cove_gguf_tensor_at(m->g, 0)), count = cove_gguf_tensor_count(m->g);
    const size_t rb = out->row_bytes, bytes = rb * (size_t)out->n_rows;
    if (!pk || out->n_rows < 2 || (m->wbuf_cap && !m->wbuf))
        return COVE_OK; /* (a buffer asked for and refused: everything stays as in the file) */
    if (!m->packed && cove_arena_calloc(m->arena, (size_t)count, sizeof *m->packed, (void **)&m->packed) != COVE_OK)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory loading the weights");
    if (!m->packed[idx]) {
        if (!m->wbuf) { /* every packed tensor fits: at most the file's bytes, each 64-aligned */
            m->wbuf_cap = (size_t)cove_gguf_size(m->g) + 64 * (size_t)count;
            m->wbuf = cove_pages_alloc(m->wbuf_cap);
            if (!m->wbuf)
                return COVE_OK;
        }
        if (bytes > m->wbuf_cap - m->wbuf_used)
            return COVE_OK;
        uint8_t *dst = m->wbuf + m->wbuf_used;
        cove_status st = read_and_pack(m, t, out, dst, err);
        if (st != COVE_OK)
            return st;
        m->wbuf_used += (bytes + 63) & ~(size_t)63;
        m->packed[idx] = dst;
    }
    out->data = m->packed[idx];
    out->k = pk;
    return COVE_OK;
}

cove_status cove_model_matrix_opt(cove_model *m, const char *name, int64_t rows, int64_t cols,
                                  cove_matrix *out, int *found, cove_error *err)
{
    const cove_gguf_tensor *t = cove_gguf_tensor_find(m->g, name);
    const cove_kernel *k;
    cove_status st;
    *found = t != NULL;
    if (!t)
        return COVE_OK;
    if ((st = check_shape(t, name, cols, rows, err)) || (st = kernel_of(t, name, &k, err)))
        return st;
    size_t row_bytes = cove_kernel_row_bytes(k, cols);
    if ((uint64_t)row_bytes * (uint64_t)rows > t->n_bytes)
        return cove_error_set(err, COVE_ERR_FORMAT, "tensor %s is shorter than its shape", name);
    *out = (cove_matrix){k, t->data, rows, cols, row_bytes};
    if ((st = maybe_pack(m, t, out, err)))
        return st;
    m->n_params += (uint64_t)rows * (uint64_t)cols;
    if (rows > 1 && strcmp(name, "token_embd.weight") != 0) /* one row of it per token */
        m->weight_bytes += (uint64_t)row_bytes * (uint64_t)rows;
    return COVE_OK;
}

cove_status cove_model_matrix(cove_model *m, const char *name, int64_t rows, int64_t cols,
                              cove_matrix *out, cove_error *err)
{
    int found;
    cove_status st = cove_model_matrix_opt(m, name, rows, cols, out, &found, err);
    if (st == COVE_OK && !found)
        return cove_error_set(err, COVE_ERR_FORMAT, "the model has no tensor %s", name);
    return st;
}

cove_status cove_model_vector(cove_model *m, const char *name, int64_t n, const float **out,
                              cove_error *err)
{
    cove_matrix row;
    float *buf;
    cove_status st = cove_model_matrix(m, name, 1, n, &row, err);
    if (st != COVE_OK)
        return st;
    if (cove_arena_alloc(m->arena, (size_t)n * sizeof *buf, 0, (void **)&buf) != COVE_OK)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory loading %s", name);
    /* read with pread, not through the mapping: a fault there may map a whole large folio of
     * the page cache (megabytes of the neighbouring matrices, whose packed copies are in use) */
    uint8_t *raw = cove_malloc(row.row_bytes);
    if (!raw)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory loading %s", name);
    st = cove_gguf_tensor_read(m->g, cove_gguf_tensor_find(m->g, name), 0, raw, row.row_bytes, err);
    if (st == COVE_OK)
        row.k->to_f32(raw, buf, n);
    cove_free(raw);
    if (st != COVE_OK)
        return st;
    *out = buf;
    return COVE_OK;
}

cove_status cove_model_vector_opt(cove_model *m, const char *name, int64_t n, const float **out,
                                  cove_error *err)
{
    *out = NULL;
    if (!cove_gguf_tensor_find(m->g, name))
        return COVE_OK;
    return cove_model_vector(m, name, n, out, err);
}

cove_status cove_model_load_io(cove_model *m, cove_error *err)
{
    const cove_hparams *hp = &m->hp;
    int found;
    cove_status st;
    if ((st = cove_model_matrix(m, "token_embd.weight", hp->n_vocab, hp->n_embd, &m->tok_embd, err)) ||
        (st = cove_model_vector(m, "output_norm.weight", hp->n_embd, &m->output_norm, err)) ||
        (st = cove_model_matrix_opt(m, "output.weight", hp->n_vocab, hp->n_embd, &m->output,
                                    &found, err)))
        return st;
    if (!found) { /* tied embeddings: the whole table is read for every token's logits */
        m->output = m->tok_embd;
        m->weight_bytes += (uint64_t)m->tok_embd.row_bytes * (uint64_t)m->tok_embd.n_rows;
    }
    return cove_model_vector_opt(m, "rope_freqs.weight", hp->n_rot / 2, &m->rope_freqs, err);
}

/* ---- loading ---- */

/* String `key` copied into the arena (NUL-terminated); `def` when absent. */
static cove_status arena_str(cove_model *m, const char *key, const char *def, const char **out,
                             cove_error *err)
{
    cove_gguf_str s;
    char *copy;
    if (cove_gguf_get_str(m->g, key, &s) != COVE_OK) {
        *out = def;
        return COVE_OK;
    }
    if (s.len > COVE_MAX_NAME_LEN)
        return cove_error_set(err, COVE_ERR_LIMIT, "%s is longer than %d bytes", key,
                              COVE_MAX_NAME_LEN);
    if (cove_arena_strndup(m->arena, s.ptr, (size_t)s.len, &copy) != COVE_OK)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory loading the model");
    *out = copy;
    return COVE_OK;
}

static cove_status pick_arch(cove_model *m, cove_error *err)
{
    for (size_t i = 0; i < N_ARCHS; i++) {
        if (strcmp(arch_table[i]->name, m->arch_name) == 0) {
            m->arch = arch_table[i];
            return COVE_OK;
        }
    }
    return cove_error_set(err, COVE_ERR_UNSUPPORTED, "architecture '%s' is not supported yet",
                          m->arch_name);
}

static cove_status load_parts(cove_model *m, const char *path, cove_model_params params,
                              cove_error *err)
{
    cove_status st = cove_gguf_open(path, &m->g, err);
    if (st == COVE_OK)
        st = cove_vocab_load(m->g, &m->vocab, err);
    if (st == COVE_OK)
        st = arena_str(m, "general.architecture", params.vocab_only ? "" : NULL, &m->arch_name, err);
    if (st == COVE_OK)
        st = arena_str(m, "general.name", "", &m->name, err);
    if (st != COVE_OK || params.vocab_only)
        return st;
    if (!m->arch_name)
        return cove_error_set(err, COVE_ERR_FORMAT, "the model has no general.architecture");
    if ((st = pick_arch(m, err)) != COVE_OK)
        return st;
    st = m->arch->load(m, err);
    load_pool_free(m);
    return st;
}

cove_status cove_model_load(const char *path, cove_model_params params, cove_model **out,
                            cove_error *err)
{
    if (!out)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "cove_model_load: out is NULL");
    *out = NULL;
    if (!path)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "cove_model_load: path is NULL");
    cove_model *m = cove_calloc(1, sizeof *m);
    if (!m || cove_arena_create(MODEL_ARENA_CHUNK, MODEL_ARENA_MAX, &m->arena) != COVE_OK) {
        cove_free(m);
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory loading %s", path);
    }
    cove_status st = load_parts(m, path, params, err);
    if (st != COVE_OK) {
        cove_model_free(m);
        return st;
    }
    *out = m;
    return COVE_OK;
}

void cove_model_free(cove_model *m)
{
    if (!m)
        return;
    load_pool_free(m);
    cove_vocab_free(m->vocab);
    cove_gguf_free(m->g);
    cove_pages_free(m->wbuf, m->wbuf_cap);
    cove_arena_free(m->arena);
    cove_free(m);
}

/* ---- getters ---- */

const cove_vocab *cove_model_vocab(const cove_model *m) { return m->vocab; }
const char *cove_model_arch(const cove_model *m) { return m->arch_name; }
const char *cove_model_name(const cove_model *m) { return m->name; }
int32_t cove_model_n_vocab(const cove_model *m) { return cove_vocab_n_tokens(m->vocab); }
int32_t cove_model_n_ctx_train(const cove_model *m) { return m->hp.n_ctx_train; }
int32_t cove_model_n_embd(const cove_model *m) { return m->hp.n_embd; }
int32_t cove_model_n_layer(const cove_model *m) { return m->hp.n_layer; }
int32_t cove_model_n_head(const cove_model *m) { return m->hp.n_head; }
int32_t cove_model_n_head_kv(const cove_model *m) { return m->hp.n_head_kv; }
uint64_t cove_model_n_params(const cove_model *m) { return m->n_params; }
uint64_t cove_model_weight_bytes(const cove_model *m) { return m->weight_bytes; }
int32_t cove_model_token_bos(const cove_model *m) { return cove_vocab_bos(m->vocab); }
int32_t cove_model_token_eos(const cove_model *m) { return cove_vocab_eos(m->vocab); }
int32_t cove_model_token_unk(const cove_model *m) { return cove_vocab_unk(m->vocab); }
int32_t cove_model_token_pad(const cove_model *m) { return cove_vocab_pad(m->vocab); }

int cove_token_is_eog(const cove_model *m, int32_t token)
{
    return cove_vocab_is_eog(m->vocab, token);
}
