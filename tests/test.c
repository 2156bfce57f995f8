#include "test.h"

#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef COVE_SOURCE_DIR
#define COVE_SOURCE_DIR "."
#endif

#define MAX_CASES 4096

static struct {
    const char *name;
    test_fn fn;
} cases[MAX_CASES];
static int n_cases;
static int current_failed;
static char tmpdir[256];

void test_register(const char *name, test_fn fn)
{
    if (n_cases >= MAX_CASES) {
        fprintf(stderr, "too many test cases\n");
        abort();
    }
    cases[n_cases].name = name;
    cases[n_cases].fn = fn;
    n_cases++;
}

void test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "  %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    current_failed = 1;
}

int test_failed_now(void)
{
    return current_failed;
}

const char *test_models_dir(void)
{
    const char *env = getenv("COVE_TEST_MODELS");
    if (env && *env)
        return env;
    return COVE_SOURCE_DIR "/../shared/models";
}

const char *test_model_path(const char *name)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", test_models_dir(), name);
    return path;
}

static void remove_tmpdir(void)
{
    if (tmpdir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmpdir);
    }
}

const char *test_tmpdir(void)
{
    if (!tmpdir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(tmpdir, sizeof tmpdir, "%s/cove-test-XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(tmpdir)) {
            perror("mkdtemp");
            abort();
        }
        atexit(remove_tmpdir);
    }
    return tmpdir;
}

static int selected(const char *name, int argc, char **argv)
{
    if (argc < 2)
        return 1;
    for (int i = 1; i < argc; i++)
        if (strncmp(name, argv[i], strlen(argv[i])) == 0)
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (int i = 0; i < n_cases; i++)
            printf("%s\n", cases[i].name);
        return 0;
    }
    int passed = 0, failed = 0;
    for (int i = 0; i < n_cases; i++) {
        if (!selected(cases[i].name, argc, argv))
            continue;
        current_failed = 0;
        fprintf(stderr, "[ RUN  ] %s\n", cases[i].name);
        cases[i].fn();
        if (current_failed) {
            fprintf(stderr, "[ FAIL ] %s\n", cases[i].name);
            failed++;
        } else {
            fprintf(stderr, "[  OK  ] %s\n", cases[i].name);
            passed++;
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    if (passed + failed == 0) {
        fprintf(stderr, "no test matched\n");
        return 1;
    }
    return failed ? 1 : 0;
}
