/*
 * app/cmd_inspect.c - `cove inspect [--json] MODEL`: a GGUF file's header,
 * metadata and tensor table, as text for people or JSON for programs.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "engine/gguf/gguf.h"

#define SHOW_ITEMS 8       /* array elements shown before "..." */
#define SHOW_STR_BYTES 60  /* bytes of a string shown in text mode */
#define KEY_COLUMN 40      /* width of the key column in text mode */

static void print_help(void)
{
    printf("usage: cove inspect [--json] MODEL\n\n"
           "Opens the GGUF file MODEL, checks its whole header (every count, string,\n"
           "offset and tensor size) and prints:\n"
           "  - the GGUF version, alignment, start of the tensor data and file size;\n"
           "  - every metadata key with its type and value; arrays longer than %d items\n"
           "    are abbreviated as [N items: first, second, ...];\n"
           "  - the tensor table (name, type, shape, offset in the data section, bytes)\n"
           "    and a total.\n\n"
           "options:\n"
           "  --json     print one JSON object instead of text (arrays give their count\n"
           "             and their first %d items)\n"
           "  -h, --help show this help\n\n"
           "Exit status: 0 on success, 1 when the file cannot be read or is damaged\n"
           "(the reason goes to stderr), 2 on bad usage.\n",
           SHOW_ITEMS, SHOW_ITEMS);
}

/* ---- text ---- */

/* A quoted, escaped, possibly shortened string. */
static void text_str(const char *p, uint64_t n)
{
    uint64_t show = n > SHOW_STR_BYTES ? SHOW_STR_BYTES : n;
    while (show < n && show > 0 && ((uint8_t)p[show] & 0xC0) == 0x80)
        show--; /* do not cut a UTF-8 character */
    putchar('"');
    for (uint64_t i = 0; i < show; i++) {
        uint8_t c = (uint8_t)p[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c == '\n')
            fputs("\\n", stdout);
        else if (c == '\t')
            fputs("\\t", stdout);
        else if (c < 0x20 || c == 0x7F)
            printf("\\x%02x", c);
        else
            putchar(c);
    }
    putchar('"');
    if (show < n)
        printf("...(%" PRIu64 " bytes)", n);
}

/* The shortest decimal that reads back as the same float32 or float64. */
static void print_float(double x, int is_f32, int json)
{
    char buf[40];
    if (x != x || x - x != 0) { /* NaN or infinite: not a JSON number */
        printf(json ? "null" : "%g", x);
        return;
    }
    for (int prec = is_f32 ? 6 : 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, x);
        double back = strtod(buf, NULL);
        if (is_f32 ? (float)back == (float)x : back == x)
            break;
    }
    fputs(buf, stdout);
}

/* A key in a column of KEY_COLUMN; quoted and escaped when it holds control characters. */
static void text_name(cove_gguf_str k)
{
    for (uint64_t i = 0; i < k.len; i++)
        if ((uint8_t)k.ptr[i] < 0x20 || k.ptr[i] == 0x7F) {
            text_str(k.ptr, k.len);
            return;
        }
    printf("%-*.*s", KEY_COLUMN, (int)k.len, k.ptr);
}

static void print_number(const cove_gguf_value *v, int json)
{
    switch (v->type) {
    case COVE_GGUF_INT8:
    case COVE_GGUF_INT16:
    case COVE_GGUF_INT32:
    case COVE_GGUF_INT64: printf("%" PRId64, v->v.i64); break;
    case COVE_GGUF_FLOAT32:
    case COVE_GGUF_FLOAT64: print_float(v->v.f64, v->type == COVE_GGUF_FLOAT32, json); break;
    case COVE_GGUF_BOOL: fputs(v->v.u64 ? "true" : "false", stdout); break;
    default: printf("%" PRIu64, v->v.u64); break;
    }
}

static void json_str(const char *p, uint64_t n);

static void print_value(const cove_gguf *g, const cove_gguf_value *v, int json);

