/*
 * tests/sandbox/sb_test.h - shared helpers of the sandbox tests.
 */
#ifndef COVE_TESTS_SB_TEST_H
#define COVE_TESTS_SB_TEST_H

#include "sandbox/sandbox.h"

/* 1 when this kernel has Landlock; prints a note naming the skipped check otherwise. */
int sb_have_landlock(const char *what);

/* A default policy with short bounds for tests (timeout 10 s, CPU 5 s, output 1 MiB). */
struct cove_sandbox_policy sb_policy(void);

/* Create file dir/name holding text (dir must exist). Returns 0 on success. */
int sb_write_file(const char *dir, const char *name, const char *text);

/* "dir/name" into a static buffer (one of four, rotating). */
const char *sb_path(const char *dir, const char *name);

#endif
