/*
 * engine/model/ops.h - the transformer operations the architecture files compose.
 *
 * Plain scalar f32 code over caller-owned buffers; nothing here allocates. Matrix
 * products go through cove_matmul (kernels.h), which picks the kernel of the weight type.
 */
#ifndef COVE_ENGINE_MODEL_OPS_H
#define COVE_ENGINE_MODEL_OPS_H

#include "engine/model/model_int.h"

/* out = x / sqrt(mean(x^2) + eps) * w, n elements (out may be x). */
void cove_op_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps);

/* x += y, n elements. */
void cove_op_add(float *x, const float *y, int64_t n);

/* gate[i] = silu(gate[i]) * up[i], n elements. */
void cove_op_swiglu(float *gate, const float *up, int64_t n);

/* In-place softmax of x[0..n). */
void cove_op_softmax(float *x, int64_t n);

/*
 * cos/sin table for one position: cs[2i] = cos(pos * inv_freq[i]), cs[2i+1] = sin(...),
 * i < n_rot / 2. Angles are computed in double.
 */
void cove_op_rope_table(const double *inv_freq, int32_t n_rot, int32_t pos, float *cs);

/*
 * Rotate the first n_rot dims of each of n_heads vectors of head_dim in v, by adjacent
 * pairs (v[2i], v[2i+1]) - the "normal" RoPE that llama GGUFs are converted for (their
 * Q and K rows are permuted so that it applies).
 */
void cove_op_rope(float *v, int32_t n_heads, int32_t head_dim, int32_t n_rot, const float *cs);

/* Convert the keys and values of one token into the cache of `layer` at `pos`. */
void cove_op_kv_store(cove_context *ctx, int32_t layer, int32_t pos, const float *k, const float *v);

/*
 * Causal grouped-query attention of one token at `pos` over the cached positions 0..pos of
 * `layer`: q is n_head * head_dim, out likewise. Query head h reads KV head
 * h / (n_head / n_head_kv).
 */
void cove_op_attention(cove_context *ctx, int32_t layer, const float *q, int32_t pos, float *out);

#endif
