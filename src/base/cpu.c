#include "base/cpu.h"

#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/limits.h"
#include "base/log.h"
#include "base/str.h"

#if defined(__x86_64__)
#include <cpuid.h>
#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif

/*
 * The feature table: the name cove_cpu_describe prints and COVE_CPU_DISABLE
 * accepts, where the flag lives, and the features it is built on (masking
 * a parent masks the child). Parents come before their children, so one pass
 * in table order propagates a mask.
 */
enum {
    F_SSE3, F_SSSE3, F_AVX, F_AVX2, F_FMA, F_F16C, F_AVX512F, F_AVX512BW, F_AVX512VL,
    F_AVX512DQ, F_AVX512_VNNI, F_AVX512_BF16, F_AVX512_VBMI, F_AVX512_BITALG, F_AVX_VNNI, F_GFNI,
    F_NEON, F_DOTPROD, F_FP16, F_I8MM, F_SVE, F_COUNT
};

#define NONE (-1)

static const struct feature {
    const char *name;
    size_t offset;
    int parent[2];
} features[F_COUNT] = {
    [F_SSE3] = {"sse3", offsetof(cove_cpu_features, sse3), {NONE, NONE}},
    [F_SSSE3] = {"ssse3", offsetof(cove_cpu_features, ssse3), {F_SSE3, NONE}},
    [F_AVX] = {"avx", offsetof(cove_cpu_features, avx), {F_SSSE3, NONE}},
    [F_AVX2] = {"avx2", offsetof(cove_cpu_features, avx2), {F_AVX, NONE}},
    [F_FMA] = {"fma", offsetof(cove_cpu_features, fma), {F_AVX, NONE}},
    [F_F16C] = {"f16c", offsetof(cove_cpu_features, f16c), {F_AVX, NONE}},
    [F_AVX512F] = {"avx512f", offsetof(cove_cpu_features, avx512f), {F_AVX2, F_FMA}},
    [F_AVX512BW] = {"avx512bw", offsetof(cove_cpu_features, avx512bw), {F_AVX512F, NONE}},
    [F_AVX512VL] = {"avx512vl", offsetof(cove_cpu_features, avx512vl), {F_AVX512F, NONE}},
    [F_AVX512DQ] = {"avx512dq", offsetof(cove_cpu_features, avx512dq), {F_AVX512F, NONE}},
    [F_AVX512_VNNI] = {"avx512_vnni", offsetof(cove_cpu_features, avx512_vnni), {F_AVX512F, NONE}},
    [F_AVX512_BF16] = {"avx512_bf16", offsetof(cove_cpu_features, avx512_bf16), {F_AVX512F, NONE}},
    [F_AVX512_VBMI] = {"avx512_vbmi", offsetof(cove_cpu_features, avx512_vbmi), {F_AVX512F, NONE}},
    [F_AVX512_BITALG] = {"avx512_bitalg", offsetof(cove_cpu_features, avx512_bitalg), {F_AVX512F, NONE}},
    [F_AVX_VNNI] = {"avx_vnni", offsetof(cove_cpu_features, avx_vnni), {F_AVX2, NONE}},
    [F_GFNI] = {"gfni", offsetof(cove_cpu_features, gfni), {F_SSSE3, NONE}},
    [F_NEON] = {"neon", offsetof(cove_cpu_features, neon), {NONE, NONE}},
    [F_DOTPROD] = {"dotprod", offsetof(cove_cpu_features, dotprod), {F_NEON, NONE}},
    [F_FP16] = {"fp16", offsetof(cove_cpu_features, fp16), {F_NEON, NONE}},
    [F_I8MM] = {"i8mm", offsetof(cove_cpu_features, i8mm), {F_NEON, NONE}},
    [F_SVE] = {"sve", offsetof(cove_cpu_features, sve), {F_NEON, NONE}},
};

static bool *flag(cove_cpu_features *f, int i)
{
    return (bool *)((char *)f + features[i].offset);
}

