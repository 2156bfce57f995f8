/*
 * app/pull.c - resumable, verified HTTP(S) downloads with libcurl and libsodium.
 *
 * Invariant while a transfer runs: DEST.part holds exactly x->offset bytes,
 * the file position is at its end, and x->hash has absorbed those bytes. Every
 * path that changes the file (resume, restart, new data) keeps that true, so
 * the digest is ready the moment the last byte arrives.
 */
#include "pull.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "base/log.h"

#define READ_CHUNK (1u << 20)

struct xfer {
    int fd;                        /* DEST.part, locked */
    crypto_hash_sha256_state hash; /* of the bytes in DEST.part */
    unsigned long long offset;     /* bytes in DEST.part */
    unsigned long long start;      /* offset when the current transfer began */
    unsigned long long limit;      /* most bytes DEST.part may hold */
    int too_big;                   /* the server sent more than limit */
    int write_errno;               /* a write to DEST.part failed */
    int progress;                  /* draw a progress bar */
    unsigned long long total;      /* expected end offset, 0 while unknown */
    const char *label;
    double t0, last_draw;
    int drew;
};

/* How a transfer ended, beside its CURLcode. */
struct outcome {
    long http;
    long long connect_us;
    char msg[CURL_ERROR_SIZE];
};

struct cove_pull_params cove_pull_default_params(void)
{
    return (struct cove_pull_params){0};
}

cove_status cove_pull_global_init(cove_error *err)
{
    if (sodium_init() < 0)
        return cove_error_set(err, COVE_ERR_INTERNAL, "libsodium failed to initialise");
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return cove_error_set(err, COVE_ERR_NETWORK, "libcurl failed to initialise");
    return COVE_OK;
}

void cove_pull_global_cleanup(void)
{
    curl_global_cleanup();
}

int cove_pull_is_sha256(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!isxdigit((unsigned char)s[n]))
            return 0;
    return n == 64;
}

