#!/usr/bin/env python3
"""The schema corpus (tests/schema/schemas/NNN-name.json) through the schema module.

usage: test_corpus.py SCHEMA_DRIVER SCHEMAS_DIR

For every file (see gen_corpus.py for the format):
  - Python's jsonschema (draft 2020-12, format checker on) agrees with the labels;
  - cove_schema_validate agrees with the labels, and each refusal names a JSON
    pointer and a keyword;
  - the converter refuses the schemas marked "unsupported", naming the keyword;
  - every other grammar (compact form and the default whitespace form) parses as
    GBNF (gbnf_ref.py), accepts each valid instance and refuses each invalid one,
    except the documented subset/relaxation cases the file lists.
"""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jsonschema  # noqa: E402

from gbnf_ref import GbnfError, Grammar  # noqa: E402

driver, root = sys.argv[1], sys.argv[2]
files = sorted(os.path.join(root, f) for f in os.listdir(root) if f.endswith(".json"))
passed = failed = 0
counts = {"schemas": len(files), "instances": 0, "grammar_checks": 0, "unsupported": 0}
MSG = re.compile(r"^(\(root\)|/\S*): '[A-Za-z$]+': ")


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name} {detail}", file=sys.stderr)


def compact(x):
    return json.dumps(x, ensure_ascii=False, separators=(",", ":"))


def spaced(x):
    return json.dumps(x, ensure_ascii=False, separators=(", ", ": "))


def py_validator(schema, draft):
    cls = jsonschema.Draft7Validator if draft == 7 else jsonschema.Draft202012Validator
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


r = subprocess.run([driver, "corpus", *files], capture_output=True, text=True, timeout=240)
check("driver runs", r.returncode == 0, r.stderr[-2000:])
out = {}
for line in r.stdout.splitlines():
    row = json.loads(line)
    out[row["file"]] = row
check("driver answered for every file", len(out) == len(files), f"{len(out)} of {len(files)}")

for path in files:
    name = os.path.basename(path)
    doc = json.load(open(path, encoding="utf-8"))
    row = out.get(path)
    if row is None:
        continue
    schema, valid, invalid = doc["schema"], doc["valid"], doc["invalid"]
    pv = py_validator(schema, doc.get("draft"))
    for i, x in enumerate(valid):
        counts["instances"] += 1
        check(f"{name} jsonschema valid[{i}]", pv.is_valid(x))
        res = row["valid"][i]
        check(f"{name} cove valid[{i}]", res["ok"], res.get("msg", ""))
    for i, x in enumerate(invalid):
        counts["instances"] += 1
        check(f"{name} jsonschema invalid[{i}]", not pv.is_valid(x))
        res = row["invalid"][i]
        check(f"{name} cove invalid[{i}]", not res["ok"] and res["status"] == "COVE_ERR_FORMAT",
              json.dumps(res))
        if not res["ok"]:
            check(f"{name} invalid[{i}] message names pointer and keyword", MSG.match(res["msg"]),
                  res["msg"])
    if "unsupported" in doc:
        counts["unsupported"] += 1
        err = row["error"] or {}
        check(f"{name} refused", row["gbnf"] is None and row["gbnf0"] is None)
        check(f"{name} error names '{doc['unsupported']}'", f"'{doc['unsupported']}" in err.get("msg", ""),
              err.get("msg", ""))
        continue
    check(f"{name} converted", row["error"] is None, json.dumps(row["error"]))
    if row["error"] is not None:
        continue
    grammars = []
    for key, form in (("gbnf0", compact), ("gbnf", spaced)):
        try:
            grammars.append((key, Grammar(row[key]), form))
            check(f"{name} {key} parses", True)
        except GbnfError as e:
            check(f"{name} {key} parses", False, str(e))
    rejects = set(doc.get("grammar_rejects_valid", []))
    accepts = set(doc.get("grammar_accepts_invalid", []))
    for key, g, form in grammars:
        for i, x in enumerate(valid):
            counts["grammar_checks"] += 1
            got = g.accepts(form(x))
            check(f"{name} {key} valid[{i}] {'refused' if i in rejects else 'accepted'}",
                  got == (i not in rejects), form(x))
        for i, x in enumerate(invalid):
            counts["grammar_checks"] += 1
            got = g.accepts(form(x))
            check(f"{name} {key} invalid[{i}] {'accepted' if i in accepts else 'refused'}",
                  got == (i in accepts), form(x))

print(", ".join(f"{k}: {v}" for k, v in counts.items()))
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
