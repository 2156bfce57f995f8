/*
 * tests/sandbox/test_beneath.c - path normalisation and open-beneath against a
 * corpus of hostile paths, with openat2 and with the component walk.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "sb_test.h"
#include "test.h"

const char *sb_path(const char *dir, const char *name)
{
    static char bufs[4][COVE_MAX_PATH];
    static int next;
    char *b = bufs[next++ & 3];
    int n = snprintf(b, COVE_MAX_PATH, "%s/%s", dir, name);
    if (n < 0 || n >= COVE_MAX_PATH)
        b[0] = '\0'; /* too long: an empty path fails every call it is given to */
    return b;
}

int sb_write_file(const char *dir, const char *name, const char *text)
{
    FILE *f = fopen(sb_path(dir, name), "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f) == 0 ? 0 : -1;
}

int sb_have_landlock(const char *what)
{
    struct cove_sandbox_caps caps;
    cove_sandbox_probe(&caps);
    if (caps.landlock_abi > 0)
        return 1;
    printf("note: no Landlock on this kernel: skipping the Landlock check of %s\n", what);
    return 0;
}

struct cove_sandbox_policy sb_policy(void)
{
    struct cove_sandbox_policy p = cove_sandbox_policy_default();
    p.timeout_ms = 10000;
    p.cpu_seconds = 5;
    p.max_output = 1u << 20;
    return p;
}

TEST(sandbox_normalize)
{
    static const struct {
        const char *in, *out;
    } ok[] = {
        {"a", "a"},       {"a/b", "a/b"},     {"./a//b/", "a/b"}, {".", "."},
        {"./", "."},      {"a/./b/.", "a/b"}, {"...", "..."},     {"a..b/..c", "a..b/..c"},
        {".hidden", ".hidden"},
    };
    char out[COVE_MAX_PATH];
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        CHECK_OK(cove_sandbox_path_normalize(ok[i].in, out, sizeof out, NULL));
        CHECK_STR_EQ(out, ok[i].out);
    }
    static const struct {
        const char *in;
        cove_status st;
    } bad[] = {
        {"../../etc/passwd", COVE_ERR_PERMISSION}, {"a/../../b", COVE_ERR_PERMISSION},
        {"a/..", COVE_ERR_PERMISSION},             {"..", COVE_ERR_PERMISSION},
        {"/etc/passwd", COVE_ERR_PERMISSION},      {"//etc", COVE_ERR_PERMISSION},
        {"", COVE_ERR_INVALID_ARG},                {"a\nb", COVE_ERR_INVALID_ARG},
        {"a\x7f", COVE_ERR_INVALID_ARG},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cove_error err = {0};
        CHECK_EQ_INT(cove_sandbox_path_normalize(bad[i].in, out, sizeof out, &err), bad[i].st);
        CHECK(err.msg[0] != '\0');
    }
    char small[4];
    CHECK_EQ_INT(cove_sandbox_path_normalize("abcdef", small, sizeof small, NULL), COVE_ERR_LIMIT);
    char *lng = cove_malloc(COVE_MAX_PATH + 1);
    CHECK(lng);
    memset(lng, 'a', COVE_MAX_PATH);
    lng[COVE_MAX_PATH] = '\0';
    cove_status st = cove_sandbox_path_normalize(lng, out, sizeof out, NULL);
    cove_free(lng);
    CHECK_EQ_INT(st, COVE_ERR_INVALID_ARG);
}

/* root/ {file.txt, sub/inner.txt, up -> .., out -> outside dir, etc -> /etc,
 *        abs -> /etc/passwd, loop1 <-> loop2, inlink -> sub/inner.txt, fifo} */