static int hex_equal(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return 0;
    return *a == *b;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The host part of url (no scheme, user, port or path). */
static void host_of(const char *url, char *out, size_t n)
{
    const char *s = strstr(url, "://");
    s = s ? s + 3 : url;
    size_t len = strcspn(s, "/?#");
    const char *at = memchr(s, '@', len);
    if (at) {
        len -= (size_t)(at + 1 - s);
        s = at + 1;
    }
    if (*s == '[') {
        const char *end = memchr(s, ']', len);
        len = end ? (size_t)(end + 1 - s) : len;
    } else {
        len = strcspn(s, ":/?#") < len ? strcspn(s, ":/?#") : len;
    }
    snprintf(out, n, "%.*s", (int)len, s);
}

/* Hash a file from its start to its end through the open descriptor fd. */
static cove_status hash_fd(int fd, crypto_hash_sha256_state *h, unsigned long long *size,
                           const char *path, cove_error *err)
{
    unsigned char *buf = cove_malloc(READ_CHUNK);
    if (!buf)
        return cove_error_set(err, COVE_ERR_NOMEM, "out of memory hashing %s", path);
    crypto_hash_sha256_init(h);
    *size = 0;
    cove_status st = COVE_OK;
    if (lseek(fd, 0, SEEK_SET) != 0)
        st = cove_error_set(err, COVE_ERR_IO, "cannot seek in %s: %s", path, strerror(errno));
    while (st == COVE_OK) {
        ssize_t n = read(fd, buf, READ_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            st = cove_error_set(err, COVE_ERR_IO, "cannot read %s: %s", path, strerror(errno));
        if (n <= 0)
            break;
        crypto_hash_sha256_update(h, buf, (unsigned long long)n);
        *size += (unsigned long long)n;
    }
    cove_free(buf);
    return st;
}

static void digest_hex(crypto_hash_sha256_state *h, char hex[65])
{
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(h, d);
    sodium_bin2hex(hex, 65, d, sizeof d);
}

cove_status cove_pull_sha256_file(const char *path, char hex[65], unsigned long long *size,
                                  cove_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cove_error_set(err, COVE_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    crypto_hash_sha256_state h;
    unsigned long long n = 0;
    cove_status st = hash_fd(fd, &h, &n, path, err);
    close(fd);
    if (st == COVE_OK) {
        digest_hex(&h, hex);
        if (size)
            *size = n;
    }
    return st;
}

static cove_status make_parents(const char *path, cove_error *err)
{
    char dir[COVE_MAX_PATH];
    if (strlen(path) >= sizeof dir)
        return cove_error_set(err, COVE_ERR_LIMIT, "path too long: %s", path);
    memcpy(dir, path, strlen(path) + 1);
    for (char *s = dir + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(dir, 0755) != 0 && errno != EEXIST)
            return cove_error_set(err, COVE_ERR_IO, "cannot create directory %s: %s", dir,
                                  strerror(errno));
        *s = '/';
    }
    return COVE_OK;
}

static void sync_parent(const char *path)
{
    char dir[COVE_MAX_PATH];
    const char *slash = strrchr(path, '/');
    int n = slash ? snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path)
                  : snprintf(dir, sizeof dir, ".");
    if (n <= 0 || (size_t)n >= sizeof dir)
        return;
    int fd = open(*dir ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

static void draw_bar(struct xfer *x)
{
    unsigned long long total = x->total;
    double dt = now_s() - x->t0, mb = 1e6;
    double rate = (double)(x->offset - x->start) / (dt > 1e-3 ? dt : 1e-3) / mb;
    if (total)
        fprintf(stderr, "\r%-32.32s %5.1f%% %9.1f/%.1f MB %7.1f MB/s\033[K", x->label,
                100.0 * (double)x->offset / (double)total, (double)x->offset / mb,
                (double)total / mb, rate);
    else
        fprintf(stderr, "\r%-32.32s %9.1f MB %7.1f MB/s\033[K", x->label,
                (double)x->offset / mb, rate);
    x->drew = 1;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dlnow, (void)ultotal, (void)ulnow;
    struct xfer *x = ud;
    double t = now_s();
    if (t - x->last_draw >= 0.1) {
        x->last_draw = t;
        if (dltotal > 0)
            x->total = x->start + (unsigned long long)dltotal;
        draw_bar(x);
    }
    return 0;
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct xfer *x = ud;
    size_t n = size * nmemb;
    if (n > x->limit - x->offset) {
        x->too_big = 1;
        return 0;
    }
    for (size_t done = 0; done < n;) {
        ssize_t w = write(x->fd, ptr + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            x->write_errno = errno;
            return 0;
        }
        done += (size_t)w;
    }
    crypto_hash_sha256_update(&x->hash, (const unsigned char *)ptr, n);
    x->offset += n;
    return n;
}

#define SETOPT(opt, val)                                                         \
    do {                                                                         \
        if (rc == CURLE_OK)                                                      \
            rc = curl_easy_setopt(c, opt, val);                                  \
    } while (0)

static CURLcode set_options(CURL *c, struct xfer *x, const struct cove_pull_params *p,
                            char *errbuf)
{
    CURLcode rc = CURLE_OK;
    SETOPT(CURLOPT_URL, p->url);
    SETOPT(CURLOPT_ERRORBUFFER, errbuf);
    SETOPT(CURLOPT_FOLLOWLOCATION, 1L);
    SETOPT(CURLOPT_MAXREDIRS, 10L);
    SETOPT(CURLOPT_FAILONERROR, 1L);
    SETOPT(CURLOPT_USERAGENT, "cove/" COVE_VERSION);
    SETOPT(CURLOPT_CONNECTTIMEOUT, 30L);
    SETOPT(CURLOPT_LOW_SPEED_LIMIT, 1L);
    SETOPT(CURLOPT_LOW_SPEED_TIME, 60L);
    SETOPT(CURLOPT_WRITEFUNCTION, on_data);
    SETOPT(CURLOPT_WRITEDATA, x);
    SETOPT(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->limit);
    SETOPT(CURLOPT_RESUME_FROM_LARGE, (curl_off_t)x->offset);
#if LIBCURL_VERSION_NUM >= 0x075500
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    SETOPT(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    SETOPT(CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    if (x->progress) {
        SETOPT(CURLOPT_XFERINFOFUNCTION, on_progress);
        SETOPT(CURLOPT_XFERINFODATA, x);
        SETOPT(CURLOPT_NOPROGRESS, 0L);
    }
    return rc;
}

static CURLcode run_transfer(struct xfer *x, const struct cove_pull_params *p,
                             struct cove_pull_result *res, struct outcome *oc)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    *oc = (struct outcome){0};
    CURL *c = curl_easy_init();
    if (!c)
        return CURLE_FAILED_INIT;
    x->start = x->offset;
    x->total = p->size;
    x->t0 = now_s();
    x->last_draw = 0;
    CURLcode rc = set_options(c, x, p, errbuf);
    if (rc == CURLE_OK)
        rc = curl_easy_perform(c);
    if (x->drew) {
        draw_bar(x);
        fputc('\n', stderr);
        x->drew = 0;
    }
    char *eff = NULL;
    curl_off_t connect_us = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &oc->http);
    curl_easy_getinfo(c, CURLINFO_CONNECT_TIME_T, &connect_us);
    curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &eff);
    oc->connect_us = (long long)connect_us;
    host_of(eff ? eff : p->url, res->host, sizeof res->host);
    snprintf(oc->msg, sizeof oc->msg, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
    curl_easy_cleanup(c);
    return rc;
}

static cove_status map_error(CURLcode rc, const struct xfer *x, const struct cove_pull_params *p,
                             struct cove_pull_result *res, const struct outcome *oc,
                             cove_error *err)
{
    const char *file = base_name(p->dest);
    switch (rc) {
    case CURLE_OK:
        return COVE_OK;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
        res->unreachable = 1;
        return cove_error_set(err, COVE_ERR_NETWORK, "could not reach %s: %s", res->host, oc->msg);
    case CURLE_OPERATION_TIMEDOUT:
        res->unreachable = oc->connect_us == 0;
        if (res->unreachable)
            return cove_error_set(err, COVE_ERR_NETWORK, "could not reach %s: %s", res->host,
                                  oc->msg);
        return cove_error_set(err, COVE_ERR_TIMEOUT,
                              "download of %s stalled after %llu bytes (%s); run the same "
                              "command again to resume", file, x->offset, oc->msg);
    case CURLE_HTTP_RETURNED_ERROR:
        return cove_error_set(err, COVE_ERR_NETWORK, "HTTP %ld from %s for %.160s", oc->http,
                              res->host, p->url);
    case CURLE_FILESIZE_EXCEEDED:
        return cove_error_set(err, COVE_ERR_LIMIT, "%s is larger than %llu bytes", file, x->limit);
    case CURLE_WRITE_ERROR:
        if (x->too_big)
            return cove_error_set(err, COVE_ERR_LIMIT, "the server sent more than the %llu bytes "
                                  "expected for %s", x->limit, file);
        if (x->write_errno)
            return cove_error_set(err, COVE_ERR_IO, "cannot write %s.part: %s", p->dest,
                                  strerror(x->write_errno));
        break;
    default:
        break;
    }
    return cove_error_set(err, COVE_ERR_NETWORK, "download of %s from %s stopped after %llu "
                          "bytes: %s; run the same command again to resume", file, res->host,
                          x->offset, oc->msg);
}

/* Empty DEST.part and start its digest over. */
static cove_status restart_part(struct xfer *x, const char *part, cove_error *err)
{
    if (ftruncate(x->fd, 0) != 0 || lseek(x->fd, 0, SEEK_SET) != 0)
        return cove_error_set(err, COVE_ERR_IO, "cannot truncate %s: %s", part, strerror(errno));
    crypto_hash_sha256_init(&x->hash);
    x->offset = 0;
    return COVE_OK;
}

static cove_status fetch_into(const struct cove_pull_params *p, struct xfer *x, const char *part,
                              struct cove_pull_result *res, cove_error *err)
{
    cove_status st = hash_fd(x->fd, &x->hash, &x->offset, part, err);
    if (st == COVE_OK && x->offset > x->limit)
        st = restart_part(x, part, err);
    if (st != COVE_OK)
        return st;
    res->resumed_from = x->offset;
    if (p->size && x->offset == p->size)
        return COVE_OK; /* complete from an earlier run; the digest decides */
    if (x->offset)
        cove_log_info("resuming %s at byte %llu", part, x->offset);
    struct outcome oc;
    unsigned long long had = x->offset;
    CURLcode rc = run_transfer(x, p, res, &oc);
    if (had > 0 && (rc == CURLE_RANGE_ERROR || (rc == CURLE_HTTP_RETURNED_ERROR && oc.http == 416))) {
        cove_log_info("the server refused to resume %s; starting over", part);
        st = restart_part(x, part, err);
        if (st != COVE_OK)
            return st;
        res->resumed_from = 0;
        rc = run_transfer(x, p, res, &oc);
    }
    st = map_error(rc, x, p, res, &oc, err);
    if (st == COVE_ERR_LIMIT)
        unlink(part); /* what arrived is not the expected file */
    return st;
}

static cove_status finish(const struct cove_pull_params *p, struct xfer *x, const char *part,
                          struct cove_pull_result *res, cove_error *err)
{
    digest_hex(&x->hash, res->sha256);
    res->bytes = x->offset;
    const char *file = base_name(p->dest);
    if (p->size && x->offset != p->size) {
        unlink(part);
        return cove_error_set(err, COVE_ERR_CHECKSUM, "%s: received %llu bytes, expected %llu; "
                              "the download was removed", file, x->offset, p->size);
    }
    if (p->sha256 && !hex_equal(res->sha256, p->sha256)) {
        unlink(part);
        return cove_error_set(err, COVE_ERR_CHECKSUM, "checksum mismatch for %.40s: expected "
                              "%.64s, got %s; the download was removed", file, p->sha256,
                              res->sha256);
    }
    if (fsync(x->fd) != 0)
        return cove_error_set(err, COVE_ERR_IO, "cannot sync %s: %s", part, strerror(errno));
    if (rename(part, p->dest) != 0)
        return cove_error_set(err, COVE_ERR_IO, "cannot rename %s to %s: %s", part, p->dest,
                              strerror(errno));
    sync_parent(p->dest);
    return COVE_OK;
}

cove_status cove_pull_cached(const struct cove_pull_params *p, struct cove_pull_result *res,
                             cove_error *err)
{
    struct stat sb;
    if (stat(p->dest, &sb) != 0)
        return COVE_OK;
    if (!S_ISREG(sb.st_mode))
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "%s exists and is not a file", p->dest);
    if (p->size && (unsigned long long)sb.st_size != p->size) {
        cove_log_warn("%s has %lld bytes, expected %llu: downloading it again", p->dest,
                      (long long)sb.st_size, p->size);
        return COVE_OK;
    }
    cove_status st = cove_pull_sha256_file(p->dest, res->sha256, &res->bytes, err);
    if (st != COVE_OK)
        return st;
    if (!p->sha256 || hex_equal(res->sha256, p->sha256))
        res->cached = 1;
    else
        cove_log_warn("%s has the wrong checksum: downloading it again", p->dest);
    return COVE_OK;
}

static cove_status check_params(const struct cove_pull_params *p, cove_error *err)
{
    if (!p->url || !p->dest || !*p->dest)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "a download needs a URL and a file");
    if (strlen(p->url) >= COVE_MAX_URL)
        return cove_error_set(err, COVE_ERR_LIMIT, "URL longer than %d bytes", COVE_MAX_URL);
    if (strncmp(p->url, "https://", 8) != 0 && strncmp(p->url, "http://", 7) != 0)
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "not an http(s) URL: %.200s", p->url);
    if (p->sha256 && !cove_pull_is_sha256(p->sha256))
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "a SHA-256 is 64 hex digits");
    if (p->size > COVE_MAX_DOWNLOAD)
        return cove_error_set(err, COVE_ERR_LIMIT, "%llu bytes is above COVE_MAX_DOWNLOAD",
                              p->size);
    return COVE_OK;
}

