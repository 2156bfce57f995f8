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

/* ---- JSON Schema: conversion to GBNF and validation ---- */
#define COVE_SCHEMA_MAX_BYTES (4u << 20)        /* bytes of one schema or instance text */
#define COVE_SCHEMA_MAX_DEPTH 64                /* nesting of subschemas walked at once */
#define COVE_SCHEMA_MAX_RULES 16384             /* rules in one generated grammar */
#define COVE_SCHEMA_MAX_GBNF (8u << 20)         /* bytes of one generated grammar */
#define COVE_SCHEMA_MAX_PATTERN 4096            /* bytes of one "pattern" regex */
#define COVE_SCHEMA_MAX_REPEAT 1024             /* a bound turned into {m,n} (minLength, maxItems...) */
#define COVE_SCHEMA_MAX_ENUM 4096               /* values in one enum */
#define COVE_SCHEMA_MAX_PROPS 1024              /* properties of one object schema */
#define COVE_SCHEMA_MAX_REFS 4096               /* distinct $ref targets made into rules */
#define COVE_SCHEMA_MAX_WS 8                    /* optional whitespace bytes between tokens */
#define COVE_SCHEMA_MAX_TOOLS 256               /* tools in one tool-call grammar */
#define COVE_SCHEMA_MAX_VALIDATE_STEPS (1u << 24) /* subschema visits of one validation */

/* ---- knowledge base ---- */
#define COVE_KB_MAX_FILE (64ll << 20)           /* bytes of one ingested file (default; larger: skipped) */
#define COVE_KB_MAX_TEXT (64u << 20)            /* bytes of text extracted from one file (pdftotext output) */
#define COVE_KB_CONVERTER_AS (2ull << 30)        /* address space of a sandboxed converter (pdftotext) */
#define COVE_KB_MAX_CONVERTER_ARGS 16           /* argv entries of a converter */
#define COVE_KB_MAX_FILES (1u << 20)            /* files one ingestion looks at */
#define COVE_KB_MAX_DEPTH 64                    /* directory nesting walked by ingestion */
#define COVE_KB_MAX_CHUNKS_DOC 100000           /* chunks of one document */
#define COVE_KB_MAX_K 1000                      /* results of one search */
#define COVE_KB_MAX_QUERY 8192                  /* bytes of one search query */
#define COVE_KB_MAX_QUERY_TERMS 64              /* words of a keyword query */
#define COVE_KB_ANN_THRESHOLD 20000             /* vectors from which the HNSW index is used */
#define COVE_KB_ANN_MAX_REMOVED_PCT 20          /* removed HNSW nodes (% of all) before a rebuild */
#define COVE_KB_ANN_LAZY_INSERT 5000            /* new vectors a search inserts into a stale index */
#define COVE_KB_MAX_VECTORS (1ll << 26)         /* vectors one store's search loads */

/* ---- agents ---- */
#define COVE_AGENT_MAX_TOOLS 64                 /* tools in one registry */
#define COVE_AGENT_MAX_ROOTS 16                 /* --root directories of one agent */
#define COVE_AGENT_MAX_STEPS 64                 /* steps of one run (max_steps policy) */
#define COVE_AGENT_MAX_SUBGOALS 8               /* sub-goals one request is split into */
#define COVE_AGENT_MAX_CITATIONS 16             /* citations of one final answer */
#define COVE_AGENT_MAX_SOURCES 256              /* retrieved chunks/files one run remembers */
#define COVE_AGENT_MAX_ARGS (64u << 10)         /* bytes of one tool call's arguments JSON */
#define COVE_AGENT_MAX_OBSERVATION (256u << 10) /* bytes of one observation (tool limit caps lower) */
#define COVE_AGENT_MAX_PLAN (64u << 10)         /* bytes of one model output (a plan) */
#define COVE_AGENT_MAX_REQUEST (64u << 10)      /* bytes of one request */
#define COVE_AGENT_MAX_PROMPT (1u << 20)        /* bytes of one agent prompt, history included */
#define COVE_AGENT_MAX_CONFIG (1u << 20)        /* bytes of an agent config file */
#define COVE_AGENT_MAX_FILE_READ (1u << 20)     /* bytes read_file returns at most */
#define COVE_AGENT_MAX_SANDBOX_RESULT (4u << 20) /* bytes a sandboxed tool call sends back */
#define COVE_AGENT_SANDBOX_HEAP (256ull << 20)  /* address space a sandboxed tool may add */
#define COVE_AGENT_MAX_PLUGINS 16               /* plugins of one agent */
#define COVE_AGENT_MAX_LIST (1000)              /* entries list_files returns */
#define COVE_AGENT_MAX_NOTE (16u << 10)         /* bytes of one session note */
#define COVE_AGENT_MAX_SESSION_ID 64            /* bytes of a session id */
#define COVE_AGENT_MAX_EXPR 4096                /* bytes of a calculator expression */
#define COVE_AGENT_MAX_DEVICES 1024             /* devices device_control lists */
#define COVE_AGENT_MAX_DEVICE_NAME 64           /* bytes of a device name device_control matches */
#define COVE_AGENT_MAX_ROOT_NAME 256            /* bytes of a root's name (last component),
                                                   NUL included; longer read:NAME refused */
#define COVE_AGENT_MAX_SOURCE_ID (COVE_MAX_PATH + 300) /* bytes of a source id ("file:ROOT/PATH"),
                                                   NUL included, also in a sandboxed result */
#define COVE_AGENT_MAX_PLUGIN_ROOT_ARG (COVE_MAX_PATH + COVE_AGENT_MAX_ROOT_NAME + 4)
                                                /* bytes of a plugin's "NAME=PATH" argument */
