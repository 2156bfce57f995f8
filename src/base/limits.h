/*
 * base/limits.h - every hard bound on input from outside, in one place.
 *
 * A buffer, count or size that grows from a file, a request or a user is
 * checked against one of these. Raising a limit is a decision made here, not
 * at the call site.
 */
#ifndef COVE_BASE_LIMITS_H
#define COVE_BASE_LIMITS_H

/* ---- command line and files ---- */
#define COVE_MAX_PATH 4096                      /* bytes in a file path */
#define COVE_MAX_PROMPT_FILE (64u << 20)        /* bytes read by --file */
#define COVE_MAX_LINE (1u << 20)                /* bytes in one text line read from outside */

/* ---- GGUF ---- */
#define COVE_GGUF_MAX_KV 65536                  /* metadata key/value pairs */
#define COVE_GGUF_MAX_TENSORS 65536             /* tensors in one file */
#define COVE_GGUF_MAX_KEY_LEN 65535             /* bytes in a metadata key */
#define COVE_GGUF_MAX_STRING (16u << 20)        /* bytes in one string value */
#define COVE_GGUF_MAX_ARRAY (1u << 26)          /* elements in one array value */
#define COVE_GGUF_MAX_ARRAY_DEPTH 8             /* nesting of arrays in arrays */
#define COVE_GGUF_MAX_DIMS 4                    /* dimensions of a tensor */
#define COVE_GGUF_MAX_NAME 64                   /* bytes in a tensor name (ggml: 64) */
#define COVE_GGUF_MAX_ALIGNMENT 65536           /* general.alignment */
#define COVE_GGUF_MAX_ARRAYS (1u << 20)         /* array values in one file, nested ones included */
#define COVE_GGUF_MAX_STRINGS (1u << 26)        /* strings inside array values, all arrays together */

/* ---- tokenizer ---- */
#define COVE_MAX_VOCAB (1u << 20)               /* tokens in a vocabulary */
#define COVE_MAX_TOKEN_BYTES 1024               /* bytes in one token's text */
#define COVE_MAX_TOKENIZE_BYTES (64u << 20)     /* bytes of text tokenized in one call */
#define COVE_MAX_MERGES (1u << 21)              /* merges in a byte-level BPE vocabulary */
#define COVE_MAX_BPE_WORD (1u << 16)            /* bytes of one pre-tokenized word merged at once;
                                                   a longer word is merged in pieces this long */

/* ---- chat templates ---- */
#define COVE_CHAT_MAX_MESSAGES 16384            /* messages formatted into one prompt */
#define COVE_CHAT_MAX_TOOLS 256                 /* tool definitions offered in one prompt */
#define COVE_CHAT_MAX_TOOL_CALLS 64             /* tool calls in one assistant turn */
#define COVE_CHAT_MAX_PROMPT_BYTES (16u << 20)  /* bytes of one formatted prompt */
#define COVE_CHAT_MAX_TEMPLATE_BYTES (16u << 20) /* bytes of a chat template text inspected */
#define COVE_CHAT_MAX_DEFAULT_SYSTEM 4096       /* bytes of a default system prompt in a template */
#define COVE_CHAT_MAX_JSON_DEPTH 128           /* nesting of a tool definition re-indented (llama 3.1) */

/* ---- model and inference ---- */
#define COVE_MAX_LAYERS 512
#define COVE_MAX_CTX (1u << 20)                 /* context length in tokens */
#define COVE_MAX_THREADS 256
#define COVE_MAX_EMBD (1u << 16)                /* embedding length of a model */
#define COVE_MAX_FF (1u << 20)                  /* feed-forward length of a model */
#define COVE_MAX_HEADS 1024                     /* attention heads per layer */
#define COVE_MAX_NAME_LEN 1024                  /* bytes in general.name / general.architecture */
#define COVE_MAX_SEQ 256                        /* sequences one context holds (n_seq_max) */
#define COVE_MAX_KV_BYTES (64ull << 30)         /* bytes of one context's KV cache, keys and
                                                   values of every layer and sequence */

/* ---- logging and errors ---- */
#define COVE_LOG_MSG_MAX 1024                   /* bytes in one log message */

/* ---- model supply ---- */
#define COVE_MAX_DOWNLOAD (64ull << 30)         /* bytes in one downloaded file */
#define COVE_MAX_CATALOGUE_BYTES (1u << 20)     /* bytes in the model catalogue */
#define COVE_MAX_CATALOGUE_ROWS 4096            /* rows (files) in the model catalogue */
#define COVE_MAX_URL 8192                       /* bytes in a download URL */

/* ---- converter: Hugging Face directories and safetensors ---- */
#define COVE_ST_MAX_HEADER (100u << 20)         /* bytes of a safetensors JSON header (the format's cap) */
#define COVE_ST_MAX_TENSORS 65536               /* tensors in one safetensors file */
#define COVE_ST_MAX_SHARDS 1024                 /* files of one sharded checkpoint */
#define COVE_ST_MAX_NAME 1024                   /* bytes in a safetensors tensor name */
#define COVE_HF_MAX_JSON (128u << 20)           /* bytes of one JSON file (tokenizer.json, config.json) */
#define COVE_HF_MAX_VOCAB_TXT (64u << 20)       /* bytes of a WordPiece vocab.txt */
#define COVE_HF_MAX_MERGES (1u << 22)           /* BPE merges of one tokenizer */
#define COVE_HF_MAX_TEMPLATE (1u << 20)         /* bytes of a chat template */

/* ---- system probing ---- */
#define COVE_MAX_SYSFS_VALUE 64                 /* bytes read from one sysfs/procfs value file */

/* ---- embeddings ---- */
#define COVE_MAX_EMBED_BATCH 65536              /* tokens in one pass of an embedder (n_batch) */

/* ---- model supply: built models; cove chat ---- */
#define COVE_MAX_CATALOGUE_BUILD 512            /* bytes in a catalogue row's build command */
#define COVE_CHAT_MAX_LINE (64u << 10)          /* bytes of one line `cove chat` reads */

#endif
