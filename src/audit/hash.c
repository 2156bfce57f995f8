/*
 * audit/hash.c - SHA-256 leaves, the RFC 6962 Merkle frontier, hex, time stamps, files.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "audit/audit_int.h"
#include "base/alloc.h"

void audit_leaf_hash(const void *data, size_t len, unsigned char out[COVE_AUDIT_HASH_BYTES])
{
    crypto_hash_sha256_state st;
    const unsigned char zero = 0x00;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &zero, 1);
    crypto_hash_sha256_update(&st, data, len);
    crypto_hash_sha256_final(&st, out);
}

/* SHA-256(0x01 || left || right) into out (out may alias right). */
static void node_hash(const unsigned char *left, const unsigned char *right, unsigned char *out)
{
    crypto_hash_sha256_state st;
    const unsigned char one = 0x01;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &one, 1);
    crypto_hash_sha256_update(&st, left, COVE_AUDIT_HASH_BYTES);
    crypto_hash_sha256_update(&st, right, COVE_AUDIT_HASH_BYTES);
    crypto_hash_sha256_final(&st, out);
}

void audit_merkle_init(struct audit_merkle *m)
{
    memset(m, 0, sizeof *m);
}

void audit_merkle_add(struct audit_merkle *m, const unsigned char leaf[COVE_AUDIT_HASH_BYTES])
{
    unsigned char carry[COVE_AUDIT_HASH_BYTES];
    memcpy(carry, leaf, sizeof carry);
    unsigned k = 0;
    while (k < 64 && (m->n >> k) & 1u) {
        node_hash(m->node[k], carry, carry); /* the older subtree is on the left */
        k++;
    }
    if (k < 64)
        memcpy(m->node[k], carry, sizeof carry);
    m->n++;
}

void audit_merkle_root(const struct audit_merkle *m, unsigned char out[COVE_AUDIT_HASH_BYTES])
{
    if (m->n == 0) {
        crypto_hash_sha256(out, (const unsigned char *)"", 0);
        return;
    }
    bool have = false;
    for (unsigned k = 0; k < 64; k++) {
        if (!((m->n >> k) & 1u))
            continue;
        if (!have)
            memcpy(out, m->node[k], COVE_AUDIT_HASH_BYTES);
        else
            node_hash(m->node[k], out, out);
        have = true;
    }
}

void audit_hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int audit_unhex(const char *s, unsigned char *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[2 * i] == '\0' || s[2 * i + 1] == '\0')
            return -1;
        int hi = hex_val(s[2 * i]), lo = hex_val(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return s[2 * n] == '\0' ? 0 : -1;
}

void cove_audit_sha256_hex(const void *data, size_t len, char out[COVE_AUDIT_HEX_LEN + 1])
{
    unsigned char h[COVE_AUDIT_HASH_BYTES];
    crypto_hash_sha256(h, data, len);
    audit_hex(h, sizeof h, out);
}

size_t audit_checkpoint_message(char out[AUDIT_MSG_MAX], uint64_t size, const char *root_hex,
                                const char *time, bool final)
{
    int n = snprintf(out, AUDIT_MSG_MAX,
                     "cove-audit-checkpoint-v1\nsize=%llu\nroot=%s\ntime=%s\nfinal=%d\n",
                     (unsigned long long)size, root_hex, time, final ? 1 : 0);
    return n > 0 && n < AUDIT_MSG_MAX ? (size_t)n : 0;
}

void audit_time_now(char out[32])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char date[24];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 32, "%.19s.%06dZ", date, (int)(ts.tv_nsec / 1000) % 1000000);
}

/* Parse exactly n decimal digits at s into *v. */
static int digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        *v = *v * 10 + (s[i] - '0');
    }
    return 0;
}

