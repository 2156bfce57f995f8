#!/usr/bin/env python3
"""`cove validate` and `cove schema2gbnf` as a user runs them.

usage: test_schema_cli.py COVE SCHEMAS_DIR

Runs `cove validate` on every instance of the corpus (the exit status must match the
label; a refusal names a JSON pointer and a keyword on stderr), reads a document from
stdin, and checks `cove schema2gbnf` output, options, errors and usage.
"""
import json
import os
import subprocess
import sys
import tempfile

cove, root = sys.argv[1], sys.argv[2]
passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name} {detail}", file=sys.stderr)


def run(*args, stdin=None):
    return subprocess.run([cove, *args], input=stdin, capture_output=True, text=True, timeout=60)


tmp = tempfile.mkdtemp(prefix="cove-schema-cli-")
files = sorted(f for f in os.listdir(root) if f.endswith(".json"))
n_docs = 0
for i, name in enumerate(files):
    doc = json.load(open(os.path.join(root, name), encoding="utf-8"))
    spath = os.path.join(tmp, "schema.json")
    with open(spath, "w", encoding="utf-8") as f:
        json.dump(doc["schema"], f, ensure_ascii=False)
    # every fourth file through the command line; the driver test covers all of them
    if i % 4:
        continue
    for label, want in (("valid", 0), ("invalid", 1)):
        for j, x in enumerate(doc[label]):
            n_docs += 1
            r = run("validate", spath, "-", stdin=json.dumps(x, ensure_ascii=False))
            check(f"{name} {label}[{j}] exit {want}", r.returncode == want, r.stderr)
            if want == 0:
                check(f"{name} {label}[{j}] prints valid", r.stdout == "valid\n", r.stdout)
            else:
                check(f"{name} {label}[{j}] names pointer and keyword",
                      "invalid: " in r.stderr and ": '" in r.stderr, r.stderr)

schema = os.path.join(tmp, "s.json")
with open(schema, "w") as f:
    json.dump({"type": "object", "properties": {"n": {"type": "integer", "maximum": 3}},
               "required": ["n"], "additionalProperties": False}, f)
docf = os.path.join(tmp, "d.json")
with open(docf, "w") as f:
    f.write('{"n": 4}')
r = run("validate", schema, docf)
check("validate file: exit 1", r.returncode == 1, r.stderr)
check("validate file: pointer /n and keyword maximum", "/n: 'maximum'" in r.stderr, r.stderr)
r = run("validate", schema, stdin='{"n": 3}')
check("validate stdin: exit 0", r.returncode == 0 and r.stdout == "valid\n", r.stderr)
r = run("validate", schema, stdin='{"n": ')
check("validate: not JSON is exit 1 with a position", r.returncode == 1 and "line 1" in r.stderr, r.stderr)
r = run("validate", os.path.join(tmp, "missing.json"), docf)
check("validate: missing schema exit 1", r.returncode == 1, r.stderr)
r = run("validate")
check("validate: no args is usage", r.returncode == 2, r.stderr)
r = run("validate", "--help")
check("validate --help", r.returncode == 0 and "usage: cove validate" in r.stdout)

r = run("schema2gbnf", schema)
check("schema2gbnf: exit 0", r.returncode == 0, r.stderr)
check("schema2gbnf: root rule", r.stdout.startswith("root ::= "), r.stdout[:200])
check("schema2gbnf: ws rule by default", "\nws ::= " in r.stdout)
r = run("schema2gbnf", "--ws", "0", schema)
check("schema2gbnf --ws 0: no ws rule", r.returncode == 0 and "ws ::=" not in r.stdout, r.stdout)
r = run("schema2gbnf", "--any")
check("schema2gbnf --any", r.returncode == 0 and "value ::=" in r.stdout, r.stderr)
r = run("schema2gbnf", "-", stdin='{"type":"string","format":"uuid"}')
check("schema2gbnf from stdin", r.returncode == 0 and "root ::=" in r.stdout, r.stderr)
r = run("schema2gbnf", "-", stdin='{"type":"integer","multipleOf":2}')
check("schema2gbnf unsupported: exit 1 naming the keyword",
      r.returncode == 1 and "'multipleOf'" in r.stderr and r.stdout == "", r.stderr)
r = run("schema2gbnf", "--strict", "-", stdin='{"oneOf":[{"type":"string"}]}')
check("schema2gbnf --strict refuses oneOf", r.returncode == 1 and "'oneOf'" in r.stderr, r.stderr)
r = run("schema2gbnf", "--ws", "99", schema)
check("schema2gbnf --ws 99 is usage", r.returncode == 2, r.stderr)
r = run("schema2gbnf", "--help")
check("schema2gbnf --help", r.returncode == 0 and "usage: cove schema2gbnf" in r.stdout)
r = run("help")
check("help lists validate and schema2gbnf", "validate" in r.stdout and "schema2gbnf" in r.stdout)

print(f"{n_docs} documents through cove validate")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
