#!/usr/bin/env python3
"""Render chat templates with a real Jinja engine to make the expected outputs
that tests/engine/test_chat.c compares cove's chat formatting against.

    render_chat.py [--cases DIR] --template ID=PATH [--template ID=gguf:FILE] [--check]

DIR (default tests/engine/chat_cases) holds:
  manifest.txt   one fixture a line: PROFILE CASE GEN EXPECTED SOURCE
                 SOURCE is "jinja:ID" (rendered from template ID), "jinja+lower:ID"
                 (tools first rewritten the way cove writes them for families
                 without a tool convention, then rendered from template ID), or
                 "hand" (written by hand; never touched here).
  cases/*.msgs   the message sets (format below)
  PROFILE/...    the expected outputs

Each --template gives the text of template ID: a file holding the Jinja text,
or gguf:FILE to read tokenizer.chat_template from a GGUF file. Fixtures whose
template is not given are skipped (reported), so any subset can be
regenerated. --check compares instead of writing and exits 1 on a difference.

Rendering follows Hugging Face transformers' apply_chat_template: a sandboxed
environment with trim_blocks and lstrip_blocks, the loopcontrols extension,
tojson as json.dumps(ensure_ascii=False), raise_exception and strftime_now.

A .msgs file is a list of directives, each a line starting with "@@ ", each
followed by its body: the lines up to the next directive, without the newline
that ends the last of them (so an empty line before a directive is an empty
body, and a body that ends with a newline is written with one more empty line).
  @@ system | @@ user | @@ assistant      a message; the body is its content
  @@ call ID NAME                         a tool call of the assistant message above;
                                          the body is its arguments (JSON)
  @@ reasoning                            reasoning text of the assistant message above
  @@ tool ID NAME                         a tool result; "-" for no id or name
  @@ tooldef                              one tool definition (JSON) offered to the model
Needs python3-jinja2 (Debian) or `pip install jinja2`.
"""
import argparse
import datetime
import json
import os
import struct
import sys

try:
    import jinja2
    import jinja2.ext
    import jinja2.sandbox
except ImportError:  # pragma: no cover
    sys.exit("render_chat.py needs jinja2: apt-get install python3-jinja2 (or pip install jinja2)")

# Per profile: the variables a template gets besides messages, tools and
# add_generation_prompt. Keep in step with the profile table in test_chat.c.
PROFILES = {
    "smollm2": {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>"},
    "qwen2.5": {"bos_token": "", "eos_token": "<|im_end|>"},
    "generic": {"bos_token": "", "eos_token": ""},
    "qwen3": {"bos_token": "", "eos_token": "<|im_end|>"},
    "qwen3-nothink": {"bos_token": "", "eos_token": "<|im_end|>", "enable_thinking": False},
    "gemma3": {"bos_token": "<bos>", "eos_token": "<eos>"},
    "llama3": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
    "llama3.2": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>",
                 "date_string": "02 Jan 2025"},
    "llama2": {"bos_token": "<s>", "eos_token": "</s>"},
    "phi3.5": {"bos_token": "<s>", "eos_token": "<|endoftext|>"},
    "mistral-v1": {"bos_token": "<s>", "eos_token": "</s>"},
    "mistral-v3": {"bos_token": "<s>", "eos_token": "</s>"},
    "mistral-v3-tekken": {"bos_token": "<s>", "eos_token": "</s>"},
}


# ---- GGUF: just enough to read one string value from the header ----

def _gguf_read(f, fmt):
    size = struct.calcsize(fmt)
    data = f.read(size)
    if len(data) != size:
        raise ValueError("GGUF file ends inside its header")
    return struct.unpack("<" + fmt, data)[0]


def _gguf_string(f):
    n = _gguf_read(f, "Q")
    data = f.read(n)
    if len(data) != n:
        raise ValueError("GGUF file ends inside a string")
    return data


_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}


def _gguf_value(f, vtype):
    if vtype in _SCALARS:
        return _gguf_read(f, _SCALARS[vtype])
    if vtype == 8:
        return _gguf_string(f)
    if vtype == 9:
        itype = _gguf_read(f, "I")
        count = _gguf_read(f, "Q")
        if itype in _SCALARS:  # skip fixed-size arrays without decoding them
            f.seek(struct.calcsize(_SCALARS[itype]) * count, os.SEEK_CUR)
            return None
        return [_gguf_value(f, itype) for _ in range(count)]
    raise ValueError("unknown GGUF value type %d" % vtype)


def gguf_chat_template(path):
    with open(path, "rb") as f:
        if f.read(4) != b"GGUF":
            raise ValueError("%s is not a GGUF file" % path)
        version = _gguf_read(f, "I")
        if version < 2:
            raise ValueError("GGUF version %d is too old" % version)
        _gguf_read(f, "Q")  # tensors
        n_kv = _gguf_read(f, "Q")
        for _ in range(n_kv):
            key = _gguf_string(f).decode("utf-8")
            value = _gguf_value(f, _gguf_read(f, "I"))
            if key == "tokenizer.chat_template":
                return value.decode("utf-8")
    raise ValueError("%s has no tokenizer.chat_template" % path)


# ---- the .msgs format ----

def parse_msgs(text):
    lines = text.split("\n")
    directives = [i for i, line in enumerate(lines) if line.startswith("@@ ")]
    conv = {"messages": [], "tools": []}
    for k, start in enumerate(directives):
        end = directives[k + 1] if k + 1 < len(directives) else len(lines)
        body_lines = lines[start + 1:end]
        if k + 1 == len(directives) and body_lines and body_lines[-1] == "":
            body_lines = body_lines[:-1]  # the newline that ends the file
        apply_directive(conv, lines[start][3:].split(" "), "\n".join(body_lines))
    return conv


