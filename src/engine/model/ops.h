/*
 * engine/model/ops.h - the transformer operations the architecture files compose.
 *
 * f32 code over caller-owned buffers; nothing here allocates. Matrix products go through
 * cove_matmul_* (kernels.h), which picks the kernel of the weight type; the vector
 * operations of attention go through cove_vec_ops (SIMD when the CPU has it).
 */
#ifndef COVE_ENGINE_MODEL_OPS_H
#define COVE_ENGINE_MODEL_OPS_H

#include "engine/model/model_int.h"

/* out = x / sqrt(mean(x^2) + eps) * w, n elements (out may be x). */
void cove_op_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps);

/* x += y, n elements. */
void cove_op_add(float *x, const float *y, int64_t n);

/* gate[i] = act(gate[i]) * up[i], n elements. */
void cove_op_glu(float *gate, const float *up, int64_t n, enum cove_ffn_act act);

/* gate[i] = silu(gate[i]) * up[i], n elements. */
void cove_op_swiglu(float *gate, const float *up, int64_t n);

/* x[i] = cap * tanh(x[i] / cap), n elements. */
void cove_op_softcap(float *x, int64_t n, float cap);

/* In-place softmax of x[0..n). */
void cove_op_softmax(float *x, int64_t n);

/*
 * Fill r for RoPE of base `base` over n_rot dimensions with the model's scaling:
 * inv_freq[i] = base^(-2i / n_rot) / factors[i] (factors NULL: 1), the linear or YaRN
 * scaling of hp (scaled = 0: none). r->inv_freq must hold n_rot / 2 doubles.
 */
void cove_op_rope_init(cove_rope *r, const cove_hparams *hp, double base, const float *factors,
                       int scaled);

/*
 * cos/sin table for one position: cs[2i] = cos(theta_i), cs[2i+1] = sin(theta_i) (times
 * the YaRN magnitude scale), i < n_rot / 2. Angles are computed in double.
 */
void cove_op_rope_table(const cove_rope *r, int32_t n_rot, int32_t pos, float *cs);

/*
 * Rotate the first n_rot dims of each of n_heads vectors of head_dim in v, with pair i
 * rotated by (cs[2i], cs[2i+1]): adjacent pairs (v[2i], v[2i+1]) for COVE_ROPE_NORM, halves
 * (v[i], v[i + n_rot/2]) for COVE_ROPE_NEOX.
 */
void cove_op_rope(float *v, int32_t n_heads, int32_t head_dim, int32_t n_rot, const float *cs,
                  enum cove_rope_type type);

/* ---- attention (attention.c) ---- */

#define COVE_ATT_ROWS 32 /* (token, head) rows of one attention block */

/*
 * A block of query rows that share one KV head of one sequence: row r reads keys and values
 * lo[r] .. hi[r] (its window and its own position) of the cache region it is given, with
 * query q[r] (head_dim floats) into out[r]. s_lo / s_hi: the union of the ranges.
 */
typedef struct cove_att_block {
    int n_rows;
    int32_t s_lo, s_hi;
    int32_t lo[COVE_ATT_ROWS], hi[COVE_ATT_ROWS];
    const float *q[COVE_ATT_ROWS];
    float *out[COVE_ATT_ROWS];
} cove_att_block;

/* Floats of per-thread scratch cove_attend_block needs (sized at context creation). */
size_t cove_attn_scratch_floats(const cove_context *c);

/*
 * Attention of the rows of b over the keys kc and values vc (one KV head: row j of either
 * at + j * kv_head_bytes, in the cache's type); scratch holds cove_attn_scratch_floats.
 */
void cove_attend_block(const cove_context *c, const cove_att_block *b, const uint8_t *kc,
                       const uint8_t *vc, float *scratch);

#endif
