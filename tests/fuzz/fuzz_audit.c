/*
 * tests/fuzz/fuzz_audit.c - libFuzzer target for audit-log verification, the log
 * reader's line parsing and manifest parsing.
 *
 * The input is taken as a log as it is (no key given, then the first byte's low bit
 * chooses COVE_AUDIT_VERIFY_ALLOW_OPEN) and also as a manifest. Whatever the bytes,
 * the calls must return a status (never crash, leak or read out of bounds), and a
 * report that says intact must name no bad line.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "audit/audit.h"
#include "audit/sign.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 20))
        return 0;
    unsigned flags = size && (data[0] & 1) ? COVE_AUDIT_VERIFY_ALLOW_OPEN : 0;
    struct cove_audit_report rep;
    cove_error err = {0};
    cove_status s = cove_audit_verify_mem(data, size, NULL, flags, &rep, &err);
    if ((s == COVE_OK) != rep.intact || (rep.intact && rep.bad_line != 0))
        abort();
    if (s == COVE_ERR_CHECKSUM && rep.bad_line == 0)
        abort();
    /* with a fixed key every signed checkpoint fails; unsigned ones too */
    static const unsigned char pk[COVE_AUDIT_PUBKEY_BYTES] = {1, 2, 3};
    s = cove_audit_verify_mem(data, size, pk, flags, &rep, &err);
    if (s == COVE_OK && rep.checkpoints > 0)
        abort();
    struct cove_audit_manifest m;
    if (cove_audit_manifest_parse(data, size, &m, &err) == COVE_OK)
        cove_audit_manifest_release(&m);
    return 0;
}
