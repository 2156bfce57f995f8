/*
 * fuzz_sandbox_path.c - libFuzzer target for the sandbox's path checks: any
 * bytes as a path below a root. cove_sandbox_path_normalize must either refuse
 * or produce a clean relative path (no "..", no ".", no empty component, no
 * leading slash, idempotent), and cove_sandbox_open_beneath must never return
 * a descriptor for something outside the root, with openat2 or with the walk,
 * following symlinks or not. The first input byte picks the mode; the rest is
 * the path. No process is started.
 *
 * The root is a fresh directory made at start-up with files, a subdirectory
 * and symlinks that point inside, outside (/etc, ..), at themselves (a loop)
 * and at /proc/self/root (a magic link).
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/sandbox.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char g_root[64];
static char g_real[PATH_MAX];
static int g_root_fd = -1;

static const char *const k_links[][2] = {
    {"up", ".."}, {"etc", "/etc"}, {"in", "a.txt"}, {"sub/back", "../a.txt"},
    {"sub/out", "../../.."}, {"loop", "loop"}, {"magic", "/proc/self/root"},
};

static void remove_root(void)
{
    for (size_t i = 0; i < sizeof k_links / sizeof k_links[0]; i++) {
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/%s", g_root, k_links[i][0]);
        unlink(p);
    }
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/sub/b.txt", g_root);
    unlink(p);
    snprintf(p, sizeof p, "%s/a.txt", g_root);
    unlink(p);
    snprintf(p, sizeof p, "%s/sub", g_root);
    rmdir(p);
    rmdir(g_root);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    snprintf(g_root, sizeof g_root, "/tmp/cove-fuzz-sandbox-XXXXXX");
    if (!mkdtemp(g_root) || !realpath(g_root, g_real))
        abort();
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/sub", g_root);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/a.txt", g_root);
    FILE *f = fopen(p, "w");
    if (f)
        fclose(f);
    snprintf(p, sizeof p, "%s/sub/b.txt", g_root);
    f = fopen(p, "w");
    if (f)
        fclose(f);
    for (size_t i = 0; i < sizeof k_links / sizeof k_links[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", g_root, k_links[i][0]);
        if (symlink(k_links[i][1], p) != 0)
            abort();
    }
    g_root_fd = open(g_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (g_root_fd < 0)
        abort();
    atexit(remove_root);
    return 0;
}

/* The invariants of a normalised path. */
static void check_clean(const char *norm)
{
    if (strcmp(norm, ".") == 0)
        return;
    if (norm[0] == '/' || norm[0] == '\0' || norm[strlen(norm) - 1] == '/' || strstr(norm, "//"))
        __builtin_trap();
    for (const char *c = norm; *c;) {
        size_t n = strcspn(c, "/");
        if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
            __builtin_trap();
        c += n + (c[n] == '/');
    }
    char again[COVE_MAX_PATH];
    if (cove_sandbox_path_normalize(norm, again, sizeof again, NULL) != COVE_OK ||
        strcmp(again, norm) != 0)
        __builtin_trap();
}

/* A descriptor must name the root or something below it. */
static void check_inside(int fd)
{
    char link[64], target[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    if (n < 0)
        return;
    target[n] = '\0';
    size_t rl = strlen(g_real);
    if (strncmp(target, g_real, rl) != 0 || (target[rl] != '\0' && target[rl] != '/'))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 8192)
        return 0;
    unsigned how = data[0] & (COVE_SANDBOX_BENEATH_FOLLOW | COVE_SANDBOX_BENEATH_NO_OPENAT2);
    char *path = malloc(size);
    if (!path)
        return 0;
    memcpy(path, data + 1, size - 1);
    path[size - 1] = '\0';
    char norm[COVE_MAX_PATH];
    if (cove_sandbox_path_normalize(path, norm, sizeof norm, NULL) == COVE_OK)
        check_clean(norm);
    int fd = -1;
    if (cove_sandbox_open_beneath(g_root_fd, path, O_RDONLY | O_NONBLOCK, how, &fd, NULL) == COVE_OK) {
        if (fd < 0)
            __builtin_trap();
        check_inside(fd);
        close(fd);
    } else if (fd != -1) {
        __builtin_trap();
    }
    free(path);
    return 0;
}
