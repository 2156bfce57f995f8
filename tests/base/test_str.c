#include <stdint.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/str.h"
#include "test.h"

TEST(str_prefix_suffix)
{
    CHECK(cove_str_starts_with("hello", "he"));
    CHECK(cove_str_starts_with("hello", ""));
    CHECK(cove_str_starts_with("hello", "hello"));
    CHECK(!cove_str_starts_with("hello", "hello!"));
    CHECK(!cove_str_starts_with("", "a"));
    CHECK(cove_str_ends_with("model.gguf", ".gguf"));
    CHECK(cove_str_ends_with("x", ""));
    CHECK(cove_str_ends_with("", ""));
    CHECK(!cove_str_ends_with("gguf", ".gguf"));
    CHECK(!cove_str_ends_with("model.ggml", ".gguf"));
}

TEST(str_casecmp)
{
    CHECK_EQ_INT(cove_str_casecmp("Content-Type", "content-type"), 0);
    CHECK(cove_str_casecmp("abc", "ABD") < 0);
    CHECK(cove_str_casecmp("abd", "ABC") > 0);
    CHECK(cove_str_casecmp("ab", "abc") < 0);
    CHECK(cove_str_casecmp("abc", "ab") > 0);
    CHECK_EQ_INT(cove_str_casecmp("", ""), 0);
    CHECK(cove_str_casecmp("\xC3\x84", "\xC3\xA4") != 0); /* no case folding past ASCII */
    CHECK(cove_str_casecmp("[", "{") != 0);               /* '[' is not 'A' - 1 + 'a' */
    CHECK_EQ_INT(cove_str_ncasecmp("HELLO world", "hello there", 6), 0);
    CHECK(cove_str_ncasecmp("HELLO world", "hello there", 7) != 0);
    CHECK_EQ_INT(cove_str_ncasecmp("ab", "AB", 10), 0);
    CHECK_EQ_INT(cove_str_ncasecmp("x", "y", 0), 0);
}

TEST(str_trim)
{
    char a[] = "  \t hello world \r\n";
    CHECK_STR_EQ(cove_str_trim(a), "hello world");
    char b[] = "   ";
    CHECK_STR_EQ(cove_str_trim(b), "");
    char c[] = "";
    CHECK_STR_EQ(cove_str_trim(c), "");
    char d[] = "x";
    CHECK(cove_str_trim(d) == d);
    CHECK_STR_EQ(d, "x");
    char e[] = "\v\fmid dle\f";
    CHECK_STR_EQ(cove_str_trim(e), "mid dle");
}

TEST(str_copy)
{
    char dst[8];
    CHECK(!cove_str_copy(dst, sizeof dst, "1234567"));
    CHECK_STR_EQ(dst, "1234567");
    CHECK(cove_str_copy(dst, sizeof dst, "12345678"));
    CHECK_STR_EQ(dst, "1234567");
    CHECK(!cove_str_copy(dst, sizeof dst, ""));
    CHECK_STR_EQ(dst, "");
    CHECK(cove_str_copy(dst, 1, "a"));
    CHECK_STR_EQ(dst, "");
    dst[0] = 'q';
    CHECK(cove_str_copy(dst, 0, ""));
    CHECK_EQ_INT(dst[0], 'q'); /* nothing written */
    /* Truncation does not split a UTF-8 sequence: "abcde" + U+20AC (3 bytes). */
    CHECK(cove_str_copy(dst, sizeof dst, "abcde\xE2\x82\xAC"));
    CHECK_STR_EQ(dst, "abcde");
    CHECK(cove_str_copy(dst, sizeof dst, "abcd\xE2\x82\xAC!"));
    CHECK_STR_EQ(dst, "abcd\xE2\x82\xAC");
    CHECK(cove_str_copy(dst, 5, "\xF0\x9F\x98\x80\xF0\x9F\x98\x80"));
    CHECK_STR_EQ(dst, "\xF0\x9F\x98\x80");
    CHECK(cove_str_copy(dst, 4, "\xF0\x9F\x98\x80"));
    CHECK_STR_EQ(dst, "");
}