#define COVE_AGENT_DEFAULT_TIMEOUT_MS 10000     /* deadline of every plugin call, and of a
                                                   sandboxed tool call whose tool sets none */
#define COVE_AGENT_MAX_CAL_REQUEST 240          /* bytes of one calibration request (action
                                                   scoring: "Request: " and a tool's example) */

/* ---- HTTP server (cove serve) ---- */
#define COVE_SERVER_MAX_BODY (8u << 20)         /* bytes of one request body (413 beyond) */
#define COVE_SERVER_MAX_CONNECTIONS 512         /* client connections open at once */
#define COVE_SERVER_MAX_TENANTS 4096            /* KEY TENANT lines of an --api-key-file */
#define COVE_SERVER_MAX_KEY 256                 /* bytes of one API key or tenant name */
#define COVE_SERVER_TENANT_CONCURRENT 32        /* requests one tenant runs at once by
                                                   default (429 beyond) */
#define COVE_SERVER_MAX_TOKENS 32768            /* n_predict / max_tokens of one request */
#define COVE_SERVER_DEFAULT_TOKENS 256          /* tokens generated when a request says none */
#define COVE_SERVER_MAX_STOP 16                 /* stop strings of one request */
#define COVE_SERVER_MAX_STOP_LEN 256            /* bytes of one stop string */
#define COVE_SERVER_MAX_EMBED_INPUTS 2048       /* texts of one /v1/embeddings request */
#define COVE_SERVER_MAX_REQUEST_MEM (64u << 20) /* bytes of one request's arena */
#define COVE_SERVER_MAX_STREAM_PENDING (4u << 20) /* bytes of output queued for a slow client
                                                   before its request is cancelled */
#define COVE_SERVER_MAX_OUTPUT (16u << 20)      /* bytes of one generated text */
#define COVE_SERVER_MAX_TOP_LOGPROBS 20         /* top_logprobs of one request */
#define COVE_SERVER_MAX_AGENTS 32               /* --agent configs of one server */

/* ---- scheduler (engine/sched) ---- */
#define COVE_SCHED_MAX_QUEUE 65536              /* requests waiting for a slot (n_queue_max) */
#define COVE_SCHED_MAX_TEXT (16u << 20)         /* bytes of one request's generated text */

/* ---- sandbox ---- */
#define COVE_SANDBOX_MAX_PATHS 32               /* paths in each list of a sandbox policy */
#define COVE_SANDBOX_MAX_ARGS 256               /* argv entries of a sandboxed program */
#define COVE_SANDBOX_MAX_KEEP_FDS 16            /* descriptors a policy passes into the child */
#define COVE_SANDBOX_MAX_OUTPUT (256u << 20)    /* bytes of output one sandboxed run may return */
#define COVE_SANDBOX_MAX_STDIN (256u << 20)     /* bytes given as a sandboxed program's stdin */
#define COVE_SANDBOX_MAX_STDERR 4096            /* bytes of a program's stderr kept for its error */
#define COVE_SANDBOX_MAX_TIMEOUT_MS 3600000u    /* wall-clock deadline of one sandboxed run */
#define COVE_SANDBOX_DEFAULT_OUTPUT (16u << 20) /* default output bound */
#define COVE_SANDBOX_DEFAULT_TIMEOUT_MS 30000u  /* default wall-clock deadline */
#define COVE_SANDBOX_DEFAULT_CPU_S 10           /* default RLIMIT_CPU seconds */
#define COVE_SANDBOX_DEFAULT_AS (1ull << 30)    /* default RLIMIT_AS bytes */
#define COVE_SANDBOX_DEFAULT_FSIZE (64ull << 20) /* default RLIMIT_FSIZE bytes */

/* ---- audit log and signed manifests ---- */
#define COVE_AUDIT_MAX_DESCRIPTION 1024        /* bytes of a manifest's "description" */
#define COVE_AUDIT_MAX_FIELD (1u << 20)         /* bytes of one stored text/args field (longer: cut) */
#define COVE_AUDIT_MAX_ID 1024                  /* bytes of tenant, session, tool, model, decision */
#define COVE_AUDIT_MAX_RECORD (4u << 20)        /* bytes of one record line */
#define COVE_AUDIT_MAX_REDACT 64                /* redaction patterns */
#define COVE_AUDIT_MAX_TRUSTED 1024             /* keys in a trust set */
#define COVE_AUDIT_MAX_MANIFEST (1u << 20)      /* bytes of a manifest file */
#define COVE_AUDIT_MAX_KEYFILE 4096             /* bytes of a key or signature file */

/* ---- grammars (GBNF) and token masks ---- */
#define COVE_GRAMMAR_MAX_TEXT (16u << 20)       /* bytes of one GBNF text */
#define COVE_GRAMMAR_MAX_RULES 65536            /* rules in one grammar, generated ones included */
#define COVE_GRAMMAR_MAX_NODES (1u << 20)       /* syntax nodes of one grammar */
#define COVE_GRAMMAR_MAX_DEPTH 256              /* nesting of ( ) in one rule */
#define COVE_GRAMMAR_MAX_REPEAT 10000           /* m and n of {m,n} */
#define COVE_GRAMMAR_MAX_STATES (1u << 18)      /* byte-automaton states of one grammar */
#define COVE_GRAMMAR_MAX_CLOSURE (1u << 21)     /* precomputed closure items of one grammar */
#define COVE_GRAMMAR_MAX_STACKS 1024            /* parse stacks alive in one matcher state */
#define COVE_GRAMMAR_MAX_STACK_DEPTH 1024       /* rule calls open at once in one stack */
#define COVE_GRAMMAR_MAX_CACHE_BYTES (256u << 20) /* caches of one grammar; flushed past this */

#endif
