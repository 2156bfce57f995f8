/*
 * engine/model/ops.c - transformer operations (scalar reference versions).
 */
#include "engine/model/ops.h"

#include <math.h>
#include <string.h>

void cove_op_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps)
{
    float ss = 0.0f;
    for (int64_t i = 0; i < n; i++)
        ss += x[i] * x[i];
    float scale = 1.0f / sqrtf(ss / (float)n + eps);
    for (int64_t i = 0; i < n; i++)
        out[i] = x[i] * scale * w[i];
}

void cove_op_add(float *x, const float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        x[i] += y[i];
}

void cove_op_swiglu(float *gate, const float *up, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        float g = gate[i];
        gate[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

void cove_op_softmax(float *x, int64_t n)
{
    float max = x[0];
    for (int64_t i = 1; i < n; i++)
        if (x[i] > max)
            max = x[i];
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    float inv = 1.0f / sum;
    for (int64_t i = 0; i < n; i++)
        x[i] *= inv;
}

void cove_op_rope_table(const double *inv_freq, int32_t n_rot, int32_t pos, float *cs)
{
    for (int32_t i = 0; i < n_rot / 2; i++) {
        double a = (double)pos * inv_freq[i];
        cs[2 * i] = (float)cos(a);
        cs[2 * i + 1] = (float)sin(a);
    }
}

void cove_op_rope(float *v, int32_t n_heads, int32_t head_dim, int32_t n_rot, const float *cs)
{
    for (int32_t h = 0; h < n_heads; h++) {
        float *x = v + (int64_t)h * head_dim;
        for (int32_t i = 0; i < n_rot / 2; i++) {
            float c = cs[2 * i], s = cs[2 * i + 1];
            float x0 = x[2 * i], x1 = x[2 * i + 1];
            x[2 * i] = x0 * c - x1 * s;
            x[2 * i + 1] = x0 * s + x1 * c;
        }
    }
}

static size_t cache_offset(const cove_context *ctx, int32_t layer, int32_t pos)
{
    return ((size_t)layer * (size_t)ctx->n_ctx + (size_t)pos) * ctx->kv_row_bytes;
}

void cove_op_kv_store(cove_context *ctx, int32_t layer, int32_t pos, const float *k, const float *v)
{
    const cove_hparams *hp = &ctx->m->hp;
    int64_t kv_dim = (int64_t)hp->n_head_kv * hp->head_dim;
    size_t off = cache_offset(ctx, layer, pos);
    ctx->kv->from_f32(k, ctx->k_cache + off, kv_dim);
    ctx->kv->from_f32(v, ctx->v_cache + off, kv_dim);
}

/* Element i of a cache row of f32 (f16 = 0) or f16 (f16 = 1) values. */
static inline float kv_at(const uint8_t *row, int32_t i, int f16)
{
    if (f16) {
        uint16_t h;
        memcpy(&h, row + 2 * (size_t)i, sizeof h);
        return cove_f16_to_f32_inline(h);
    }
    float f;
    memcpy(&f, row + 4 * (size_t)i, sizeof f);
    return f;
}

/*
 * One query head over positions 0..pos: scores, softmax, weighted sum of values. `f16`
 * is a constant at each call site, so the loops are specialised for the cache type.
 */
static inline void attend_head(const cove_context *ctx, const uint8_t *kc, const uint8_t *vc,
                               const float *qh, int32_t pos, float *oh, int f16)
{
    const int32_t hd = ctx->m->hp.head_dim;
    const float scale = 1.0f / sqrtf((float)hd);
    float *sc = ctx->scores;
    for (int32_t s = 0; s <= pos; s++) {
        const uint8_t *k = kc + (size_t)s * ctx->kv_row_bytes;
        float d = 0.0f;
        for (int32_t i = 0; i < hd; i++)
            d += qh[i] * kv_at(k, i, f16);
        sc[s] = d * scale;
    }
    cove_op_softmax(sc, (int64_t)pos + 1);
    memset(oh, 0, (size_t)hd * sizeof *oh);
    for (int32_t s = 0; s <= pos; s++) {
        const uint8_t *v = vc + (size_t)s * ctx->kv_row_bytes;
        for (int32_t i = 0; i < hd; i++)
            oh[i] += sc[s] * kv_at(v, i, f16);
    }
}

void cove_op_attention(cove_context *ctx, int32_t layer, const float *q, int32_t pos, float *out)
{
    const cove_hparams *hp = &ctx->m->hp;
    const int32_t hd = hp->head_dim, group = hp->n_head / hp->n_head_kv;
    const size_t head_bytes = cove_kernel_row_bytes(ctx->kv, hd);
    const uint8_t *kc = ctx->k_cache + cache_offset(ctx, layer, 0);
    const uint8_t *vc = ctx->v_cache + cache_offset(ctx, layer, 0);
    const int f16 = ctx->p.kv_type == COVE_KV_F16;
    for (int32_t h = 0; h < hp->n_head; h++) {
        const size_t off = (size_t)(h / group) * head_bytes;
        const float *qh = q + (int64_t)h * hd;
        float *oh = out + (int64_t)h * hd;
        if (f16)
            attend_head(ctx, kc + off, vc + off, qh, pos, oh, 1);
        else
            attend_head(ctx, kc + off, vc + off, qh, pos, oh, 0);
    }
}
