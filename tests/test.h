/*
 * tests/test.h - the small harness behind every cove test binary.
 *
 * One binary per module; each test_*.c file adds cases with TEST(name), which
 * register themselves before main runs. `test_MODULE` runs every case;
 * `test_MODULE PREFIX...` runs the cases whose names start with a prefix;
 * `test_MODULE --list` prints the names. The binary ends with the line
 * "N passed, N failed" and exits 1 when any case failed.
 *
 * A failed CHECK ends the current case (it returns from the case function),
 * so a case must not leave resources that matter to later cases.
 */
#ifndef COVE_TEST_H
#define COVE_TEST_H

#include <stddef.h>
#include <stdio.h>
#include <string.h>

typedef void (*test_fn)(void);

void test_register(const char *name, test_fn fn);
void test_fail(const char *file, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
int test_failed_now(void); /* 1 when the running case has failed */

/* Directory of the test models: $COVE_TEST_MODELS or ../shared/models beside the repo. */
const char *test_models_dir(void);
/* Full path of a file in the models directory (static buffer; copy it if you keep it). */
const char *test_model_path(const char *name);
/* A fresh temporary directory for this binary (created on first use, removed at exit). */
const char *test_tmpdir(void);

#define TEST(name)                                                              \
    static void test_case_##name(void);                                         \
    __attribute__((constructor)) static void test_reg_##name(void)              \
    {                                                                           \
        test_register(#name, test_case_##name);                                 \
    }                                                                           \
    static void test_case_##name(void)

#define CHECK(cond)                                                             \
    do {                                                                        \
        if (!(cond)) {                                                          \
            test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);                  \
            return;                                                             \
        }                                                                       \
    } while (0)

#define CHECK_MSG(cond, ...)                                                    \
    do {                                                                        \
        if (!(cond)) {                                                          \
            test_fail(__FILE__, __LINE__, __VA_ARGS__);                         \
            return;                                                             \
        }                                                                       \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                      \
    do {                                                                        \
        long long a_ = (long long)(a), b_ = (long long)(b);                     \
        if (a_ != b_) {                                                         \
            test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, a_, b_); \
            return;                                                             \
        }                                                                       \
    } while (0)

#define CHECK_STR_EQ(a, b)                                                      \
    do {                                                                        \
        const char *a_ = (a), *b_ = (b);                                        \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                \
            test_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b, \
                      a_ ? a_ : "(null)", b_ ? b_ : "(null)");                  \
            return;                                                             \
        }                                                                       \
    } while (0)

/* CHECK that a cove call returned COVE_OK, printing the status otherwise. */
#define CHECK_OK(expr)                                                          \
    do {                                                                        \
        int st_ = (int)(expr);                                                  \
        if (st_ != 0) {                                                         \
            test_fail(__FILE__, __LINE__, "%s returned %d", #expr, st_);        \
            return;                                                             \
        }                                                                       \
    } while (0)

#endif