TEST(str_next_field)
{
    const char *cur = "a,bc,,d", *f;
    size_t n;
    const char *want[] = {"a", "bc", "", "d"};
    int k = 0;
    while (cove_str_next_field(&cur, ',', &f, &n)) {
        CHECK(k < 4);
        CHECK_EQ_INT(n, strlen(want[k]));
        CHECK(strncmp(f, want[k], n) == 0);
        k++;
    }
    CHECK_EQ_INT(k, 4);
    CHECK(cur == NULL);
    CHECK(!cove_str_next_field(&cur, ',', &f, &n));
    cur = "";
    CHECK(cove_str_next_field(&cur, ',', &f, &n));
    CHECK_EQ_INT(n, 0);
    CHECK(!cove_str_next_field(&cur, ',', &f, &n));
    cur = "x,";
    CHECK(cove_str_next_field(&cur, ',', &f, &n) && n == 1);
    CHECK(cove_str_next_field(&cur, ',', &f, &n) && n == 0);
    CHECK(!cove_str_next_field(&cur, ',', &f, &n));
    cur = "whole";
    CHECK(cove_str_next_field(&cur, '\0', &f, &n) && n == 5);
    CHECK(cur == NULL);
}

/* ---- UTF-8 ---- */

static int valid(const char *s)
{
    return cove_utf8_valid(s, strlen(s));
}

TEST(utf8_valid_cases)
{
    CHECK(cove_utf8_valid("", 0));
    CHECK(cove_utf8_valid("a\0b", 3)); /* NUL is a valid code point */
    CHECK(valid("plain ascii"));
    CHECK(valid("\xC2\x80"));         /* U+0080 */
    CHECK(valid("\xDF\xBF"));         /* U+07FF */
    CHECK(valid("\xE0\xA0\x80"));     /* U+0800 */
    CHECK(valid("\xED\x9F\xBF"));     /* U+D7FF */
    CHECK(valid("\xEE\x80\x80"));     /* U+E000 */
    CHECK(valid("\xEF\xBF\xBF"));     /* U+FFFF */
    CHECK(valid("\xF0\x90\x80\x80")); /* U+10000 */
    CHECK(valid("\xF4\x8F\xBF\xBF")); /* U+10FFFF */
    CHECK(valid("gr\xC3\xBC\xC3\x9F \xE2\x82\xAC \xF0\x9F\x98\x80"));
    /* overlong forms */
    CHECK(!valid("\xC0\x80"));
    CHECK(!valid("\xC1\xBF"));
    CHECK(!valid("\xE0\x80\x80"));
    CHECK(!valid("\xE0\x9F\xBF"));
    CHECK(!valid("\xF0\x80\x80\x80"));
    CHECK(!valid("\xF0\x8F\xBF\xBF"));
    /* surrogates */
    CHECK(!valid("\xED\xA0\x80"));
    CHECK(!valid("\xED\xBF\xBF"));
    CHECK(!valid("\xED\xA0\xBD\xED\xB8\x80")); /* CESU-8 pair */
    /* past U+10FFFF, and bytes never valid */
    CHECK(!valid("\xF4\x90\x80\x80"));
    CHECK(!valid("\xF5\x80\x80\x80"));
    CHECK(!valid("\xFF"));
    CHECK(!valid("\xFE"));
    /* stray continuation, truncated sequences */
    CHECK(!valid("\x80"));
    CHECK(!valid("a\xBF"));
    CHECK(!valid("\xC3"));
    CHECK(!valid("\xE2\x82"));
    CHECK(!valid("\xF0\x9F\x98"));
    CHECK(!valid("\xE2\x82" "a"));
    CHECK(!cove_utf8_valid("\xC3\xA4", 1)); /* length cuts the sequence */
}

TEST(utf8_decode_cases)
{
    uint32_t cp;
    CHECK_EQ_INT(cove_utf8_decode("A", 1, &cp), 1);
    CHECK_EQ_INT(cp, 'A');
    CHECK_EQ_INT(cove_utf8_decode("\xC3\xA4x", 3, &cp), 2);
    CHECK_EQ_INT(cp, 0xE4);
    CHECK_EQ_INT(cove_utf8_decode("\xE2\x82\xAC", 3, &cp), 3);
    CHECK_EQ_INT(cp, 0x20AC);
    CHECK_EQ_INT(cove_utf8_decode("\xF0\x9F\x98\x80", 4, &cp), 4);
    CHECK_EQ_INT(cp, 0x1F600);
    CHECK_EQ_INT(cove_utf8_decode("\xF4\x8F\xBF\xBF", 4, &cp), 4);
    CHECK_EQ_INT(cp, 0x10FFFF);
    CHECK_EQ_INT(cove_utf8_decode("", 0, &cp), 0);
    CHECK_EQ_INT(cove_utf8_decode("\xF0\x9F\x98\x80", 3, &cp), 0); /* truncated */
    CHECK_EQ_INT(cp, 0xFFFD);
    CHECK_EQ_INT(cove_utf8_decode("\xC0\xAF", 2, &cp), 0);         /* overlong '/' */
    CHECK_EQ_INT(cove_utf8_decode("\xED\xA0\x80", 3, &cp), 0);     /* surrogate */
    CHECK_EQ_INT(cove_utf8_decode("\x80", 1, &cp), 0);
    CHECK_EQ_INT(cove_utf8_decode("\xF8\x88\x80\x80\x80", 5, &cp), 0); /* 5-byte form */
}

