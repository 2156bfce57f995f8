/*
 * engine/kernels/kernels.c - the kernel tables, half-precision conversions, matrix products.
 *
 * The tables are built once (pthread_once) on first use and read-only afterwards:
 *   - a cove_kernel per weight type at the best level and at the scalar level: F32, F16
 *     and BF16 take their conversions from k_<type>.c and their dot from the vector table;
 *     every type's `ops` is the quant table (quants.h) of the same level, whose
 *     dequantize/quantize give the conversions of the quantized types;
 *   - a cove_vec_ops per SIMD level this CPU has (k_avx2.c, k_avx512.c over the scalar
 *     references).
 */
#include "engine/kernels/kernels.h"

#include <pthread.h>
#include <string.h>

#include "base/cpu.h"
#include "engine/gguf/gguf.h"
#include "engine/kernels/kernels_int.h"

static cove_kernel best_table[COVE_TYPE_COUNT], ref_table[COVE_TYPE_COUNT];
static cove_kernel packed_table[COVE_TYPE_COUNT]; /* name NULL: no packed rows for the type */
static cove_vec_ops vec_levels[COVE_KLEVEL_COUNT];
static int vec_ok[COVE_KLEVEL_COUNT];
static enum cove_klevel vec_best = COVE_KLEVEL_SCALAR;
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void vec_init(void)
{
    const cove_cpu_features *f = cove_cpu_get();
    cove_vec_ops *s = &vec_levels[COVE_KLEVEL_SCALAR];
    *s = (cove_vec_ops){COVE_KLEVEL_SCALAR, cove_k_dot_f32_ref, cove_k_dot_f16_ref,
                        cove_k_dot_bf16_ref, cove_k_axpy_f32_ref, cove_k_f16_to_f32_ref,
                        cove_k_f32_to_f16_ref, cove_k_gemm_nn_ref, cove_k_gemm_tn_ref,
                        cove_k_softmax_cols_ref, cove_k_exp_sum_ref, cove_k_glu_ref,
                        cove_k_f16_rows_to_f32_ref, cove_k_dot_f16_rows_ref,
                        cove_k_sum_f16_rows_ref};
    vec_ok[COVE_KLEVEL_SCALAR] = 1;
#if defined(__x86_64__)
    if (!(f->avx2 && f->fma && f->f16c))
        return;
    vec_levels[COVE_KLEVEL_AVX2] = *s;
    cove_k_avx2_fill(&vec_levels[COVE_KLEVEL_AVX2]);
    vec_ok[COVE_KLEVEL_AVX2] = vec_levels[COVE_KLEVEL_AVX2].level == COVE_KLEVEL_AVX2;
    vec_best = vec_ok[COVE_KLEVEL_AVX2] ? COVE_KLEVEL_AVX2 : vec_best;
    if (!(vec_ok[COVE_KLEVEL_AVX2] && f->avx512f && f->avx512bw && f->avx512vl))
        return;
    vec_levels[COVE_KLEVEL_AVX512] = vec_levels[COVE_KLEVEL_AVX2];
    cove_k_avx512_fill(&vec_levels[COVE_KLEVEL_AVX512]);
    vec_ok[COVE_KLEVEL_AVX512] = vec_levels[COVE_KLEVEL_AVX512].level == COVE_KLEVEL_AVX512;
    vec_best = vec_ok[COVE_KLEVEL_AVX512] ? COVE_KLEVEL_AVX512 : vec_best;
#else
    (void)f;
#endif
}

/* The f32 row dot of the best vector level, in the shape of cove_vec_dot_fn. */
static float f32_dot_best(const void *row, const float *x, int64_t n)
{
    return vec_levels[vec_best].dot_f32(row, x, n);
}

