/*
 * engine/gguf/types.c - the table of ggml tensor types: name, block size and
 * bytes per block, for every number the format has used, kernels or not.
 */
#include <strings.h>

#include "engine/gguf/gguf.h"

#define QK_K 256 /* elements in a k-quant super-block */

/* Indexed by enum cove_ggml_type; a NULL name marks a number no longer used. */
static const cove_type_info type_table[COVE_TYPE_COUNT] = {
    [COVE_TYPE_F32] = {"f32", 1, 4},
    [COVE_TYPE_F16] = {"f16", 1, 2},
    [COVE_TYPE_Q4_0] = {"q4_0", 32, 2 + 16},
    [COVE_TYPE_Q4_1] = {"q4_1", 32, 2 + 2 + 16},
    [COVE_TYPE_Q5_0] = {"q5_0", 32, 2 + 4 + 16},
    [COVE_TYPE_Q5_1] = {"q5_1", 32, 2 + 2 + 4 + 16},
    [COVE_TYPE_Q8_0] = {"q8_0", 32, 2 + 32},
    [COVE_TYPE_Q8_1] = {"q8_1", 32, 2 + 2 + 32},
    [COVE_TYPE_Q2_K] = {"q2_k", QK_K, QK_K / 16 + QK_K / 4 + 2 + 2},
    [COVE_TYPE_Q3_K] = {"q3_k", QK_K, QK_K / 8 + QK_K / 4 + 12 + 2},
    [COVE_TYPE_Q4_K] = {"q4_k", QK_K, 2 + 2 + 12 + QK_K / 2},
    [COVE_TYPE_Q5_K] = {"q5_k", QK_K, 2 + 2 + 12 + QK_K / 8 + QK_K / 2},
    [COVE_TYPE_Q6_K] = {"q6_k", QK_K, QK_K / 2 + QK_K / 4 + QK_K / 16 + 2},
    [COVE_TYPE_Q8_K] = {"q8_k", QK_K, 4 + QK_K + QK_K / 16 * 2},
    [COVE_TYPE_IQ2_XXS] = {"iq2_xxs", QK_K, 2 + QK_K / 8 * 2},
    [COVE_TYPE_IQ2_XS] = {"iq2_xs", QK_K, 2 + QK_K / 8 * 2 + QK_K / 32},
    [COVE_TYPE_IQ3_XXS] = {"iq3_xxs", QK_K, 2 + 3 * (QK_K / 8)},
    [COVE_TYPE_IQ1_S] = {"iq1_s", QK_K, 2 + QK_K / 8 + QK_K / 16},
    [COVE_TYPE_IQ4_NL] = {"iq4_nl", 32, 2 + 16},
    [COVE_TYPE_IQ3_S] = {"iq3_s", QK_K, 2 + QK_K / 4 + QK_K / 32 + QK_K / 8 + QK_K / 64},
    [COVE_TYPE_IQ2_S] = {"iq2_s", QK_K, 2 + QK_K / 4 + QK_K / 16},
    [COVE_TYPE_IQ4_XS] = {"iq4_xs", QK_K, 2 + 2 + QK_K / 64 + QK_K / 2},
    [COVE_TYPE_I8] = {"i8", 1, 1},
    [COVE_TYPE_I16] = {"i16", 1, 2},
    [COVE_TYPE_I32] = {"i32", 1, 4},
    [COVE_TYPE_I64] = {"i64", 1, 8},
    [COVE_TYPE_F64] = {"f64", 1, 8},
    [COVE_TYPE_IQ1_M] = {"iq1_m", QK_K, QK_K / 8 + QK_K / 16 + QK_K / 32},
    [COVE_TYPE_BF16] = {"bf16", 1, 2},
    [COVE_TYPE_TQ1_0] = {"tq1_0", QK_K, (QK_K - 4 * QK_K / 64) / 5 + QK_K / 64 + 2},
    [COVE_TYPE_TQ2_0] = {"tq2_0", QK_K, QK_K / 4 + 2},
    [COVE_TYPE_MXFP4] = {"mxfp4", 32, 1 + 16},
};

const cove_type_info *cove_type_info_get(uint32_t t)
{
    if (t >= COVE_TYPE_COUNT || !type_table[t].name)
        return NULL;
    return &type_table[t];
}

int cove_type_from_name(const char *name)
{
    if (!name)
        return -1;
    for (int t = 0; t < COVE_TYPE_COUNT; t++)
        if (type_table[t].name && strcasecmp(type_table[t].name, name) == 0)
            return t;
    return -1;
}
