/*
 * tests/fuzz/gen_corpus_gguf.c - writes the seed corpus of fuzz_gguf: a few
 * small valid GGUF files (under 4 KB each) made with cove's writer.
 *
 *   ./gen_corpus_gguf tests/fuzz/corpus/gguf
 */
#include <stdio.h>
#include <string.h>

#include "engine/gguf/gguf.h"

static int save(cove_gguf_writer *w, const char *dir, const char *name)
{
    char path[4096];
    cove_error err = {0};
    snprintf(path, sizeof path, "%s/%s", dir, name);
    cove_status st = cove_gguf_writer_save(w, path, &err);
    cove_gguf_writer_free(w);
    if (st != COVE_OK)
        fprintf(stderr, "gen_corpus_gguf: %s: %s\n", path, cove_error_msg(&err));
    return st == COVE_OK ? 0 : 1;
}

static int scalars(const char *dir)
{
    cove_gguf_writer *w;
    uint8_t u8 = 7, b = 1;
    int8_t i8 = -7;
    uint16_t u16 = 700;
    int16_t i16 = -700;
    int64_t i64 = -7000000000ll;
    double f64 = 0.125;
    if (cove_gguf_writer_create(&w) != COVE_OK)
        return 1;
    cove_gguf_writer_set_scalar(w, "u8", COVE_GGUF_UINT8, &u8);
    cove_gguf_writer_set_scalar(w, "i8", COVE_GGUF_INT8, &i8);
    cove_gguf_writer_set_scalar(w, "u16", COVE_GGUF_UINT16, &u16);
    cove_gguf_writer_set_scalar(w, "i16", COVE_GGUF_INT16, &i16);
    cove_gguf_writer_set_scalar(w, "i64", COVE_GGUF_INT64, &i64);
    cove_gguf_writer_set_scalar(w, "f64", COVE_GGUF_FLOAT64, &f64);
    cove_gguf_writer_set_scalar(w, "b", COVE_GGUF_BOOL, &b);
    cove_gguf_writer_set_u32(w, "u32", 70000);
    cove_gguf_writer_set_i32(w, "i32", -70000);
    cove_gguf_writer_set_u64(w, "u64", 7000000000ull);
    cove_gguf_writer_set_f32(w, "f32", 1.5f);
    cove_gguf_writer_set_str(w, "general.name", "seed \xc3\xa9");
    return save(w, dir, "scalars.gguf");
}

static int arrays(const char *dir)
{
    static const int32_t ints[5] = {1, -2, 3, -4, 5};
    static const float floats[3] = {0.5f, -1.0f, 2.0f};
    static const char *strs[4] = {"", "a", "\xe4\xb8\x80", "<0x0A>"};
    static const uint8_t nested[] = {9, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0,                         /* 2 arrays */
                                     5, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, /* [1, 2] */
                                     9, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,                         /* [[ */
                                     8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0,                         /* "x" */
                                     1, 0, 0, 0, 0, 0, 0, 0, 'x'};
    cove_gguf_writer *w;
    if (cove_gguf_writer_create(&w) != COVE_OK)
        return 1;
    cove_gguf_writer_set_arr(w, "ints", COVE_GGUF_INT32, ints, 5);
    cove_gguf_writer_set_arr(w, "floats", COVE_GGUF_FLOAT32, floats, 3);
    cove_gguf_writer_set_arr(w, "empty", COVE_GGUF_UINT8, NULL, 0);
    cove_gguf_writer_set_arr_str(w, "strs", strs, 4);
    cove_gguf_writer_set_raw(w, "nested", COVE_GGUF_ARRAY, nested, sizeof nested, NULL);
    return save(w, dir, "arrays.gguf");
}

static int tensors(const char *dir, const char *name, uint32_t align)
{
    static uint8_t buf[1024];
    uint64_t ne2[2] = {4, 3}, ne32[1] = {32}, ne256[1] = {256}, ne4[4] = {2, 2, 1, 2};
    cove_gguf_writer *w;
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 13 + 1);
    if (cove_gguf_writer_create(&w) != COVE_OK)
        return 1;
    if (align)
        cove_gguf_writer_set_u32(w, "general.alignment", align);
    cove_gguf_writer_set_str(w, "general.architecture", "llama");
    cove_gguf_writer_add_tensor(w, "token_embd.weight", COVE_TYPE_F32, 2, ne2, buf);
    cove_gguf_writer_add_tensor(w, "blk.0.attn_q.weight", COVE_TYPE_F16, 2, ne2, buf);
    cove_gguf_writer_add_tensor(w, "blk.0.ffn_up.weight", COVE_TYPE_Q8_0, 1, ne32, buf);
    cove_gguf_writer_add_tensor(w, "blk.0.ffn_down.weight", COVE_TYPE_Q4_K, 1, ne256, buf);
    cove_gguf_writer_add_tensor(w, "output_norm.weight", COVE_TYPE_BF16, 4, ne4, buf);
    return save(w, dir, name);
}

static int vocab(const char *dir)
{
    const char *tokens[24];
    char text[24][8];
    float scores[24];
    int32_t types[24];
    cove_gguf_writer *w;
    for (int i = 0; i < 24; i++) {
        snprintf(text[i], sizeof text[i], i < 3 ? "<%d>" : "tok%d", i);
        tokens[i] = text[i];
        scores[i] = -(float)i;
        types[i] = i < 3 ? 3 : 1;
    }
    if (cove_gguf_writer_create(&w) != COVE_OK)
        return 1;
    cove_gguf_writer_set_str(w, "tokenizer.ggml.model", "llama");
    cove_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", tokens, 24);
    cove_gguf_writer_set_arr(w, "tokenizer.ggml.scores", COVE_GGUF_FLOAT32, scores, 24);
    cove_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", COVE_GGUF_INT32, types, 24);
    cove_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1);
    cove_gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", 1);
    return save(w, dir, "vocab.gguf");
}

int main(int argc, char **argv)
{
    cove_gguf_writer *w;
    if (argc != 2) {
        fprintf(stderr, "usage: gen_corpus_gguf DIR\n");
        return 2;
    }
    int bad = cove_gguf_writer_create(&w) != COVE_OK || save(w, argv[1], "minimal.gguf");
    bad |= scalars(argv[1]) | arrays(argv[1]) | vocab(argv[1]);
    bad |= tensors(argv[1], "tensors.gguf", 0) | tensors(argv[1], "tensors-align8.gguf", 8);
    return bad;
}