/* The entry for type t from the quant table `ops` and the vector table `v` (NULL: scalar). */
static void kernel_fill(cove_kernel *k, enum cove_ggml_type t, const cove_quant_ops *ops,
                        const cove_vec_ops *v)
{
    static const cove_kernel *const plain[] = {&cove_kernel_f32, &cove_kernel_f16,
                                               &cove_kernel_bf16};
    const cove_type_info *ti = cove_type_info_get(t);
    if (!ops || !ops->vec_dot || !ti)
        return;
    *k = (cove_kernel){t, ti->name, ti->block_size, ti->block_bytes, NULL, ops->dequantize_row,
                       ops->quantize_row, ops};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        if (plain[i]->type != (uint32_t)t)
            continue;
        k->to_f32 = plain[i]->to_f32;
        k->from_f32 = plain[i]->from_f32;
        if (v && t == COVE_TYPE_F16) { /* F16C conversions: exact, as the references */
            k->to_f32 = v->f16_to_f32;
            k->from_f32 = v->f32_to_f16;
        }
        k->dot = !v ? plain[i]->dot
                 : t == COVE_TYPE_F32 ? f32_dot_best : t == COVE_TYPE_F16 ? v->dot_f16 : v->dot_bf16;
    }
}

/* Row conversions of packed rows, one per packable type (the shape of cove_to_f32_fn). */
#define PACKED_TO_F32(name, T)                                                                  \
    static void name(const void *row, float *y, int64_t n)                                      \
    {                                                                                           \
        cove_quant_packed_to_f32(T, row, y, n);                                                 \
    }
PACKED_TO_F32(packed_q4_0, COVE_TYPE_Q4_0)
PACKED_TO_F32(packed_q4_1, COVE_TYPE_Q4_1)
PACKED_TO_F32(packed_q5_0, COVE_TYPE_Q5_0)
PACKED_TO_F32(packed_q5_1, COVE_TYPE_Q5_1)
PACKED_TO_F32(packed_q8_0, COVE_TYPE_Q8_0)
PACKED_TO_F32(packed_q4_K, COVE_TYPE_Q4_K)
PACKED_TO_F32(packed_q6_K, COVE_TYPE_Q6_K)

static void packed_fill(void)
{
    static const struct {
        enum cove_ggml_type t;
        cove_to_f32_fn to_f32;
    } conv[] = {{COVE_TYPE_Q4_0, packed_q4_0}, {COVE_TYPE_Q4_1, packed_q4_1}, {COVE_TYPE_Q5_0, packed_q5_0},
                {COVE_TYPE_Q5_1, packed_q5_1}, {COVE_TYPE_Q8_0, packed_q8_0},
                {COVE_TYPE_Q4_K, packed_q4_K}, {COVE_TYPE_Q6_K, packed_q6_K}};
    for (size_t i = 0; i < sizeof conv / sizeof conv[0]; i++) {
        const cove_quant_ops *ops = cove_quant_ops_packed(conv[i].t);
        if (!ops || !best_table[conv[i].t].name)
            continue;
        packed_table[conv[i].t] = best_table[conv[i].t];
        packed_table[conv[i].t].ops = ops;
        packed_table[conv[i].t].to_f32 = conv[i].to_f32;
        packed_table[conv[i].t].from_f32 = NULL;
    }
}

static void tables_init(void)
{
    vec_init();
    for (int t = 0; t < COVE_TYPE_COUNT; t++) {
        kernel_fill(&best_table[t], (enum cove_ggml_type)t, cove_quant_ops_get(t),
                    &vec_levels[vec_best]);
        kernel_fill(&ref_table[t], (enum cove_ggml_type)t, cove_quant_ops_ref(t), NULL);
    }
    packed_fill();
}

const cove_kernel *cove_kernel_packed_for(uint32_t type)
{
    pthread_once(&tables_once, tables_init);
    return type < COVE_TYPE_COUNT && packed_table[type].name ? &packed_table[type] : NULL;
}

const cove_kernel *cove_kernel_for(uint32_t type)
{
    pthread_once(&tables_once, tables_init);
    return type < COVE_TYPE_COUNT && best_table[type].name ? &best_table[type] : NULL;
}

const cove_kernel *cove_kernel_ref_for(uint32_t type)
{
    pthread_once(&tables_once, tables_init);
    return type < COVE_TYPE_COUNT && ref_table[type].name ? &ref_table[type] : NULL;
}

size_t cove_kernel_row_bytes(const cove_kernel *k, int64_t n)
{
    return (size_t)(n / k->block_size) * k->block_bytes;
}

const cove_vec_ops *cove_vec_ops_get(void)
{
    pthread_once(&tables_once, tables_init);
    return &vec_levels[vec_best];
}