TEST(utf8_encode_roundtrip)
{
    char out[4];
    CHECK_EQ_INT(cove_utf8_encode(0x24, out), 1);
    CHECK_EQ_INT((unsigned char)out[0], 0x24);
    CHECK_EQ_INT(cove_utf8_encode(0xA2, out), 2);
    CHECK(memcmp(out, "\xC2\xA2", 2) == 0);
    CHECK_EQ_INT(cove_utf8_encode(0x20AC, out), 3);
    CHECK(memcmp(out, "\xE2\x82\xAC", 3) == 0);
    CHECK_EQ_INT(cove_utf8_encode(0x10348, out), 4);
    CHECK(memcmp(out, "\xF0\x90\x8D\x88", 4) == 0);
    CHECK_EQ_INT(cove_utf8_encode(0xD800, out), 0);
    CHECK_EQ_INT(cove_utf8_encode(0xDFFF, out), 0);
    CHECK_EQ_INT(cove_utf8_encode(0x110000, out), 0);
    CHECK_EQ_INT(cove_utf8_encode(0xFFFFFFFF, out), 0);
    /* Every scalar value survives encode -> validate -> decode. */
    for (uint32_t c = 0; c <= 0x10FFFF; c++) {
        size_t n = cove_utf8_encode(c, out);
        if (c >= 0xD800 && c <= 0xDFFF) {
            CHECK_EQ_INT(n, 0);
            continue;
        }
        CHECK_MSG(n >= 1 && n <= 4, "U+%04X encodes to %zu bytes", (unsigned)c, n);
        CHECK_EQ_INT(cove_utf8_len_from_lead((unsigned char)out[0]), n);
        CHECK(cove_utf8_valid(out, n));
        uint32_t back;
        CHECK_EQ_INT(cove_utf8_decode(out, n, &back), n);
        CHECK_MSG(back == c, "U+%04X decodes to U+%04X", (unsigned)c, (unsigned)back);
    }
}

TEST(utf8_lead_lengths)
{
    CHECK_EQ_INT(cove_utf8_len_from_lead(0x00), 1);
    CHECK_EQ_INT(cove_utf8_len_from_lead(0x7F), 1);
    CHECK_EQ_INT(cove_utf8_len_from_lead(0x80), 0);
    CHECK_EQ_INT(cove_utf8_len_from_lead(0xBF), 0);
    CHECK_EQ_INT(cove_utf8_len_from_lead(0xC0), 0);
    CHECK_EQ_INT(cove_utf8_len_from_lead(0xC1), 0);
    CHECK_EQ_INT(cove_utf8_len_from_lead(0xC2), 2);
    CHECK_EQ_INT(cove_utf8_len_from_lead(0xDF), 2);
    CHECK_EQ_INT(cove_utf8_len_from_lead(0xE0), 3);
    CHECK_EQ_INT(cove_utf8_len_from_lead(0xEF), 3);
    CHECK_EQ_INT(cove_utf8_len_from_lead(0xF0), 4);
    CHECK_EQ_INT(cove_utf8_len_from_lead(0xF4), 4);
    CHECK_EQ_INT(cove_utf8_len_from_lead(0xF5), 0);
    CHECK_EQ_INT(cove_utf8_len_from_lead(0xFF), 0);
}

/* Every 1-, 2- and 3-byte string: valid() agrees with a decode walk. */
TEST(utf8_exhaustive_short)
{
    unsigned char s[3];
    for (unsigned v = 0; v < (1u << 24); v += (v < (1u << 16) ? 1 : 7)) {
        s[0] = (unsigned char)(v >> 16);
        s[1] = (unsigned char)(v >> 8);
        s[2] = (unsigned char)v;
        size_t i = 0;
        uint32_t cp;
        int ok = 1;
        while (i < 3) {
            size_t n = cove_utf8_decode(s + i, 3 - i, &cp);
            if (n == 0) {
                ok = 0;
                break;
            }
            i += n;
        }
        CHECK_EQ_INT(cove_utf8_valid(s, 3), ok);
    }
}

/* ---- JSON ---- */

static int escape_is(const char *in, size_t len, const char *want)
{
    struct cove_buf b;
    cove_buf_init(&b, 1 << 16);
    int ok = cove_json_escape(&b, in, len) == COVE_OK &&
             strcmp(b.data ? b.data : "", want) == 0;
    if (!ok)
        fprintf(stderr, "  escape gave \"%s\", want \"%s\"\n", b.data ? b.data : "", want);
    cove_buf_release(&b);
    return ok;
}

