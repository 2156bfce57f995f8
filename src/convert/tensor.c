/*
 * convert/tensor.c - moving one tensor's data from its source to the output: rows
 * through f32 (permuted and shifted as the architecture asks) into the output type with
 * the kernels' quantizers, a few megabytes at a time; or byte for byte when nothing
 * changes.
 */
#include <string.h>

#include "base/alloc.h"
#include "convert/convert_int.h"
#include "engine/kernels/quants.h"

#define CHUNK_BYTES (4u << 20) /* f32 bytes converted per step */

static const struct {
    enum cove_ggml_type type;
    uint32_t file_type; /* llama_ftype: the "mostly" type of a file */
} types_written[] = {
    {COVE_TYPE_F32, 0},   {COVE_TYPE_F16, 1},   {COVE_TYPE_Q4_0, 2},  {COVE_TYPE_Q4_1, 3},
    {COVE_TYPE_Q8_0, 7},  {COVE_TYPE_Q5_0, 8},  {COVE_TYPE_Q5_1, 9},  {COVE_TYPE_Q2_K, 10},
    {COVE_TYPE_Q3_K, 11}, {COVE_TYPE_Q4_K, 14}, {COVE_TYPE_Q5_K, 16}, {COVE_TYPE_Q6_K, 18},
    {COVE_TYPE_BF16, 32},
};

#define N_TYPES (sizeof types_written / sizeof types_written[0])

int cove_convert_type_ok(enum cove_ggml_type t)
{
    for (size_t i = 0; i < N_TYPES; i++) {
        if (types_written[i].type == t) {
            const cove_quant_ops *ops = cove_quant_ops_get(t);
            return ops && ops->quantize_row && ops->dequantize_row;
        }
    }
    return 0;
}

uint32_t cove_convert_file_type(enum cove_ggml_type t)
{
    for (size_t i = 0; i < N_TYPES; i++)
        if (types_written[i].type == t)
            return types_written[i].file_type;
    return 1;
}

uint64_t cove_convert_job_rows(const cove_convert_job *j)
{
    uint64_t rows = 1;
    for (uint32_t d = 1; d < j->n_dims; d++)
        rows *= j->ne[d];
    return rows;
}

static const char *type_name(enum cove_ggml_type t)
{
    const cove_type_info *ti = cove_type_info_get(t);
    return ti && ti->name ? ti->name : "(unknown)";
}

static int is_float(enum cove_ggml_type t)
{
    return t == COVE_TYPE_F32 || t == COVE_TYPE_F16 || t == COVE_TYPE_BF16;
}

enum cove_ggml_type cove_convert_pick_type(enum cove_convert_role role, uint64_t ne0,
                                           enum cove_ggml_type want, int *fallback)
{
    const cove_type_info *ti = cove_type_info_get(want);
    *fallback = 0;
    if (role == COVE_ROLE_VECTOR)
        return COVE_TYPE_F32;
    if (role == COVE_ROLE_TABLE)
        return is_float(want) ? want : COVE_TYPE_F16;
    if (!ti || ne0 % ti->block_size != 0) {
        *fallback = 1;
        return COVE_TYPE_F16;
    }
    return want;
}

/* Source unit (row, or element of a vector) of output unit u under a Q/K permutation. */
static uint64_t permuted(const cove_convert_job *j, uint64_t units, uint64_t u)
{
    if (!(j->xform & (COVE_XFORM_PERMUTE_Q | COVE_XFORM_PERMUTE_K)))
        return u;
    uint64_t hd = units / (uint64_t)j->n_heads, h = u / hd, k = u % hd;
    return h * hd + (k % 2) * (hd / 2) + k / 2;
}

typedef struct conv_state {
    const cove_convert_job *j;
    const cove_quant_ops *src, *dst;
    size_t src_row, dst_row;
    uint64_t ne0, rows;
    float *f32, *tmp; /* chunk of rows in f32; one row (vector permutation) */
    uint8_t *out;     /* the chunk in the output type */
} conv_state;

/* Output row r into f32 at `dst`. */
static void load_row(const conv_state *s, uint64_t r, float *dst)
{
    const cove_convert_job *j = s->j;
    const uint8_t *base = j->src.data;
    if (s->rows == 1 && (j->xform & (COVE_XFORM_PERMUTE_Q | COVE_XFORM_PERMUTE_K))) {
        s->src->dequantize_row(base, s->tmp, (int64_t)s->ne0);
        for (uint64_t u = 0; u < s->ne0; u++)
            dst[u] = s->tmp[permuted(j, s->ne0, u)];
    } else {
        uint64_t sr = s->rows > 1 ? permuted(j, s->rows, r) : r;
        s->src->dequantize_row(base + sr * s->src_row, dst, (int64_t)s->ne0);
    }
    if (j->xform & COVE_XFORM_PLUS_ONE)
        for (uint64_t u = 0; u < s->ne0; u++)
            dst[u] += 1.0f;
}