static cove_status open_part(const char *part, int *fd, cove_error *err)
{
    *fd = open(part, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (*fd < 0)
        return cove_error_set(err, COVE_ERR_IO, "cannot open %s: %s", part, strerror(errno));
    if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
        close(*fd);
        *fd = -1;
        return cove_error_set(err, COVE_ERR_STATE, "another process is downloading %s", part);
    }
    return COVE_OK;
}

cove_status cove_pull_file(const struct cove_pull_params *p, struct cove_pull_result *res,
                           cove_error *err)
{
    *res = (struct cove_pull_result){0};
    char part[COVE_MAX_PATH];
    cove_status st = check_params(p, err);
    if (st == COVE_OK && snprintf(part, sizeof part, "%s.part", p->dest) >= (int)sizeof part)
        st = cove_error_set(err, COVE_ERR_LIMIT, "path too long: %s", p->dest);
    if (st == COVE_OK)
        st = cove_pull_cached(p, res, err);
    if (st != COVE_OK || res->cached)
        return st;
    st = make_parents(p->dest, err);
    struct xfer x = {.fd = -1, .progress = p->progress, .label = p->label ? p->label : base_name(p->dest)};
    x.limit = p->size ? p->size : COVE_MAX_DOWNLOAD;
    if (st == COVE_OK)
        st = open_part(part, &x.fd, err);
    if (st == COVE_OK)
        st = fetch_into(p, &x, part, res, err);
    if (st == COVE_OK)
        st = finish(p, &x, part, res, err);
    if (st != COVE_OK && x.fd >= 0 && x.offset == 0)
        unlink(part); /* nothing worth resuming */
    if (x.fd >= 0)
        close(x.fd);
    return st;
}