#define ESC(lit, want) escape_is(lit, sizeof lit - 1, want)

TEST(json_escape_cases)
{
    CHECK(ESC("", ""));
    CHECK(ESC("plain text", "plain text"));
    CHECK(ESC("say \"hi\"", "say \\\"hi\\\""));
    CHECK(ESC("back\\slash", "back\\\\slash"));
    CHECK(ESC("a/b", "a/b"));
    CHECK(ESC("\b\f\n\r\t", "\\b\\f\\n\\r\\t"));
    CHECK(ESC("\x01\x1f", "\\u0001\\u001f"));
    CHECK(ESC("nul\0here", "nul\\u0000here"));
    CHECK(ESC("\x7f", "\x7f"));
    CHECK(ESC("caf\xC3\xA9 \xF0\x9F\x98\x80", "caf\xC3\xA9 \xF0\x9F\x98\x80"));
    CHECK(ESC("\xE2\x80\xA8|\xE2\x80\xA9", "\\u2028|\\u2029"));
    /* invalid UTF-8: one U+FFFD per maximal subpart */
    CHECK(ESC("a\xFF" "b", "a\xEF\xBF\xBD" "b"));
    CHECK(ESC("\xE2\x82" "x", "\xEF\xBF\xBD" "x"));             /* truncated 3-byte */
    CHECK(ESC("\xF0\x9F\x98", "\xEF\xBF\xBD"));                 /* truncated at the end */
    CHECK(ESC("\xC0\xAF", "\xEF\xBF\xBD\xEF\xBF\xBD"));         /* overlong: 2 bad bytes */
    CHECK(ESC("\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD")); /* surrogate */
    CHECK(ESC("\x80\x80", "\xEF\xBF\xBD\xEF\xBF\xBD"));
    CHECK(ESC("\xF4\x90\x80\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"));
}

TEST(json_escape_output_is_valid)
{
    /* Escape every byte value pair; the result must be valid UTF-8 with no raw controls. */
    struct cove_buf b;
    cove_buf_init(&b, 1 << 20);
    unsigned char in[2];
    for (int x = 0; x < 256; x++) {
        for (int y = 0; y < 256; y++) {
            in[0] = (unsigned char)x;
            in[1] = (unsigned char)y;
            cove_buf_reset(&b);
            CHECK_OK(cove_json_escape(&b, in, 2));
            CHECK(cove_utf8_valid(b.data, b.len));
            for (size_t i = 0; i < b.len; i++)
                CHECK((unsigned char)b.data[i] >= 0x20);
        }
    }
    cove_buf_release(&b);
}

TEST(json_append_string_and_failures)
{
    struct cove_buf b;
    cove_buf_init(&b, 12);
    CHECK_OK(cove_json_append_string(&b, "a\"b", 3));
    CHECK_STR_EQ(b.data, "\"a\\\"b\"");
    /* Does not fit: the buffer content stays as it was. */
    CHECK_EQ_INT(cove_json_append_string(&b, "\n\n\n", 3), COVE_ERR_LIMIT);
    CHECK_STR_EQ(b.data, "\"a\\\"b\"");
    CHECK_EQ_INT(cove_json_escape(&b, "abc\ndef", 7), COVE_ERR_LIMIT);
    CHECK_STR_EQ(b.data, "\"a\\\"b\"");
    CHECK_EQ_INT(b.len, 6);
    cove_buf_release(&b);

    const char *text = "tab\there \xFF quote\" end";
    struct cove_buf one;
    cove_buf_init(&one, 100);
    CHECK_OK(cove_json_append_string(&one, text, strlen(text)));
    CHECK_STR_EQ(one.data, "\"tab\\there \xEF\xBF\xBD quote\\\" end\"");
    size_t one_len = one.len;
    cove_buf_release(&one);
    long n;
    for (n = 1; n < 50; n++) {
        struct cove_buf c;
        cove_buf_init(&c, 1 << 20);
        cove_alloc_fail_at(n, 1);
        cove_status st = COVE_OK;
        for (int i = 0; i < 200 && st == COVE_OK; i++)
            st = cove_json_append_string(&c, text, strlen(text));
        cove_alloc_fail_at(0, 0);
        if (st != COVE_OK) {
            CHECK_EQ_INT(st, COVE_ERR_NOMEM);
            CHECK(c.len % one_len == 0); /* whole strings only */
        }
        cove_buf_release(&c);
        if (st == COVE_OK)
            break;
    }
    CHECK(n > 1 && n < 50);
}
