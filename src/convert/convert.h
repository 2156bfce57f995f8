/*
 * convert/convert.h - Hugging Face checkpoints to GGUF (`cove convert`) and requantizing
 * GGUF files (`cove quantize`).
 *
 * cove_convert_hf reads a Hugging Face style model directory:
 *     config.json                          architecture and hyper-parameters
 *     model.safetensors                    the weights (F32, F16 or BF16), or
 *     model.safetensors.index.json         + the shards it names (model-0000N-of-0000M...)
 *     tokenizer.json or vocab.txt          the vocabulary (BPE or WordPiece)
 *     tokenizer_config.json                special tokens, add_bos_token, chat_template
 *     special_tokens_map.json              special tokens (when tokenizer_config lacks them)
 *     chat_template.jinja                  chat template (newer layout)
 *     modules.json, 1_Pooling/config.json  sentence-transformers: pooling, normalisation
 * of the families llama (and mistral), qwen2, qwen3, gemma3 and bert, and writes one GGUF
 * file with the standard key and tensor names (docs/convert.md lists them, with every
 * transformation the weights go through).
 *
 * The output is written to a temporary file beside `out_path`, fsynced and renamed over
 * it: on failure `out_path` is untouched. Conversion is deterministic: the same inputs and
 * parameters give the same bytes on every machine.
 *
 * Memory: the weights are mmapped read-only and converted a few megabytes at a time, so a
 * conversion needs little memory beyond the page cache, whatever the model's size.
 *
 * Errors name the file and the problem ("model.safetensors: tensor 'x': data_offsets
 * [0, 12] end past the end of the data (8 bytes)"). Nothing here exits or aborts on input.
 */
#ifndef COVE_CONVERT_H
#define COVE_CONVERT_H

#include <stdint.h>

#include "cove/status.h"
#include "engine/gguf/gguf.h"

/* Called between chunks of tensor data: `done` of `total` bytes of output written. */
typedef void (*cove_convert_progress_fn)(void *ctx, const char *tensor, uint64_t done,
                                         uint64_t total);

typedef struct cove_convert_params {
    enum cove_ggml_type type;  /* type of the 2-D weight matrices (cove_convert_type_ok);
                                  default COVE_TYPE_F16 */
    int vocab_only;            /* 1: metadata and vocabulary only, no tensors; the weights
                                  need not be present. Default 0 */
    const char *name;          /* general.name; NULL: the directory's last component */
    const char *pre;           /* tokenizer.ggml.pre to write instead of the detected one;
                                  NULL: detect (docs/convert.md says how) */
    cove_convert_progress_fn progress; /* may be NULL */
    void *progress_ctx;
} cove_convert_params;

cove_convert_params cove_convert_default_params(void);

/* What a conversion or requantization wrote. */
typedef struct cove_convert_report {
    char arch[32];          /* general.architecture */
    char tok_model[16];     /* tokenizer.ggml.model ("gpt2", "llama", "bert"); "" if none */
    char pre[64];           /* tokenizer.ggml.pre; "" if none */
    uint32_t n_vocab;       /* tokens in the vocabulary */
    uint64_t n_tensors;     /* tensors written */
    uint64_t n_params;      /* elements in all tensors */
    uint64_t n_quantized;   /* tensors written in a quantized type */
    uint64_t n_fallback;    /* 2-D weights written as F16 because their rows are not whole
                               blocks of the requested type */
    uint64_t out_bytes;     /* size of the output file */
} cove_convert_report;

/*
 * Convert the Hugging Face directory `dir` into the GGUF file `out_path`. `params` may be
 * NULL (defaults); `report` may be NULL. Fails with COVE_ERR_NOT_FOUND (a file the model
 * needs is missing), COVE_ERR_FORMAT (malformed JSON or safetensors, a shape that does not
 * fit the configuration), COVE_ERR_UNSUPPORTED (another architecture, tokenizer or dtype),
 * COVE_ERR_LIMIT (a size past limits.h), COVE_ERR_IO, COVE_ERR_NOMEM,
 * COVE_ERR_INVALID_ARG (bad parameters).
 */
cove_status cove_convert_hf(const char *dir, const char *out_path,
                            const cove_convert_params *params, cove_convert_report *report,
                            cove_error *err);

/* 1 when `t` is a type these tools write: f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q2_k q3_k
 * q4_k q5_k q6_k. */
int cove_convert_type_ok(enum cove_ggml_type t);

/* general.file_type (llama_ftype numbering) of a file whose weights are mostly `t`. */
uint32_t cove_convert_file_type(enum cove_ggml_type t);

typedef struct cove_quantize_params {
    enum cove_ggml_type type;          /* target type (cove_convert_type_ok) */
    cove_convert_progress_fn progress; /* may be NULL */
    void *progress_ctx;
} cove_quantize_params;

/*
 * Requantize the GGUF file `in_path` into `out_path` (which must differ): every 2-D weight
 * matrix (blk.*, token_embd, output and the like; not position or token-type tables) whose
 * rows are whole blocks of params->type is dequantized to f32 and quantized to that type;
 * other tensors are copied byte for byte (a weight whose rows are not whole blocks keeps its
 * type; report->n_fallback counts them). A tensor already of the target type is copied, not
 * requantized. All metadata is copied; general.file_type and
 * general.quantization_version are set. Errors as cove_convert_hf, and
 * COVE_ERR_UNSUPPORTED for a tensor type that cannot be dequantized.
 */
cove_status cove_convert_quantize(const char *in_path, const char *out_path,
                                  const cove_quantize_params *params,
                                  cove_convert_report *report, cove_error *err);

#endif
