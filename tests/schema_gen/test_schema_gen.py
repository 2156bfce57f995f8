#!/usr/bin/env python3
"""Constrained generation end to end: `cove complete --json-schema/--grammar/--json`.

usage: test_schema_gen.py COVE SOURCE_DIR MODELS_DIR [--full]

Every schema of the corpus (tests/schema/schemas/*.json, the convertible ones) is run
through `cove complete --json-schema` on the two fixture models (stories260K and the
random tiny llama), with several seeds and temperatures. Every output must parse with
Python's json module and validate with the jsonschema package, which shares no code with
cove's grammar engine or its schema converter. Schemas marked "grammar_accepts_invalid"
in the corpus (documented relaxations such as oneOf read as anyOf) only need to validate
against that relaxation. --full runs every combination (slow); the default runs every third
schema with one (model, seed, temperature) drawn in turn.

A run that reaches -n inside an unbounded value (a random model that never closes a
string, or adds array items and properties until -n) is counted as unfinished, not
checked (cove exits 1 and says so); at most 25% of the runs may end so.

Also: --grammar files whose language Python checks with a regular expression, --json
(any JSON value), and bad grammar files, which must give exit status 1 and a message
naming line and column, never a crash.
"""
import copy
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

import jsonschema

cove, source, models = sys.argv[1], sys.argv[2], sys.argv[3]
full = "--full" in sys.argv[4:]
MODELS = [os.path.join(models, "stories260K.gguf"), os.path.join(models, "llama-2-tiny-random.gguf")]
SEEDS = [1, 7, 42]
TEMPS = [1.0, 1.2, 1.5]  # at low temperatures a random model can stay inside a string forever
passed = failed = relaxed = runs = unfinished = known = 0
# Open issues of the schema converter (src/schema), reported: printed, not counted.
KNOWN = {}


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name} {detail}", file=sys.stderr)


def complete(model, *args, n=2000):
    try:
        return subprocess.run([cove, "complete", "-m", model, "-n", str(n), *args],
                              capture_output=True, timeout=300)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(args, -999, b"", b"timed out after 300 s")


def relax(schema):
    """The schema as the converter's documented relaxations read it (oneOf -> anyOf)."""
    s = copy.deepcopy(schema)

    def walk(x):
        if isinstance(x, dict):
            if "oneOf" in x:
                x["anyOf"] = x.pop("oneOf")
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
    walk(s)
    return s


def draft7(x):
    """True when the schema uses draft-7 spellings (items as an array, definitions,
    boolean exclusiveMinimum/Maximum), which the converter reads as draft 7 does."""
    if isinstance(x, dict):
        if isinstance(x.get("items"), list) or "definitions" in x or \
                isinstance(x.get("exclusiveMinimum"), bool) or isinstance(x.get("exclusiveMaximum"), bool):
            return True
        return any(draft7(v) for v in x.values())
    if isinstance(x, list):
        return any(draft7(v) for v in x)
    return False


def validates(schema, doc):
    cls = jsonschema.Draft7Validator if draft7(schema) else jsonschema.Draft202012Validator
    errors = list(cls(schema, format_checker=cls.FORMAT_CHECKER).iter_errors(doc))
    return (not errors), (errors[0].message if errors else "")