/* The conversion's progress: percent done on one terminal line, redrawn when it changes. */
struct build_progress {
    const char *label;
    int last_pct;
};

static void show_build_progress(void *ctx, const char *tensor, uint64_t done, uint64_t total)
{
    struct build_progress *bp = ctx;
    int pct = total ? (int)(done * 100 / total) : 100;
    if (pct == bp->last_pct)
        return;
    bp->last_pct = pct;
    fprintf(stderr, "\rconverting %-32.32s %3d%%  %-32.32s\033[K%s", bp->label, pct, tensor,
            pct == 100 ? "\n" : "");
    fflush(stderr);
}

/* Check the converted DEST.part against the expected size and digest, then rename it. */
static cove_status accept_built(const struct cove_pull_build_params *p, const char *part,
                                struct cove_pull_result *res, cove_error *err)
{
    cove_status st = cove_pull_sha256_file(part, res->sha256, &res->bytes, err);
    if (st == COVE_OK && ((p->size && res->bytes != p->size) ||
                          (p->sha256 && !hex_equal(res->sha256, p->sha256))))
        st = cove_error_set(err, COVE_ERR_CHECKSUM, "the conversion gave %llu bytes with "
                            "SHA-256 %s, the catalogue says %llu bytes, %.8s...; the file was "
                            "removed (does this cove match its catalogue?)", res->bytes,
                            res->sha256, p->size, p->sha256 ? p->sha256 : "any");
    if (st == COVE_OK && rename(part, p->dest) != 0)
        st = cove_error_set(err, COVE_ERR_IO, "cannot rename %s to %s: %s", part, p->dest,
                            strerror(errno));
    if (st != COVE_OK) {
        unlink(part);
        return st;
    }
    sync_parent(p->dest);
    return COVE_OK;
}