/* Text: [a, b] or [N items: a, b, ...]. JSON: {"elem_type", "count", "items": first ones}. */
static void print_array(const cove_gguf *g, const cove_gguf_value *v, int json)
{
    uint64_t n = v->v.arr.count, show = n > SHOW_ITEMS ? SHOW_ITEMS : n;
    if (json)
        printf("{\"elem_type\":\"%s\",\"count\":%" PRIu64 ",\"items\":[",
               cove_gguf_vtype_name(v->v.arr.elem_type), n);
    else if (n > SHOW_ITEMS)
        printf("[%" PRIu64 " items: ", n);
    else
        putchar('[');
    for (uint64_t i = 0; i < show; i++) {
        cove_gguf_value e;
        if (cove_gguf_arr_get(g, v, i, &e) != COVE_OK)
            break;
        if (i)
            fputs(json ? "," : ", ", stdout);
        print_value(g, &e, json);
    }
    if (!json && n > SHOW_ITEMS)
        fputs(", ...", stdout);
    fputs(json ? "]}" : "]", stdout);
}

static void print_value(const cove_gguf *g, const cove_gguf_value *v, int json)
{
    if (v->type == COVE_GGUF_STRING) {
        if (json)
            json_str(v->v.str.ptr, v->v.str.len);
        else
            text_str(v->v.str.ptr, v->v.str.len);
    } else if (v->type == COVE_GGUF_ARRAY) {
        print_array(g, v, json);
    } else {
        print_number(v, json);
    }
}

static void type_label(const cove_gguf_value *v, char *buf, size_t cap)
{
    if (v->type == COVE_GGUF_ARRAY)
        snprintf(buf, cap, "array[%s]", cove_gguf_vtype_name(v->v.arr.elem_type));
    else
        snprintf(buf, cap, "%s", cove_gguf_vtype_name(v->type));
}

static void shape_str(const cove_gguf_tensor *t, char *buf, size_t cap)
{
    size_t o = (size_t)snprintf(buf, cap, "[");
    for (uint32_t d = 0; d < t->n_dims && o < cap; d++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%" PRIu64, d ? ", " : "", t->ne[d]);
    if (o < cap)
        snprintf(buf + o, cap - o, "]");
}

static void text_header(const cove_gguf *g, const char *path)
{
    printf("file: %s\n", path);
    printf("GGUF version %" PRIu32 ", alignment %" PRIu64 ", tensor data at byte %" PRIu64 ", %" PRIu64
           " bytes\n\n",
           cove_gguf_version(g), cove_gguf_alignment(g), cove_gguf_data_offset(g), cove_gguf_size(g));
    printf("metadata (%" PRIu64 " keys):\n", cove_gguf_kv_count(g));
    for (uint64_t i = 0; i < cove_gguf_kv_count(g); i++) {
        cove_gguf_str k = cove_gguf_kv_key(g, i);
        const cove_gguf_value *v = cove_gguf_kv_value(g, i);
        char type[32];
        type_label(v, type, sizeof type);
        fputs("  ", stdout);
        text_name(k);
        printf(" %-14s ", type);
        print_value(g, v, 0);
        putchar('\n');
    }
}

static void text_tensors(const cove_gguf *g)
{
    uint64_t n = cove_gguf_tensor_count(g), bytes = 0, elems = 0;
    int w = 4;
    for (uint64_t i = 0; i < n; i++)
        if ((int)cove_gguf_tensor_at(g, i)->name.len > w)
            w = (int)cove_gguf_tensor_at(g, i)->name.len;
    printf("\ntensors (%" PRIu64 "):\n", n);
    if (n)
        printf("  %-*s %-8s %-24s %14s %14s\n", w, "name", "type", "shape", "offset", "bytes");
    for (uint64_t i = 0; i < n; i++) {
        const cove_gguf_tensor *t = cove_gguf_tensor_at(g, i);
        char shape[96];
        shape_str(t, shape, sizeof shape);
        printf("  %-*.*s %-8s %-24s %14" PRIu64 " %14" PRIu64 "\n", w, (int)t->name.len, t->name.ptr,
               cove_type_info_get(t->type)->name, shape, t->offset, t->n_bytes);
        bytes += t->n_bytes;
        elems += t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
    }
    printf("total: %" PRIu64 " tensors, %" PRIu64 " elements, %" PRIu64 " bytes\n", n, elems, bytes);
}

/* ---- JSON ---- */

static void json_str(const char *p, uint64_t n)
{
    putchar('"');
    for (uint64_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)p[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c); /* the reader guarantees valid UTF-8 */
    }
    putchar('"');
}