static cove_status convert_rows(conv_state *s, cove_convert_out *o, uint64_t chunk,
                                cove_convert_progress_fn progress, void *pctx, uint64_t *done,
                                uint64_t total, cove_error *err)
{
    for (uint64_t r0 = 0; r0 < s->rows; r0 += chunk) {
        uint64_t n = s->rows - r0 < chunk ? s->rows - r0 : chunk;
        for (uint64_t k = 0; k < n; k++) {
            float *row = s->f32 + k * s->ne0;
            load_row(s, r0 + k, row);
            s->dst->quantize_row(row, s->out + k * s->dst_row, (int64_t)s->ne0);
        }
        cove_status st = cove_convert_out_data(o, s->out, (size_t)(n * s->dst_row), err);
        if (st != COVE_OK)
            return st;
        *done += n * s->dst_row;
        if (progress)
            progress(pctx, s->j->name, *done, total);
    }
    return COVE_OK;
}

/* Byte-for-byte copy of a tensor whose type and layout do not change. */
static cove_status copy_bytes(const cove_convert_job *j, cove_convert_out *o,
                              cove_convert_progress_fn progress, void *pctx, uint64_t *done,
                              uint64_t total, cove_error *err)
{
    const uint8_t *p = j->src.data;
    for (uint64_t at = 0; at < j->n_bytes; at += CHUNK_BYTES) {
        size_t n = (size_t)(j->n_bytes - at < CHUNK_BYTES ? j->n_bytes - at : CHUNK_BYTES);
        cove_status st = cove_convert_out_data(o, p + at, n, err);
        if (st != COVE_OK)
            return st;
        *done += n;
        if (progress)
            progress(pctx, j->name, *done, total);
    }
    return COVE_OK;
}

static cove_status setup(conv_state *s, const cove_convert_job *j, uint64_t *chunk,
                         cove_error *err)
{
    s->j = j;
    s->ne0 = j->ne[0];
    s->rows = cove_convert_job_rows(j);
    s->src = cove_quant_ops_get(j->src.type);
    s->dst = cove_quant_ops_get(j->type);
    if (!s->src || !s->src->dequantize_row || !s->dst || !s->dst->quantize_row)
        return cove_error_set(err, COVE_ERR_UNSUPPORTED, "tensor %s: cannot convert %s to %s",
                              j->name, type_name(j->src.type), type_name(j->type));
    s->src_row = cove_quant_row_bytes(j->src.type, (int64_t)s->ne0);
    s->dst_row = cove_quant_row_bytes(j->type, (int64_t)s->ne0);
    if (!s->src_row || !s->dst_row || s->dst_row * s->rows != j->n_bytes)
        return cove_error_set(err, COVE_ERR_INTERNAL, "tensor %s: rows of %llu do not fit its "
                              "types", j->name, (unsigned long long)s->ne0);
    *chunk = CHUNK_BYTES / (s->ne0 * sizeof(float));
    *chunk = *chunk ? *chunk : 1;
    *chunk = *chunk < s->rows ? *chunk : s->rows;
    s->f32 = cove_malloc((size_t)(*chunk * s->ne0) * sizeof(float));
    s->tmp = cove_malloc((size_t)s->ne0 * sizeof(float));
    s->out = cove_malloc((size_t)(*chunk * s->dst_row));
    if (!s->f32 || !s->tmp || !s->out)
        return cove_error_set(err, COVE_ERR_NOMEM, "tensor %s: out of memory", j->name);
    return COVE_OK;
}

cove_status cove_convert_write_job(cove_convert_out *o, const cove_convert_job *job,
                                   cove_convert_progress_fn progress, void *progress_ctx,
                                   uint64_t *done, uint64_t total, cove_error *err)
{
    cove_status st;
    if (job->n_bytes == 0) {
        st = COVE_OK;
    } else if (job->src.type == job->type && job->xform == COVE_XFORM_NONE) {
        st = copy_bytes(job, o, progress, progress_ctx, done, total, err);
    } else {
        conv_state s = {0};
        uint64_t chunk = 0;
        st = setup(&s, job, &chunk, err);
        if (st == COVE_OK && s.rows)
            st = convert_rows(&s, o, chunk, progress, progress_ctx, done, total, err);
        cove_free(s.f32);
        cove_free(s.tmp);
        cove_free(s.out);
    }
    return st == COVE_OK ? cove_convert_out_end_tensor(o, err) : st;
}