def run_schema(path, tmp, combos):
    global relaxed, runs, unfinished, known
    try:
        case = json.load(open(path))
    except FileNotFoundError:
        return  # the corpus is being regenerated
    if "unsupported" in case:
        return
    schema = case["schema"]
    sfile = os.path.join(tmp, "schema.json")
    with open(sfile, "w") as f:
        json.dump(schema, f)
    name = os.path.basename(path)
    for model, seed, temp in combos:
        r = complete(model, "--json-schema", sfile, "--seed", str(seed), "--temp", str(temp))
        tag = f"{name} {os.path.basename(model)} seed={seed} temp={temp}"
        runs += 1
        if r.returncode == 1 and b"before the grammar was complete" in r.stderr:
            unfinished += 1  # a random model inside an unbounded string until -n
            print(f"unfinished: {tag}", file=sys.stderr)
            continue
        if r.returncode != 0:
            check(tag, False, f"exit {r.returncode}: {r.stderr.decode(errors='replace')[-300:]}")
            continue
        try:
            doc = json.loads(r.stdout.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            check(tag, False, f"does not parse ({e}): {r.stdout[:200]!r}")
            continue
        ok, why = validates(schema, doc)
        if not ok and "grammar_accepts_invalid" in case:
            ok, why = validates(relax(schema), doc)
            relaxed += ok
        if not ok and name in KNOWN:
            known += 1
            print(f"known issue: {tag}: {KNOWN[name]}", file=sys.stderr)
            continue
        check(tag, ok, f"invalid ({why}): {r.stdout[:300]!r}")


def schema_cases(tmp):
    files = sorted(glob.glob(os.path.join(source, "tests", "schema", "schemas", "*.json")))
    check("corpus present", len(files) >= 50, f"{len(files)} schema files")
    combos = [(m, s, t) for m in MODELS for s in SEEDS for t in TEMPS]
    for i, path in enumerate(files):
        if full:
            run_schema(path, tmp, combos)
        elif i % 3 == 0:
            run_schema(path, tmp, [combos[(i // 3 * 7) % len(combos)]])


GRAMMARS = [
    ('root ::= "Once upon a time, " name " saw a " animal "."\n'
     'name ::= "Tim" | "Lily" | "Ben"\nanimal ::= [a-z]{3,8}\n',
     r"Once upon a time, (Tim|Lily|Ben) saw a [a-z]{3,8}\."),
    ('root ::= item ("," item){2}\nitem ::= [0-9]+ | "x" [a-f]?\n',
     r"([0-9]+|x[a-f]?)(,([0-9]+|x[a-f]?)){2}"),
    ('# a date\nroot ::= [12] [0-9]{3} "-" ("0" [1-9] | "1" [0-2]) "-" [0-2] [0-9]\n',
     r"[12][0-9]{3}-(0[1-9]|1[0-2])-[0-2][0-9]"),
    ('root ::= "\\u00e9t\\u00e9 " [\\u03b1-\\u03c9]+ "!"\n', "\u00e9t\u00e9 [\u03b1-\u03c9]+!"),
]


def grammar_cases(tmp):
    for i, (text, pattern) in enumerate(GRAMMARS):
        gfile = os.path.join(tmp, f"g{i}.gbnf")
        with open(gfile, "w") as f:
            f.write(text)
        for model in MODELS:
            for seed, temp in ((1, 0.9), (3, 1.0), (5, 1.5)):
                r = complete(model, "--grammar", gfile, "--seed", str(seed), "--temp", str(temp), n=400)
                out = r.stdout.decode("utf-8", errors="replace")
                check(f"grammar {i} {os.path.basename(model)} seed={seed}",
                      r.returncode == 0 and re.fullmatch(pattern, out) is not None,
                      f"exit {r.returncode} output {out!r} {r.stderr[-200:]!r}")


def json_cases():
    for model in MODELS:
        for seed in (1, 2, 3):
            r = complete(model, "--json", "--seed", str(seed), "--temp", "0.9", n=4000)
            ok = r.returncode == 0
            try:
                json.loads(r.stdout.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                ok = False
            check(f"--json {os.path.basename(model)} seed={seed}", ok,
                  f"exit {r.returncode} {r.stdout[:200]!r} {r.stderr[-200:]!r}")


BAD = [
    ('root ::= "abc\n', "1:10"),
    ('root ::= x\n', "1:10"),
    ('a ::= "x"\n', "root"),
    ('root ::= ( "a" | "b"\n', "2:1: expected ')'"),
    ('root ::= "a"{5,2}\n', "1:13"),
    ('root ::= root "a"\n', "left-recursive"),
    ('root ::= [\\uZZZZ]\n', "1:13: expected 4 hex digits"),
    ('\n\n  root ::= "a" ]\n', "3:16"),
    ('\x00\xff\xfe garbage', "1:1"),
]


def bad_grammar_cases(tmp):
    for i, (text, want) in enumerate(BAD):
        gfile = os.path.join(tmp, f"bad{i}.gbnf")
        with open(gfile, "w", encoding="latin-1") as f:
            f.write(text)
        r = complete(MODELS[0], "--grammar", gfile, n=10)
        err = r.stderr.decode(errors="replace")
        check(f"bad grammar {i}", r.returncode == 1 and want in err and r.stdout == b"",
              f"exit {r.returncode}, stderr {err!r}")
    r = complete(MODELS[0], "--grammar", os.path.join(tmp, "missing.gbnf"), n=10)
    check("missing grammar file", r.returncode == 1, f"exit {r.returncode}")
    sfile = os.path.join(tmp, "bad.json")
    with open(sfile, "w") as f:
        f.write('{"type": "object", "properties": ')
    r = complete(MODELS[0], "--json-schema", sfile, n=10)
    check("bad schema file", r.returncode == 1 and r.stdout == b"", f"exit {r.returncode}")
    r = complete(MODELS[0], "--json", "--grammar", sfile, n=10)
    check("--json with --grammar", r.returncode == 2, f"exit {r.returncode}")


def main():
    for m in MODELS:
        check(f"model {m}", os.path.exists(m))
    with tempfile.TemporaryDirectory() as tmp:
        bad_grammar_cases(tmp)
        grammar_cases(tmp)
        json_cases()
        schema_cases(tmp)
    check("unfinished outputs at most 25%", unfinished <= max(2, runs // 4), f"{unfinished} of {runs}")
    print(f"schema_gen: {passed} passed, {failed} failed; {runs} schema runs, {unfinished} unfinished "
          f"at -n, {relaxed} valid only under a documented relaxation, {known} known converter issues")
    return 1 if failed else 0


sys.exit(main())