static void json_metadata(const cove_gguf *g)
{
    fputs("\"metadata\":[", stdout);
    for (uint64_t i = 0; i < cove_gguf_kv_count(g); i++) {
        cove_gguf_str k = cove_gguf_kv_key(g, i);
        const cove_gguf_value *v = cove_gguf_kv_value(g, i);
        fputs(i ? ",\n{\"key\":" : "\n{\"key\":", stdout);
        json_str(k.ptr, k.len);
        printf(",\"type\":\"%s\",\"value\":", cove_gguf_vtype_name(v->type));
        print_value(g, v, 1);
        putchar('}');
    }
    fputs("],\n", stdout);
}

static void json_tensors(const cove_gguf *g)
{
    uint64_t n = cove_gguf_tensor_count(g), bytes = 0;
    fputs("\"tensors\":[", stdout);
    for (uint64_t i = 0; i < n; i++) {
        const cove_gguf_tensor *t = cove_gguf_tensor_at(g, i);
        fputs(i ? ",\n{\"name\":" : "\n{\"name\":", stdout);
        json_str(t->name.ptr, t->name.len);
        printf(",\"type\":\"%s\",\"shape\":[", cove_type_info_get(t->type)->name);
        for (uint32_t d = 0; d < t->n_dims; d++)
            printf("%s%" PRIu64, d ? "," : "", t->ne[d]);
        printf("],\"offset\":%" PRIu64 ",\"bytes\":%" PRIu64 "}", t->offset, t->n_bytes);
        bytes += t->n_bytes;
    }
    printf("],\n\"tensor_count\":%" PRIu64 ",\"tensor_bytes\":%" PRIu64 "}\n", n, bytes);
}

static void print_json(const cove_gguf *g, const char *path)
{
    fputs("{\"file\":", stdout);
    json_str(path, strlen(path));
    printf(",\"version\":%" PRIu32 ",\"alignment\":%" PRIu64 ",\"data_offset\":%" PRIu64 ",\"size\":%" PRIu64
           ",\n",
           cove_gguf_version(g), cove_gguf_alignment(g), cove_gguf_data_offset(g), cove_gguf_size(g));
    json_metadata(g);
    json_tensors(g);
}

int cove_cmd_inspect(int argc, char **argv)
{
    const char *path = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            print_help();
            return COVE_EXIT_OK;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_usage_error("inspect", "unknown option '%s'", argv[i]);
        } else if (path) {
            return cli_usage_error("inspect", "expected one MODEL, got '%s' and '%s'", path, argv[i]);
        } else {
            path = argv[i];
        }
    }
    if (!path)
        return cli_usage_error("inspect", "missing MODEL (a .gguf file)");
    cove_gguf *g = NULL;
    cove_error err = {0};
    if (cove_gguf_open(path, &g, &err) != COVE_OK)
        return cli_fail("inspect", "%s: %s", path, cove_error_msg(&err));
    if (json)
        print_json(g, path);
    else {
        text_header(g, path);
        text_tensors(g);
    }
    cove_gguf_free(g);
    if (fflush(stdout) != 0)
        return cli_fail("inspect", "cannot write the output");
    return COVE_EXIT_OK;
}
