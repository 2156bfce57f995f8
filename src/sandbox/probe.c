/*
 * sandbox/probe.c - what the running kernel offers: Landlock, seccomp, openat2.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/sandbox_int.h"

int cove_sandbox_int_landlock_abi(void)
{
#ifdef SYS_landlock_create_ruleset
    long v = syscall(SYS_landlock_create_ruleset, NULL, (size_t)0, SB_LL_CREATE_RULESET_VERSION);
    return v > 0 ? (int)v : 0; /* ENOSYS: not built in; EOPNOTSUPP: disabled at boot */
#else
    return 0;
#endif
}

static int probe_seccomp(void)
{
    unsigned int action = SECCOMP_RET_KILL_PROCESS;
    if (syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0u, &action) == 0)
        return 1;
    return 0;
}

static int probe_openat2(void)
{
#ifdef SYS_openat2
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = O_PATH | O_CLOEXEC | O_DIRECTORY;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    long fd = syscall(SYS_openat2, AT_FDCWD, ".", &how, sizeof how);
    if (fd >= 0) {
        close((int)fd);
        return 1;
    }
    return errno != ENOSYS && errno != EINVAL ? 1 : 0; /* e.g. EACCES on "." still means it exists */
#else
    return 0;
#endif
}

void cove_sandbox_probe(struct cove_sandbox_caps *out)
{
    memset(out, 0, sizeof *out);
    out->landlock_abi = cove_sandbox_int_landlock_abi();
    out->landlock_net = out->landlock_abi >= 4;
    out->landlock_scope = out->landlock_abi >= 6;
    out->seccomp_filter = probe_seccomp();
    out->openat2 = probe_openat2();
}

const char *cove_sandbox_caps_describe(const struct cove_sandbox_caps *caps, char *buf, size_t cap)
{
    if (!buf || cap == 0)
        return buf;
    const char *sc = caps->seccomp_filter ? "yes" : "no";
    const char *o2 = caps->openat2 ? "yes" : "no (component walk)";
    if (caps->landlock_abi > 0)
        snprintf(buf, cap, "landlock ABI %d (net %s, scope %s), seccomp %s, openat2 %s",
                 caps->landlock_abi, caps->landlock_net ? "yes" : "no",
                 caps->landlock_scope ? "yes" : "no", sc, o2);
    else
        snprintf(buf, cap, "landlock none (weak mode: file access not confined), seccomp %s, openat2 %s",
                 sc, o2);
    return buf;
}