static const char *make_tree(void)
{
    static char root[COVE_MAX_PATH];
    const char *tmp = test_tmpdir();
    snprintf(root, sizeof root, "%s/beneath-root", tmp);
    if (mkdir(root, 0700) != 0 && errno != EEXIST)
        return NULL;
    mkdir(sb_path(root, "sub"), 0700);
    mkdir(sb_path(tmp, "outside"), 0700);
    if (sb_write_file(root, "file.txt", "inside\n") || sb_write_file(root, "sub/inner.txt", "inner\n") ||
        sb_write_file(tmp, "outside/secret.txt", "secret\n"))
        return NULL;
    symlink("..", sb_path(root, "up"));
    symlink(sb_path(tmp, "outside"), sb_path(root, "out"));
    symlink("/etc", sb_path(root, "etc"));
    symlink("/etc/passwd", sb_path(root, "abs"));
    symlink("loop2", sb_path(root, "loop1"));
    symlink("loop1", sb_path(root, "loop2"));
    symlink("sub/inner.txt", sb_path(root, "inlink"));
    mkfifo(sb_path(root, "fifo"), 0600);
    return root;
}

static const char *const k_hostile[] = {
    "../../etc/passwd", "sub/../../outside/secret.txt", "/etc/passwd", "up/outside/secret.txt",
    "out/secret.txt", "etc/passwd", "abs", "loop1", "loop2/x", "up", "out",
};

static void check_hostile(unsigned how)
{
    const char *root = make_tree();
    CHECK(root);
    int rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    CHECK(rfd >= 0);
    for (size_t i = 0; i < sizeof k_hostile / sizeof k_hostile[0]; i++) {
        int fd = -1;
        cove_error err = {0};
        cove_status st = cove_sandbox_open_beneath(rfd, k_hostile[i], O_RDONLY, how, &fd, &err);
        if (st == COVE_OK)
            close(fd);
        CHECK_MSG(st == COVE_ERR_PERMISSION, "%s (how %u): status %d (%s)", k_hostile[i], how,
                  (int)st, err.msg);
        CHECK(fd == -1);
    }
    int fd = -1;
    struct cove_buf b;
    cove_buf_init(&b, 1024);
    cove_status st = cove_sandbox_read_file_beneath(rfd, "sub/inner.txt", how, 1024, &b, NULL);
    CHECK_OK(st);
    CHECK_STR_EQ(b.data, "inner\n");
    cove_buf_release(&b);
    CHECK_EQ_INT(cove_sandbox_open_beneath(rfd, "missing", O_RDONLY, how, &fd, NULL),
                 COVE_ERR_NOT_FOUND);
    CHECK_OK(cove_sandbox_open_beneath(rfd, ".", O_RDONLY | O_DIRECTORY, how, &fd, NULL));
    close(fd);
    close(rfd);
}

TEST(sandbox_beneath_hostile_openat2)
{
    struct cove_sandbox_caps caps;
    cove_sandbox_probe(&caps);
    if (!caps.openat2)
        printf("note: no openat2 here: the walk answers for both modes\n");
    check_hostile(0);
}

TEST(sandbox_beneath_hostile_walk)
{
    check_hostile(COVE_SANDBOX_BENEATH_NO_OPENAT2);
}

TEST(sandbox_beneath_symlinks_follow)
{
    const char *root = make_tree();
    CHECK(root);
    struct cove_sandbox_caps caps;
    cove_sandbox_probe(&caps);
    int fd = -1;
    /* default: even an inside symlink is refused */
    CHECK_EQ_INT(cove_sandbox_open_beneath_path(root, "inlink", O_RDONLY, 0, &fd, NULL),
                 COVE_ERR_PERMISSION);
    if (!caps.openat2) {
        printf("note: no openat2: FOLLOW is not available, skipping\n");
        return;
    }
    CHECK_OK(cove_sandbox_open_beneath_path(root, "inlink", O_RDONLY, COVE_SANDBOX_BENEATH_FOLLOW,
                                            &fd, NULL));
    close(fd);
    /* following never leaves the root */
    static const char *const esc[] = {"out/secret.txt", "etc/passwd", "abs", "up/outside/secret.txt",
                                      "loop1"};
    for (size_t i = 0; i < sizeof esc / sizeof esc[0]; i++) {
        cove_status st = cove_sandbox_open_beneath_path(root, esc[i], O_RDONLY,
                                                        COVE_SANDBOX_BENEATH_FOLLOW, &fd, NULL);
        CHECK_MSG(st == COVE_ERR_PERMISSION, "%s: %d", esc[i], (int)st);
    }
}

