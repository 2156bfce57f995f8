/*
 * tests/fuzz/fuzz.h - what the libFuzzer targets share: the property check and where the
 * fixture models are.
 */
#ifndef COVE_TESTS_FUZZ_H
#define COVE_TESTS_FUZZ_H

#include <stdio.h>
#include <stdlib.h>

/* A violated property: a trap, which libFuzzer reports as a crash (with the input). */
#define CHECK_FZ(cond)                                                                  \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond);                  \
            __builtin_trap();                                                           \
        }                                                                               \
    } while (0)

#ifdef COVE_SOURCE_DIR /* targets that read fixture models */
/* The fixture models: $COVE_TEST_MODELS, else ../shared/models beside the source tree. */
static inline const char *fuzz_models_dir(void)
{
    const char *env = getenv("COVE_TEST_MODELS");
    return env && *env ? env : COVE_SOURCE_DIR "/../shared/models";
}
#endif

#endif