/* "hh:mm:ss[.frac]" at *s; advances *s. */
static int parse_clock(const char **s, struct tm *tm, long *us)
{
    const char *p = *s;
    if (digits(p, 2, &tm->tm_hour) || p[2] != ':' || digits(p + 3, 2, &tm->tm_min) ||
        p[5] != ':' || digits(p + 6, 2, &tm->tm_sec))
        return -1;
    if (tm->tm_hour > 23 || tm->tm_min > 59 || tm->tm_sec > 60)
        return -1;
    p += 8;
    *us = 0;
    if (*p == '.') {
        int nd = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, nd++)
            if (nd < 6)
                *us = *us * 10 + (*p - '0');
        if (nd == 0 || nd > 9) /* at most nanoseconds */
            return -1;
        for (; nd < 6; nd++)
            *us *= 10;
    }
    *s = p;
    return 0;
}

/* "Z", "z" or "+hh:mm"/"-hh:mm" ending the string: offset in seconds east of UTC. */
static int parse_zone(const char *p, long *off)
{
    int h, m;
    if ((p[0] == 'Z' || p[0] == 'z') && p[1] == '\0') {
        *off = 0;
        return 0;
    }
    if ((p[0] != '+' && p[0] != '-') || digits(p + 1, 2, &h) || p[3] != ':' ||
        digits(p + 4, 2, &m) || p[6] != '\0' || h > 23 || m > 59)
        return -1;
    *off = (p[0] == '-' ? -1 : 1) * (h * 3600L + m * 60L);
    return 0;
}

cove_status cove_audit_time_parse(const char *s, int64_t *us_out, cove_error *err)
{
    struct tm tm = {0};
    long us = 0, off = 0;
    const char *p = s;
    if (!s || digits(p, 4, &tm.tm_year) || p[4] != '-' || digits(p + 5, 2, &tm.tm_mon) ||
        p[7] != '-' || digits(p + 8, 2, &tm.tm_mday) || tm.tm_mon < 1 || tm.tm_mon > 12 ||
        tm.tm_mday < 1 || tm.tm_mday > 31)
        goto bad;
    p += 10;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (parse_clock(&p, &tm, &us) || parse_zone(p, &off))
            goto bad;
    } else if (*p != '\0') {
        goto bad;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    *us_out = ((int64_t)t - off) * 1000000 + us;
    return COVE_OK;
bad:
    return cove_error_set(err, COVE_ERR_FORMAT, "not an RFC 3339 time or a date: \"%.64s\"",
                          s ? s : "");
}

cove_status audit_map(const char *path, int fd, const char **data, size_t *len, cove_error *err)
{
    int own = fd < 0;
    if (own)
        fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cove_error_set(err, errno == ENOENT ? COVE_ERR_NOT_FOUND : COVE_ERR_IO,
                              "%s: %s", path, strerror(errno));
    struct stat st;
    cove_status s = COVE_OK;
    *data = NULL;
    *len = 0;
    if (fstat(fd, &st) != 0) {
        s = cove_error_set(err, COVE_ERR_IO, "%s: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        s = cove_error_set(err, COVE_ERR_IO, "%s: not a regular file", path);
    } else if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED)
            s = cove_error_set(err, COVE_ERR_IO, "%s: mmap: %s", path, strerror(errno));
        else {
            *data = p;
            *len = (size_t)st.st_size;
        }
    }
    if (own)
        close(fd);
    return s;
}

void audit_unmap(const char *data, size_t len)
{
    if (data && len)
        munmap((void *)data, len);
}

cove_status audit_read_file(const char *path, size_t max, char **out, size_t *len,
                            cove_error *err)
{
    const char *data;
    size_t n;
    *out = NULL;
    cove_status s = audit_map(path, -1, &data, &n, err);
    if (s != COVE_OK)
        return s;
    if (n > max) {
        audit_unmap(data, n);
        return cove_error_set(err, COVE_ERR_LIMIT, "%s: larger than %zu bytes", path, max);
    }
    char *buf = cove_malloc(n + 1);
    if (!buf) {
        audit_unmap(data, n);
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory reading %s", path);
    }
    if (n)
        memcpy(buf, data, n);
    buf[n] = '\0';
    audit_unmap(data, n);
    *out = buf;
    *len = n;
    return COVE_OK;
}