cove_status cove_pull_build(const struct cove_pull_build_params *p, struct cove_pull_result *res,
                            cove_error *err)
{
    *res = (struct cove_pull_result){0};
    if (!p->src_dir || !p->dest || !*p->dest || (p->sha256 && !cove_pull_is_sha256(p->sha256)))
        return cove_error_set(err, COVE_ERR_INVALID_ARG, "a build needs a source directory, a "
                              "file and (if any) a 64-digit SHA-256");
    struct cove_pull_params cp = {.dest = p->dest, .sha256 = p->sha256, .size = p->size};
    cove_status st = cove_pull_cached(&cp, res, err);
    if (st != COVE_OK || res->cached)
        return st;
    char part[COVE_MAX_PATH];
    if (snprintf(part, sizeof part, "%s.part", p->dest) >= (int)sizeof part)
        return cove_error_set(err, COVE_ERR_LIMIT, "path too long: %s", p->dest);
    st = make_parents(p->dest, err);
    if (st != COVE_OK)
        return st;
    cove_convert_params conv = p->convert;
    struct build_progress bp = {p->label ? p->label : base_name(p->dest), -1};
    if (p->progress) {
        conv.progress = show_build_progress;
        conv.progress_ctx = &bp;
    }
    st = cove_convert_hf(p->src_dir, part, &conv, NULL, err);
    if (bp.last_pct >= 0 && bp.last_pct < 100)
        fputc('\n', stderr);
    if (st != COVE_OK) {
        unlink(part); /* an earlier run's leftover; the converter leaves none of its own */
        return st;
    }
    return accept_built(p, part, res, err);
}