static bool flag_get(const cove_cpu_features *f, int i)
{
    return *(const bool *)((const char *)f + features[i].offset);
}

/* ---- hardware ---- */

#if defined(__x86_64__)
static uint64_t read_xcr0(void)
{
    uint32_t lo, hi;
    __asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

#define BIT(reg, n) ((((reg) >> (n)) & 1u) != 0)

static void probe_arch(cove_cpu_features *f)
{
    unsigned a, b, c, d;
    f->arch = "x86_64";
    unsigned max_leaf = __get_cpuid_max(0, NULL);
    if (max_leaf < 1)
        return;
    __cpuid(1, a, b, c, d);
    /* XCR0 bits: 1 SSE, 2 AVX (YMM upper halves), 5-7 AVX-512 (opmask, ZMM). */
    uint64_t xcr0 = BIT(c, 27) ? read_xcr0() : 0; /* 27: OSXSAVE */
    bool os_avx = (xcr0 & 0x6) == 0x6;
    bool os_avx512 = os_avx && (xcr0 & 0xE0) == 0xE0;
    f->sse3 = BIT(c, 0);
    f->ssse3 = BIT(c, 9);
    f->fma = os_avx && BIT(c, 12);
    f->avx = os_avx && BIT(c, 28);
    f->f16c = os_avx && BIT(c, 29);
    if (max_leaf < 7)
        return;
    __cpuid_count(7, 0, a, b, c, d);
    unsigned max_sub = a;
    f->avx2 = os_avx && BIT(b, 5);
    f->avx512f = os_avx512 && BIT(b, 16);
    f->avx512dq = os_avx512 && BIT(b, 17);
    f->avx512bw = os_avx512 && BIT(b, 30);
    f->avx512vl = os_avx512 && BIT(b, 31);
    f->avx512_vnni = os_avx512 && BIT(c, 11);
    f->avx512_vbmi = os_avx512 && BIT(c, 1);
    f->avx512_bitalg = os_avx512 && BIT(c, 12);
    f->gfni = BIT(c, 8) && f->ssse3;
    if (max_sub < 1)
        return;
    __cpuid_count(7, 1, a, b, c, d);
    f->avx_vnni = os_avx && BIT(a, 4);
    f->avx512_bf16 = os_avx512 && BIT(a, 5);
}
#elif defined(__aarch64__) && defined(__linux__)
/* Bit values from the Linux arm64 uapi <asm/hwcap.h>, for older headers. */
#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1ul << 1)
#endif
#ifndef HWCAP_ASIMDHP
#define HWCAP_ASIMDHP (1ul << 10)
#endif
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1ul << 20)
#endif
#ifndef HWCAP_SVE
#define HWCAP_SVE (1ul << 22)
#endif
#ifndef HWCAP2_I8MM
#define HWCAP2_I8MM (1ul << 13)
#endif

static void probe_arch(cove_cpu_features *f)
{
    unsigned long hw = getauxval(AT_HWCAP), hw2 = getauxval(AT_HWCAP2);
    f->arch = "aarch64";
    f->neon = (hw & HWCAP_ASIMD) != 0;
    f->fp16 = (hw & HWCAP_ASIMDHP) != 0;
    f->dotprod = (hw & HWCAP_ASIMDDP) != 0;
    f->sve = (hw & HWCAP_SVE) != 0;
    f->i8mm = (hw2 & HWCAP2_I8MM) != 0;
}
#elif defined(__aarch64__)
static void probe_arch(cove_cpu_features *f)
{
    f->arch = "aarch64";
    f->neon = true; /* Advanced SIMD is mandatory in ARMv8-A */
}
#else
static void probe_arch(cove_cpu_features *f)
{
    f->arch = "other";
}
#endif

/* ---- CPU counts and caches ---- */

static void probe_counts(cove_cpu_features *f)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    f->n_cpus = n > 0 ? (int)n : 1;
    f->n_cpus_usable = f->n_cpus;