def apply_directive(conv, words, body):
    kind, msgs = words[0], conv["messages"]
    if kind in ("system", "user", "assistant"):
        msgs.append({"role": kind, "content": body})
    elif kind == "call":
        call = {"type": "function", "function": {"name": words[2], "arguments": body}}
        if words[1] != "-":
            call["id"] = words[1]
        msgs[-1].setdefault("tool_calls", []).append(call)
    elif kind == "reasoning":
        msgs[-1]["reasoning_content"] = body
    elif kind == "tool":
        msg = {"role": "tool", "content": body}
        if words[1] != "-":
            msg["tool_call_id"] = words[1]
        if words[2] != "-":
            msg["name"] = words[2]
        msgs.append(msg)
    elif kind == "tooldef":
        conv["tools"].append(body)
    else:
        raise ValueError("unknown directive @@ %s" % kind)


def canonical_json(text, what):
    """Parse JSON text that must already be in json.dumps' default form."""
    value = json.loads(text)
    if json.dumps(value, ensure_ascii=False) != text:
        raise ValueError("%s is not written as json.dumps writes it: %s" % (what, text))
    return value


# ---- cove's tool lowering (chat_tools.c), for families without a tool convention ----

QWEN_TOOLS_HEAD = ("# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
                   "You are provided with function signatures within <tools></tools> XML tags:\n<tools>")
QWEN_TOOLS_TAIL = ("\n</tools>\n\nFor each function call, return a json object with function name and "
                   "arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n"
                   "{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>")


def qwen_call(call):
    fn = call["function"]
    return '<tool_call>\n{"name": "%s", "arguments": %s}\n</tool_call>' % (fn["name"], fn["arguments"])


def lower(conv):
    msgs, out = conv["messages"], []
    i = 0
    if conv["tools"]:
        block = QWEN_TOOLS_HEAD + "".join("\n" + t for t in conv["tools"]) + QWEN_TOOLS_TAIL
        if msgs and msgs[0]["role"] == "system":
            block = msgs[0]["content"] + "\n\n" + block
            i = 1
        out.append({"role": "system", "content": block})
    while i < len(msgs):
        m = msgs[i]
        if m["role"] == "tool":
            parts = []
            while i < len(msgs) and msgs[i]["role"] == "tool":
                parts.append("<tool_response>\n" + msgs[i]["content"] + "\n</tool_response>")
                i += 1
            out.append({"role": "user", "content": "\n".join(parts)})
            continue
        if m.get("tool_calls"):
            text = m["content"] + ("\n" if m["content"] else "")
            text += "\n".join(qwen_call(c) for c in m["tool_calls"])
            out.append({"role": "assistant", "content": text})
        else:
            out.append({"role": m["role"], "content": m["content"]})
        i += 1
    return {"messages": out, "tools": []}


# ---- rendering ----

class TemplateError(Exception):
    pass


def make_env():
    def raise_exception(message):
        raise TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    def strftime_now(fmt):
        return datetime.datetime.now().strftime(fmt)

    env = jinja2.sandbox.ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def jinja_messages(conv):
    """The messages as a template sees them: tool-call arguments parsed into objects."""
    out = []
    for m in conv["messages"]:
        m = dict(m)
        if "tool_calls" in m:
            calls = []
            for c in m["tool_calls"]:
                c = json.loads(json.dumps(c))
                c["function"]["arguments"] = canonical_json(c["function"]["arguments"], "arguments")
                calls.append(c)
            m["tool_calls"] = calls
        out.append(m)
    return out


def render(env, template_text, profile, conv, gen):
    variables = dict(PROFILES[profile])
    variables["messages"] = jinja_messages(conv)
    variables["add_generation_prompt"] = bool(gen)
    if conv["tools"]:
        variables["tools"] = [canonical_json(t, "tool definition") for t in conv["tools"]]
    return env.from_string(template_text).render(**variables)


def load_templates(specs):
    templates = {}
    for spec in specs:
        ident, _, path = spec.partition("=")
        if not path:
            sys.exit("--template wants ID=PATH, got %r" % spec)
        if path.startswith("gguf:"):
            templates[ident] = gguf_chat_template(path[5:])
        else:
            with open(path, encoding="utf-8") as f:
                templates[ident] = f.read()
    return templates


def read_manifest(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            fields = line.split()
            if len(fields) != 5:
                sys.exit("%s:%d: want PROFILE CASE GEN EXPECTED SOURCE" % (path, number))
            rows.append(fields)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--cases", default=os.path.join(here, "..", "engine", "chat_cases"))
    ap.add_argument("--template", action="append", default=[], metavar="ID=PATH")
    ap.add_argument("--check", action="store_true", help="compare, do not write")
    args = ap.parse_args()
    templates = load_templates(args.template)
    env = make_env()
    done = skipped = bad = 0
    for profile, case, gen, expected, source in read_manifest(os.path.join(args.cases, "manifest.txt")):
        kind, _, ident = source.partition(":")
        if kind == "hand" or ident not in templates:
            skipped += 1
            continue
        if profile not in PROFILES:
            sys.exit("unknown profile %s" % profile)
        with open(os.path.join(args.cases, "cases", case + ".msgs"), encoding="utf-8") as f:
            conv = parse_msgs(f.read())
        if kind == "jinja+lower":
            conv = lower(conv)
        text = render(env, templates[ident], profile, conv, gen == "1")
        path = os.path.join(args.cases, expected)
        if args.check:
            with open(path, encoding="utf-8", newline="") as f:
                if f.read() != text:
                    print("DIFFERS: %s" % expected)
                    bad += 1
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8", newline="") as f:
                f.write(text)
        done += 1
    print("%d rendered, %d skipped (template not given or hand-written), %d differ" % (done, skipped, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
