/*
 * base/cpu.h - what the CPU can do, probed once.
 *
 * cove_cpu_get() probes on first use (thread-safe, pthread_once) and returns
 * the same read-only record ever after; it is the one piece of global state
 * besides the log sink. Kernel tables pick their SIMD paths from it.
 *
 * A feature is reported only when both the CPU and the OS support it: on
 * x86-64 the AVX and AVX-512 flags also need the OS to save the wider
 * registers (XCR0, read with xgetbv).
 *
 * Masking: the environment variable COVE_CPU_DISABLE, read once at the first
 * probe, is a comma-separated list of feature names (as cove_cpu_describe
 * prints them) to treat as absent, e.g. "avx512,avx2". "avx512" names every
 * avx512* feature and "all" names every feature. Turning a feature off also
 * turns off the features built on it (avx2 off -> fma, f16c stay, but avx512*
 * and avx_vnni go), so a kernel picker that tries the highest path first
 * falls back cleanly. Unknown names are ignored with a warning in the log.
 */
#ifndef COVE_BASE_CPU_H
#define COVE_BASE_CPU_H

#include <stdbool.h>
#include <stddef.h>

#include "cove/status.h"

typedef struct cove_cpu_features {
    const char *arch; /* "x86_64", "aarch64" or "other" (static string) */

    /* x86-64 */
    bool sse3, ssse3, avx, avx2, fma, f16c;
    bool avx512f, avx512bw, avx512vl, avx512dq, avx512_vnni, avx512_bf16, avx512_vbmi, avx512_bitalg;
    bool avx_vnni, gfni;

    /* aarch64 */
    bool neon, dotprod, fp16, i8mm, sve;

    int n_cpus;        /* online CPUs (at least 1) */
    int n_cpus_usable; /* CPUs this process may run on (affinity mask), at least 1 */
    size_t l1d_bytes;  /* per-core L1 data cache; 0 when unknown */
    size_t l2_bytes;   /* 0 when unknown */
    size_t l3_bytes;   /* 0 when unknown */
} cove_cpu_features;

/*
 * The probed features of this machine, masked by COVE_CPU_DISABLE. Never
 * NULL; the record is static (do not free or modify it).
 */
const cove_cpu_features *cove_cpu_get(void);

/*
 * Probe the hardware into *out, masking the features named in `disable`
 * (same syntax as COVE_CPU_DISABLE; NULL or "" masks nothing). This is what
 * cove_cpu_get runs once; tests call it to try masks without the environment.
 */
void cove_cpu_probe(cove_cpu_features *out, const char *disable);

/*
 * Write a one-line description of this machine (cove_cpu_get()) into buf:
 * the architecture, then the present features, then key=value facts:
 *     "x86_64 sse3 ssse3 avx avx2 fma f16c cpus=16 usable=16 l1d=48K l2=2M l3=32M"
 * The result is always NUL-terminated when n > 0. Returns COVE_ERR_LIMIT when
 * it had to be truncated, COVE_ERR_INVALID_ARG when buf is NULL or n is 0.
 */
cove_status cove_cpu_describe(char *buf, size_t n);

/* As cove_cpu_describe, for the record f (e.g. one filled by cove_cpu_probe). */
cove_status cove_cpu_describe_features(const cove_cpu_features *f, char *buf, size_t n);

#endif