#if defined(__linux__)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        f->n_cpus_usable = CPU_COUNT(&set);
#endif
}

/* Read the first line of a small text file into buf (newline removed). 0 on success. */
static int read_small_file(const char *path, char *buf, size_t n)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return -1;
    char *line = fgets(buf, (int)n, fp);
    fclose(fp);
    if (!line)
        return -1;
    buf[strcspn(buf, "\n")] = '\0';
    return 0;
}

/* "48K", "2048K", "32M" or a plain byte count; 0 when unparseable. */
static size_t parse_cache_size(const char *s)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s)
        return 0;
    if (*end == 'K')
        v <<= 10;
    else if (*end == 'M')
        v <<= 20;
    else if (*end == 'G')
        v <<= 30;
    return v > SIZE_MAX ? 0 : (size_t)v;
}

/* Read cache index idx of cpu0 from sysfs; sets the size for its level when still unknown. */
static int probe_cache_index(cove_cpu_features *f, int idx)
{
    char path[128], level[COVE_MAX_SYSFS_VALUE], type[COVE_MAX_SYSFS_VALUE],
        size[COVE_MAX_SYSFS_VALUE];
    const char *dir = "/sys/devices/system/cpu/cpu0/cache/index";
    snprintf(path, sizeof path, "%s%d/level", dir, idx);
    if (read_small_file(path, level, sizeof level) != 0)
        return -1;
    snprintf(path, sizeof path, "%s%d/type", dir, idx);
    if (read_small_file(path, type, sizeof type) != 0)
        return 0;
    snprintf(path, sizeof path, "%s%d/size", dir, idx);
    if (read_small_file(path, size, sizeof size) != 0)
        return 0;
    size_t bytes = parse_cache_size(size);
    bool data = strcmp(type, "Instruction") != 0;
    if (strcmp(level, "1") == 0 && data && !f->l1d_bytes)
        f->l1d_bytes = bytes;
    else if (strcmp(level, "2") == 0 && !f->l2_bytes)
        f->l2_bytes = bytes;
    else if (strcmp(level, "3") == 0 && !f->l3_bytes)
        f->l3_bytes = bytes;
    return 0;
}

#if defined(_SC_LEVEL1_DCACHE_SIZE) && defined(_SC_LEVEL2_CACHE_SIZE) && defined(_SC_LEVEL3_CACHE_SIZE)
#define HAVE_SC_CACHE 1
static size_t sysconf_size(int name)
{
    long v = sysconf(name);
    return v > 0 ? (size_t)v : 0;
}
#endif

/*
 * Cache sizes from sysfs (the kernel's reading of the CPU), else from sysconf (glibc), which
 * can be far off in a virtual machine (seen: an L3 of 320 MiB for a 32 MiB one).
 */
static void probe_caches(cove_cpu_features *f)
{
    for (int i = 0; i < 16 && (!f->l1d_bytes || !f->l2_bytes || !f->l3_bytes); i++)
        if (probe_cache_index(f, i) != 0)
            break;
#if defined(HAVE_SC_CACHE)
    f->l1d_bytes = f->l1d_bytes ? f->l1d_bytes : sysconf_size(_SC_LEVEL1_DCACHE_SIZE);
    f->l2_bytes = f->l2_bytes ? f->l2_bytes : sysconf_size(_SC_LEVEL2_CACHE_SIZE);
    f->l3_bytes = f->l3_bytes ? f->l3_bytes : sysconf_size(_SC_LEVEL3_CACHE_SIZE);
#endif
}

/* ---- masking ---- */

