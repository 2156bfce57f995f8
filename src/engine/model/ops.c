/*
 * engine/model/ops.c - transformer operations (elementwise, norms, RoPE).
 */
#include "engine/model/ops.h"

#include <math.h>
#include <string.h>

void cove_op_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps)
{
    const float scale = 1.0f / sqrtf(cove_dot_f32(x, x, n) / (float)n + eps);
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

void cove_op_glu(float *gate, const float *up, int64_t n, enum cove_ffn_act act)
{
    if (act == COVE_ACT_SILU) {
        cove_op_swiglu(gate, up, n);
        return;
    }
    const float c = 0.7978845608028654f; /* sqrt(2 / pi) */
    for (int64_t i = 0; i < n; i++) {
        float g = gate[i];
        gate[i] = 0.5f * g * (1.0f + tanhf(c * (g + 0.044715f * g * g * g))) * up[i];
    }
}

void cove_op_softcap(float *x, int64_t n, float cap)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = cap * tanhf(x[i] / cap);
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

/* YaRN: the pair whose wavelength turns n_rot_beta times over the original context. */
static double yarn_corr_dim(int32_t n_rot, int32_t n_ctx_orig, double beta, double base)
{
    return n_rot * log(n_ctx_orig / (beta * 2.0 * M_PI)) / (2.0 * log(base));
}

void cove_op_rope_init(cove_rope *r, const cove_hparams *hp, double base, const float *factors,
                       int scaled)
{
    const int32_t n = hp->n_rot;
    for (int32_t i = 0; i < n / 2; i++)
        r->inv_freq[i] = pow(base, -2.0 * i / n) / (factors ? (double)factors[i] : 1.0);
    r->freq_scale = 1.0;
    r->yarn = 0;
    r->mscale = 1.0f;
    r->yarn_lo = r->yarn_hi = 0.0;
    if (!scaled || hp->rope_scaling == COVE_ROPE_SCALING_NONE)
        return;
    r->freq_scale = 1.0 / hp->rope_factor;
    if (hp->rope_scaling != COVE_ROPE_SCALING_YARN)
        return;
    /* YaRN (Peng et al. 2023) with beta_fast 32, beta_slow 1 and attention factor 1 */
    r->yarn = 1;
    r->yarn_lo = fmax(0.0, floor(yarn_corr_dim(n, hp->rope_orig_ctx, 32.0, base)));
    r->yarn_hi = fmin(n - 1.0, ceil(yarn_corr_dim(n, hp->rope_orig_ctx, 1.0, base)));
    r->mscale = (float)(1.0 + 0.1 * log(1.0 / r->freq_scale));
}

void cove_op_rope_table(const cove_rope *r, int32_t n_rot, int32_t pos, float *cs)
{
    for (int32_t i = 0; i < n_rot / 2; i++) {
        double extrap = (double)pos * r->inv_freq[i], a = extrap * r->freq_scale;
        if (r->yarn) {
            double y = (i - r->yarn_lo) / fmax(0.001, r->yarn_hi - r->yarn_lo);
            double ramp = 1.0 - fmin(1.0, fmax(0.0, y)); /* 1: extrapolate, 0: interpolate */
            a = a * (1.0 - ramp) + extrap * ramp;
        }
        cs[2 * i] = (float)cos(a) * r->mscale;
        cs[2 * i + 1] = (float)sin(a) * r->mscale;
    }
}

void cove_op_rope(float *v, int32_t n_heads, int32_t head_dim, int32_t n_rot, const float *cs,
                  enum cove_rope_type type)
{
    const int32_t half = n_rot / 2, stride = type == COVE_ROPE_NEOX ? 1 : 2;
    const int32_t other = type == COVE_ROPE_NEOX ? half : 1;
    for (int32_t h = 0; h < n_heads; h++) {
        float *x = v + (int64_t)h * head_dim;
        for (int32_t i = 0; i < half; i++) {
            float c = cs[2 * i], s = cs[2 * i + 1];
            float *p = x + i * stride;
            float x0 = p[0], x1 = p[other];
            p[0] = x0 * c - x1 * s;
            p[other] = x0 * s + x1 * c;
        }
    }
}