TEST(sandbox_beneath_proc_magic_links)
{
    static const char *const magic[] = {"proc/self/root/etc/passwd", "proc/1/root/etc/passwd",
                                        "proc/self/cwd", "proc/self/fd/0", "dev/fd/0"};
    for (unsigned how = 0; how < 4; how++)
        for (size_t i = 0; i < sizeof magic / sizeof magic[0]; i++) {
            int fd = -1;
            cove_error err = {0};
            cove_status st = cove_sandbox_open_beneath_path("/", magic[i], O_RDONLY, how, &fd, &err);
            if (st == COVE_OK)
                close(fd);
            CHECK_MSG(st == COVE_ERR_PERMISSION || st == COVE_ERR_NOT_FOUND,
                      "%s (how %u): %d %s", magic[i], how, (int)st, err.msg);
        }
}

TEST(sandbox_beneath_devices_and_fifos)
{
    int dfd = -1;
    CHECK_OK(cove_sandbox_open_beneath_path("/dev", "zero", O_RDONLY, 0, &dfd, NULL));
    struct cove_buf b;
    cove_buf_init(&b, 1u << 20);
    cove_error err = {0};
    CHECK_EQ_INT(cove_sandbox_read_bounded(dfd, 100000, &b, &err), COVE_ERR_LIMIT);
    CHECK_EQ_INT(b.len, 100000);
    close(dfd);
    cove_buf_reset(&b);
    int rfd = open("/dev", O_PATH | O_DIRECTORY | O_CLOEXEC);
    CHECK(rfd >= 0);
    CHECK_EQ_INT(cove_sandbox_read_file_beneath(rfd, "zero", 0, 4096, &b, NULL), COVE_ERR_PERMISSION);
    CHECK_EQ_INT(b.len, 0);
    close(rfd);
    const char *root = make_tree();
    CHECK(root);
    rfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    CHECK(rfd >= 0);
    /* a FIFO neither blocks nor is read */
    CHECK_EQ_INT(cove_sandbox_read_file_beneath(rfd, "fifo", 0, 4096, &b, NULL), COVE_ERR_PERMISSION);
    CHECK_EQ_INT(cove_sandbox_read_file_beneath(rfd, "sub", 0, 4096, &b, NULL), COVE_ERR_PERMISSION);
    CHECK_EQ_INT(cove_sandbox_read_file_beneath(rfd, "file.txt", 0, 3, &b, NULL), COVE_ERR_LIMIT);
    close(rfd);
    cove_buf_release(&b);
}

TEST(sandbox_beneath_flags)
{
    const char *root = make_tree();
    CHECK(root);
    int fd = -1;
    CHECK_EQ_INT(cove_sandbox_open_beneath_path(root, "file.txt", O_RDONLY | O_PATH, 0, &fd, NULL),
                 COVE_ERR_INVALID_ARG);
    CHECK_EQ_INT(cove_sandbox_open_beneath_path(root, "file.txt", O_ACCMODE, 0, &fd, NULL),
                 COVE_ERR_INVALID_ARG);
    for (unsigned how = 0; how < 4; how += 2) {
        const char *name = how ? "new-walk.txt" : "new-o2.txt";
        CHECK_OK(cove_sandbox_open_beneath_path(root, name, O_WRONLY | O_CREAT | O_EXCL, how, &fd, NULL));
        CHECK(write(fd, "x", 1) == 1);
        struct stat sb;
        CHECK(fstat(fd, &sb) == 0);
        CHECK_EQ_INT(sb.st_mode & 0777, 0600);
        close(fd);
    }
}
