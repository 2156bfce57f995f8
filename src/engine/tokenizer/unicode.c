/*
 * engine/tokenizer/unicode.c - look-ups in the generated Unicode tables.
 */
#include "engine/tokenizer/unicode.h"

/* Hangul syllables decompose arithmetically (Unicode 3.12). */
#define HANGUL_S 0xAC00u
#define HANGUL_L 0x1100u
#define HANGUL_V 0x1161u
#define HANGUL_T 0x11A7u
#define HANGUL_V_COUNT 21u
#define HANGUL_T_COUNT 28u
#define HANGUL_COUNT 11172u

unsigned cove_uni_flags(uint32_t cp)
{
    if (cp < 256)
        return cove_uni_flags_lo[cp];
    if (cp > 0x10FFFF)
        return 0;
    /* the last range whose start is <= cp */
    size_t lo = 0, hi = cove_uni_range_count;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (cove_uni_range_start[mid] <= cp)
            lo = mid;
        else
            hi = mid;
    }
    return cove_uni_range_flags[lo];
}

size_t cove_uni_next(const char *s, size_t len, uint32_t *cp)
{
    const uint8_t *p = (const uint8_t *)s;
    uint8_t c = p[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t n;
    uint32_t v, min;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2, v = c & 0x1Fu, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3, v = c & 0x0Fu, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4, v = c & 0x07u, min = 0x10000;
    } else {
        *cp = COVE_UNI_INVALID;
        return 1;
    }
    if (n > len) {
        *cp = COVE_UNI_INVALID;
        return 1;
    }
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            *cp = COVE_UNI_INVALID;
            return 1;
        }
        v = (v << 6) | (p[i] & 0x3Fu);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
        *cp = COVE_UNI_INVALID;
        return 1;
    }
    *cp = v;
    return n;
}

size_t cove_uni_put(uint32_t cp, char *out)
{
    uint8_t *o = (uint8_t *)out;
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (uint8_t)(0xC0 | (cp >> 6));
        o[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xE0 | (cp >> 12));
        o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (uint8_t)(0xF0 | (cp >> 18));
    o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

/* Look `cp` up in a generated map; returns its length, or 1 (itself) when absent. */
static size_t map_lookup(const uint32_t *keys, const uint32_t *vals, const uint32_t *pool,
                         size_t count, uint32_t cp, uint32_t out[COVE_UNI_MAP_MAX])
{
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (keys[mid] < cp) {
            lo = mid + 1;
        } else if (keys[mid] > cp) {
            hi = mid;
        } else {
            size_t n = vals[mid] & 7u, off = vals[mid] >> 3;
            for (size_t i = 0; i < n; i++)
                out[i] = pool[off + i];
            return n;
        }
    }
    out[0] = cp;
    return 1;
}

size_t cove_uni_lower(uint32_t cp, uint32_t out[COVE_UNI_MAP_MAX])
{
    if (cp < 0x80) {
        out[0] = cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
        return 1;
    }
    return map_lookup(cove_uni_lower_keys, cove_uni_lower_vals, cove_uni_lower_pool,
                      cove_uni_lower_count, cp, out);
}

size_t cove_uni_strip(uint32_t cp, uint32_t out[COVE_UNI_MAP_MAX])
{
    if (cp < 0xC0) {
        out[0] = cp;
        return 1;
    }
    if (cp >= HANGUL_S && cp < HANGUL_S + HANGUL_COUNT) {
        uint32_t s = cp - HANGUL_S, t = s % HANGUL_T_COUNT;
        out[0] = HANGUL_L + s / (HANGUL_V_COUNT * HANGUL_T_COUNT);
        out[1] = HANGUL_V + (s % (HANGUL_V_COUNT * HANGUL_T_COUNT)) / HANGUL_T_COUNT;
        if (t == 0)
            return 2;
        out[2] = HANGUL_T + t;
        return 3;
    }
    if (cove_uni_flags(cp) & COVE_UNI_MN)
        return 0;
    return map_lookup(cove_uni_strip_keys, cove_uni_strip_vals, cove_uni_strip_pool,
                      cove_uni_strip_count, cp, out);
}