/* Mask the features a name in COVE_CPU_DISABLE stands for; false when it names none. */
static bool mask_name(cove_cpu_features *f, const char *name, size_t len)
{
    bool all = len == 3 && cove_str_ncasecmp(name, "all", 3) == 0;
    bool group = len == 6 && cove_str_ncasecmp(name, "avx512", 6) == 0;
    bool hit = false;
    for (int i = 0; i < F_COUNT; i++) {
        const char *fn = features[i].name;
        bool match = all || (group && cove_str_starts_with(fn, "avx512")) ||
                     (strlen(fn) == len && cove_str_ncasecmp(fn, name, len) == 0);
        if (match) {
            *flag(f, i) = false;
            hit = true;
        }
    }
    return hit;
}

static void apply_mask(cove_cpu_features *f, const char *disable)
{
    const char *cur = disable, *field;
    size_t len;
    while (cur && cove_str_next_field(&cur, ',', &field, &len)) {
        while (len > 0 && (*field == ' ' || *field == '\t')) {
            field++;
            len--;
        }
        while (len > 0 && (field[len - 1] == ' ' || field[len - 1] == '\t'))
            len--;
        if (len > 0 && !mask_name(f, field, len))
            cove_log_warn("COVE_CPU_DISABLE: unknown feature \"%.*s\" ignored",
                          len > 64 ? 64 : (int)len, field);
    }
    for (int i = 0; i < F_COUNT; i++)
        for (int k = 0; k < 2; k++)
            if (features[i].parent[k] != NONE && !flag_get(f, features[i].parent[k]))
                *flag(f, i) = false;
}

void cove_cpu_probe(cove_cpu_features *out, const char *disable)
{
    memset(out, 0, sizeof *out);
    probe_arch(out);
    probe_counts(out);
    probe_caches(out);
    apply_mask(out, disable);
}

/* The probe record: global by design (see cpu.h), written once under pthread_once. */
static cove_cpu_features cpu_features;
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;

static void probe_once(void)
{
    cove_cpu_probe(&cpu_features, getenv("COVE_CPU_DISABLE"));
}

const cove_cpu_features *cove_cpu_get(void)
{
    pthread_once(&cpu_once, probe_once);
    return &cpu_features;
}

/* ---- description ---- */

struct text {
    char *buf;
    size_t n, len;
    bool truncated;
};

static void text_add(struct text *t, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void text_add(struct text *t, const char *fmt, ...)
{
    if (t->truncated)
        return;
    size_t room = t->n - t->len;
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(t->buf + t->len, room, fmt, ap);
    va_end(ap);
    if (r < 0 || (size_t)r >= room) {
        t->truncated = true;
        t->len = t->n - 1;
        t->buf[t->len] = '\0';
    } else {
        t->len += (size_t)r;
    }
}

static void text_add_size(struct text *t, const char *key, size_t bytes)
{
    if (bytes == 0)
        return;
    if (bytes % (1u << 20) == 0)
        text_add(t, " %s=%zuM", key, bytes >> 20);
    else if (bytes % 1024 == 0)
        text_add(t, " %s=%zuK", key, bytes >> 10);
    else
        text_add(t, " %s=%zu", key, bytes);
}

cove_status cove_cpu_describe_features(const cove_cpu_features *f, char *buf, size_t n)
{
    if (!buf || n == 0 || !f)
        return COVE_ERR_INVALID_ARG;
    struct text t = {buf, n, 0, false};
    buf[0] = '\0';
    text_add(&t, "%s", f->arch ? f->arch : "other");
    for (int i = 0; i < F_COUNT; i++)
        if (flag_get(f, i))
            text_add(&t, " %s", features[i].name);
    text_add(&t, " cpus=%d usable=%d", f->n_cpus, f->n_cpus_usable);
    text_add_size(&t, "l1d", f->l1d_bytes);
    text_add_size(&t, "l2", f->l2_bytes);
    text_add_size(&t, "l3", f->l3_bytes);
    return t.truncated ? COVE_ERR_LIMIT : COVE_OK;
}

cove_status cove_cpu_describe(char *buf, size_t n)
{
    return cove_cpu_describe_features(cove_cpu_get(), buf, n);
}