const cove_vec_ops *cove_vec_ops_for_level(enum cove_klevel level)
{
    pthread_once(&tables_once, tables_init);
    return (unsigned)level < COVE_KLEVEL_COUNT && vec_ok[level] ? &vec_levels[level] : NULL;
}

float cove_dot_f32(const float *a, const float *b, int64_t n)
{
    return cove_vec_ops_get()->dot_f32(a, b, n);
}

/* ---- matrix products ---- */

enum cove_ggml_type cove_matmul_act_type(const cove_matrix *w)
{
    return w->k->ops->vec_dot_type;
}

size_t cove_matmul_scratch_bytes(const cove_matrix *w, int64_t n_tok)
{
    const cove_quant_ops *ops = w->k->ops;
    if (ops->vec_dot_type == COVE_TYPE_F32)
        return 0;
    return cove_quant_row_bytes(ops->vec_dot_type, w->n_cols) * (size_t)n_tok;
}

const void *cove_matmul_quantize(const cove_matrix *w, const float *x, int64_t t0, int64_t t1,
                                 void *scratch)
{
    const cove_quant_ops *ops = w->k->ops;
    if (ops->vec_dot_type == COVE_TYPE_F32)
        return x;
    size_t xrb = cove_quant_row_bytes(ops->vec_dot_type, w->n_cols);
    if (t1 > t0) /* cannot fail: the model checked the type and the row length at load */
        (void)cove_quant_gemm_prepare(ops, x + t0 * w->n_cols, (int)(t1 - t0), (int)w->n_cols,
                                      (uint8_t *)scratch + (size_t)t0 * xrb);
    return scratch;
}

void cove_matmul_rows(const cove_matrix *w, const void *xq, int64_t n_tok, float *y, size_t ldy,
                      int64_t r0, int64_t r1)
{
    if (r1 <= r0 || n_tok < 1)
        return;
    (void)cove_quant_gemm_run(w->k->ops, w->data, w->row_bytes, (int)w->n_rows, xq, (int)n_tok,
                              (int)w->n_cols, y, ldy, (int)r0, (int)r1);
}

void cove_matmul(const cove_matrix *w, const float *x, int64_t n_tok, float *y, void *scratch)
{
    const void *xq = cove_matmul_quantize(w, x, 0, n_tok, scratch);
    cove_matmul_rows(w, xq, n_tok, y, (size_t)w->n_rows, 0, w->n_rows);
}

/* ---- half precision ---- */

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float cove_f16_to_f32(uint16_t h)
{
    return cove_f16_to_f32_inline(h);
}

/* Shift `m` right by `s` (1..31) rounding to nearest, ties to even. */
static uint32_t shift_rne(uint32_t m, uint32_t s)
{
    uint32_t q = m >> s;
    uint32_t rem = m & ((1u << s) - 1u);
    uint32_t half = 1u << (s - 1u);
    if (rem > half || (rem == half && (q & 1u)))
        q++;
    return q;
}

uint16_t cove_f32_to_f16(float f)
{
    uint32_t x = f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u)                              /* NaN: keep it quiet and non-zero */
        return (uint16_t)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
    if (ax >= 0x477ff000u)                             /* >= 65520 rounds to infinity */
        return (uint16_t)(sign | 0x7c00u);
    uint32_t e = ax >> 23;
    if (ax >= 0x38800000u) {                           /* normal half */
        uint32_t h = ((e - 112u) << 10) | ((ax & 0x7fffffu) >> 13);
        uint32_t rem = ax & 0x1fffu;
        if (rem > 0x1000u || (rem == 0x1000u && (h & 1u)))
            h++;                                       /* a carry moves into the exponent */
        return (uint16_t)(sign | h);
    }
    if (e < 101u)                                      /* below half of 2^-24 (or f32 subnormal) */
        return sign;
    uint32_t mant = (ax & 0x7fffffu) | 0x800000u;      /* value = mant * 2^(e-150) */
    return (uint16_t)(sign | shift_rne(mant, 126u - e)); /* in units of 2^-24 */
}

float cove_bf16_to_f32(uint16_t h)
{
    return bits_f32((uint32_t)h << 16);
}

uint16_t cove_f32_to_bf16(float f)
{
    uint32_t x = f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((x >> 16) | 0x40u);
    return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}
