/*
 * engine/kernels/kernels_int.h - the table entries, one file per type (private).
 */
#ifndef COVE_ENGINE_KERNELS_INT_H
#define COVE_ENGINE_KERNELS_INT_H

#include "engine/kernels/kernels.h"

extern const cove_kernel cove_kernel_f32;  /* k_f32.c */
extern const cove_kernel cove_kernel_f16;  /* k_f16.c */
extern const cove_kernel cove_kernel_bf16; /* k_bf16.c */

#endif
