#include <stdlib.h>
#include <string.h>

#include "base/cpu.h"
#include "base/log.h"
#include "test.h"

TEST(cpu_probe_basics)
{
    const cove_cpu_features *f = cove_cpu_get();
    CHECK(f != NULL);
    CHECK(f == cove_cpu_get()); /* probed once, same record */
    CHECK(f->arch != NULL);
    CHECK(f->n_cpus >= 1);
    CHECK(f->n_cpus_usable >= 1);
    char line[512];
    CHECK_OK(cove_cpu_describe(line, sizeof line));
    CHECK(strncmp(line, f->arch, strlen(f->arch)) == 0);
    CHECK(strstr(line, " cpus=") != NULL);
    printf("  cpu: %s\n", line);
#if defined(__x86_64__)
    CHECK_STR_EQ(f->arch, "x86_64");
    CHECK(!f->neon && !f->sve);
#elif defined(__aarch64__)
    CHECK_STR_EQ(f->arch, "aarch64");
    CHECK(!f->avx && !f->avx2);
#endif
}

/* What cove_cpu_get returns equals a fresh probe with the same environment. */
TEST(cpu_get_matches_probe)
{
    cove_cpu_features fresh;
    cove_cpu_probe(&fresh, getenv("COVE_CPU_DISABLE"));
    const cove_cpu_features *f = cove_cpu_get();
    char a[512], b[512];
    CHECK_OK(cove_cpu_describe_features(&fresh, a, sizeof a));
    CHECK_OK(cove_cpu_describe_features(f, b, sizeof b));
    CHECK_STR_EQ(a, b);
}

#if defined(__x86_64__)
/* The compiler's view of the build target is a floor for what the CPU has. */
TEST(cpu_x86_consistent_with_compiler)
{
    cove_cpu_features f;
    cove_cpu_probe(&f, NULL);
    CHECK(f.sse3 || !f.ssse3);
#if defined(__AVX2__)
    CHECK(f.avx2);
#endif
#if defined(__AVX__)
    CHECK(f.avx);
#endif
    /* Hierarchy holds on real hardware too. */
    if (f.avx512f)
        CHECK(f.avx2 && f.fma);
    if (f.avx512bw || f.avx512vl || f.avx512dq || f.avx512_vnni || f.avx512_bf16 || f.avx512_vbmi ||
        f.avx512_bitalg)
        CHECK(f.avx512f);
    if (f.avx2)
        CHECK(f.avx);
}
#endif

static int count_features(const cove_cpu_features *f)
{
    const bool *flags[] = {&f->sse3, &f->ssse3, &f->avx, &f->avx2, &f->fma, &f->f16c,
                           &f->avx512f, &f->avx512bw, &f->avx512vl, &f->avx512dq,
                           &f->avx512_vnni, &f->avx512_bf16, &f->avx512_vbmi, &f->avx512_bitalg,
                           &f->avx_vnni, &f->gfni, &f->neon,
                           &f->dotprod, &f->fp16, &f->i8mm, &f->sve};
    int n = 0;
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        n += *flags[i];
    return n;
}

TEST(cpu_disable_masks)
{
    cove_cpu_features full, m;
    cove_cpu_probe(&full, NULL);
    cove_cpu_probe(&m, "");
    CHECK_EQ_INT(count_features(&m), count_features(&full));

    cove_cpu_probe(&m, "all");
    CHECK_EQ_INT(count_features(&m), 0);
    CHECK_EQ_INT(m.n_cpus, full.n_cpus); /* counts are not features */

    cove_cpu_probe(&m, "avx512");
    CHECK(!m.avx512f && !m.avx512bw && !m.avx512vl && !m.avx512dq && !m.avx512_vnni &&
          !m.avx512_bf16 && !m.avx512_vbmi && !m.avx512_bitalg);
    CHECK_EQ_INT(m.avx2, full.avx2);
    CHECK_EQ_INT(m.avx_vnni, full.avx_vnni);

    /* avx2 off takes what is built on it, keeps its siblings. */
    FILE *logf = tmpfile();
    CHECK(logf != NULL);
    cove_log_setup(logf, COVE_LOG_WARN, COVE_LOG_PLAIN);
    cove_cpu_probe(&m, " AVX2 , bogus_feature");
    cove_log_setup(NULL, COVE_LOG_WARN, COVE_LOG_PLAIN);
    char msg[256] = "";
    rewind(logf);
    size_t got = fread(msg, 1, sizeof msg - 1, logf);
    msg[got] = '\0';
    fclose(logf);
    CHECK(strstr(msg, "unknown feature \"bogus_feature\"") != NULL);
    CHECK(!m.avx2 && !m.avx512f && !m.avx512bw && !m.avx_vnni);
    CHECK_EQ_INT(m.fma, full.fma);
    CHECK_EQ_INT(m.f16c, full.f16c);
    CHECK_EQ_INT(m.avx, full.avx);

    cove_cpu_probe(&m, "avx512bw,,neon");
    CHECK(!m.avx512bw && !m.neon && !m.dotprod && !m.i8mm && !m.sve && !m.fp16);
    CHECK_EQ_INT(m.avx512f, full.avx512f);
    CHECK_EQ_INT(m.avx512vl, full.avx512vl);

    cove_cpu_probe(&m, "sse3");
    CHECK(!m.sse3 && !m.ssse3 && !m.avx && !m.avx2 && !m.avx512f);

    char line[512];
    CHECK_OK(cove_cpu_describe_features(&m, line, sizeof line));
    CHECK(strstr(line, " avx") == NULL);
}

TEST(cpu_describe_truncation)
{
    cove_cpu_features f;
    cove_cpu_probe(&f, NULL);
    char full[512];
    CHECK_OK(cove_cpu_describe_features(&f, full, sizeof full));
    char small[8];
    memset(small, 'x', sizeof small);
    CHECK_EQ_INT(cove_cpu_describe_features(&f, small, sizeof small), COVE_ERR_LIMIT);
    CHECK_EQ_INT(strlen(small), sizeof small - 1);
    CHECK(strncmp(small, full, sizeof small - 1) == 0);
    CHECK_EQ_INT(cove_cpu_describe_features(&f, small, 0), COVE_ERR_INVALID_ARG);
    CHECK_EQ_INT(cove_cpu_describe(NULL, 10), COVE_ERR_INVALID_ARG);
    /* Exactly enough room. */
    size_t need = strlen(full) + 1;
    char exact[512];
    CHECK_OK(cove_cpu_describe_features(&f, exact, need));
    CHECK_STR_EQ(exact, full);
    CHECK_EQ_INT(cove_cpu_describe_features(&f, exact, need - 1), COVE_ERR_LIMIT);
}

TEST(cpu_describe_format)
{
    cove_cpu_features f;
    memset(&f, 0, sizeof f);
    f.arch = "x86_64";
    f.avx2 = f.fma = true;
    f.n_cpus = 8;
    f.n_cpus_usable = 4;
    f.l1d_bytes = 48 << 10;
    f.l2_bytes = 2 << 20;
    f.l3_bytes = 1000;
    char line[256];
    CHECK_OK(cove_cpu_describe_features(&f, line, sizeof line));
    CHECK_STR_EQ(line, "x86_64 avx2 fma cpus=8 usable=4 l1d=48K l2=2M l3=1000");
}
