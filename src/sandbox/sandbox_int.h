/*
 * sandbox/sandbox_int.h - private to the sandbox module.
 *
 * The parent prepares everything that can fail or allocate before fork
 * (struct sb_prepared); the child then only makes system calls.
 */
#ifndef COVE_SANDBOX_SANDBOX_INT_H
#define COVE_SANDBOX_SANDBOX_INT_H

#include <linux/filter.h>
#include <stdint.h>

#include "sandbox/sandbox.h"

/* Landlock values newer than some userspace headers (kernel ABI facts). */
#define SB_LL_FS_EXECUTE (1ull << 0)
#define SB_LL_FS_WRITE_FILE (1ull << 1)
#define SB_LL_FS_READ_FILE (1ull << 2)
#define SB_LL_FS_READ_DIR (1ull << 3)
#define SB_LL_FS_REFER (1ull << 13)     /* ABI 2 */
#define SB_LL_FS_TRUNCATE (1ull << 14)  /* ABI 3 */
#define SB_LL_FS_IOCTL_DEV (1ull << 15) /* ABI 5 */
#define SB_LL_NET_BIND_TCP (1ull << 0)  /* ABI 4 */
#define SB_LL_NET_CONNECT_TCP (1ull << 1)
#define SB_LL_SCOPE_ABSTRACT_UNIX (1ull << 0) /* ABI 6 */
#define SB_LL_SCOPE_SIGNAL (1ull << 1)
#define SB_LL_CREATE_RULESET_VERSION 1u
#define SB_LL_RULE_PATH_BENEATH 1

/* The Landlock ruleset attribute at its newest layout; the size passed depends on the ABI. */
struct sb_ll_ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;
    uint64_t scoped;
};

/* Everything the child needs, made in the parent. */
struct sb_prepared {
    int ruleset_fd;          /* Landlock ruleset, -1 in weak mode */
    struct sock_fprog prog;  /* seccomp program; prog.filter owned (cove_free) */
    struct { int resource; uint64_t value; } rlim[8];
    int n_rlim;
    int keep[COVE_SANDBOX_MAX_KEEP_FDS]; /* policy keep_fds, sorted, unique */
    int n_keep;
    int weak;
};

/* probe.c */
int cove_sandbox_int_landlock_abi(void);

/* policy.c: fill *prep for policy p (exec_mode: the larger syscall list). */
cove_status cove_sandbox_int_prepare(const struct cove_sandbox_policy *p, int exec_mode,
                                     struct sb_prepared *prep, cove_error *err);
void cove_sandbox_int_prepared_release(struct sb_prepared *prep);

/* seccomp.c: build the allow-list program. */
cove_status cove_sandbox_int_seccomp_build(int exec_mode, int writable,
                                           enum cove_sandbox_seccomp_action action,
                                           struct sock_fprog *prog, cove_error *err);

#endif
