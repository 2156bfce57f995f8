#!/usr/bin/env python3
"""`cove audit`, `cove keygen`, `cove sign` and `cove verify-sig`, and the log's Merkle
roots against an independent RFC 6962 computation with hashlib.

usage: test_audit_cli.py COVE
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

cove = sys.argv[1]
tmp = tempfile.mkdtemp(prefix="cove-audit-cli-")
passed = failed = 0


def run(*args, stdin=None, env=None):
    e = dict(os.environ)
    e.pop("COVE_AUDIT_LOG", None)
    e.pop("COVE_AUDIT_KEY", None)
    e.update(env or {})
    return subprocess.run([cove, *args], input=stdin, capture_output=True, text=True, timeout=120,
                          env=e)


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name} {detail}", file=sys.stderr)


def p(name):
    return os.path.join(tmp, name)


# ---- RFC 6962 in Python, independent of cove
def leaf(b):
    return hashlib.sha256(b"\x00" + b).digest()


def node(l, r):
    return hashlib.sha256(b"\x01" + l + r).digest()


def mth(leaves):
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node(mth(leaves[:k]), mth(leaves[k:]))


def lines_of(path):
    with open(path, "rb") as f:
        return f.read().split(b"\n")[:-1]


def events(n, session="s1", tenant="t1"):
    return "".join(json.dumps({"kind": "prompt" if i % 2 == 0 else "model_output",
                               "session": session, "tenant": tenant, "text": f"text {i}"}) + "\n"
                   for i in range(n))


# ---- keygen
r = run("keygen", "-o", p("k"))
check("keygen", r.returncode == 0, r.stderr)
check("keygen mode", os.stat(p("k.key")).st_mode & 0o777 == 0o600)
check("keygen pub", len(open(p("k.pub")).read().strip()) == 64)
r = run("keygen", "-o", p("k"))
check("keygen refuses overwrite", r.returncode == 1, r.stderr)
check("keygen usage", run("keygen").returncode == 2)
run("keygen", "-o", p("other"))

# ---- Merkle roots for sizes 1..20 against hashlib
for n in range(1, 21):
    log = p(f"m{n}.log")
    r = run("audit", "append", log, "--key", p("k.key"), "--every", "0", stdin=events(n))
    check(f"append {n}", r.returncode == 0, r.stderr)
    lines = lines_of(log)
    check(f"size {n}", len(lines) == n + 1)
    cp = json.loads(lines[-1])
    want = mth([leaf(l) for l in lines[:n]]).hex()
    check(f"root {n}", cp["kind"] == "checkpoint" and cp["tree_size"] == n and cp["root"] == want,
          f"{cp.get('root')} != {want}")
    prev = "0" * 64
    for i, l in enumerate(lines):
        rec = json.loads(l)
        check(f"chain {n}/{i}", rec["seq"] == i and rec["prev"] == prev)
        prev = leaf(l).hex()
    r = run("audit", "verify", log, "--pubkey", p("k.pub"))
    check(f"verify {n}", r.returncode == 0 and "intact" in r.stdout, r.stdout + r.stderr)

# periodic checkpoints: every one of them against hashlib
log = p("periodic.log")
r = run("audit", "append", log, "--key", p("k.key"), "--every", "3", stdin=events(17))
lines = lines_of(log)
cps = 0
for i, l in enumerate(lines):
    rec = json.loads(l)
    if rec["kind"] == "checkpoint":
        cps += 1
        check(f"periodic root at {i}", rec["root"] == mth([leaf(x) for x in lines[:i]]).hex())
check("periodic checkpoints", cps == 17 // 3 + 1, str(cps))

# reopen and continue: the second run continues the chain
r = run("audit", "append", log, "--key", p("k.key"), "--every", "3", stdin=events(4, "s2"))
check("continue", r.returncode == 0, r.stderr)
r = run("audit", "verify", log, "--pubkey", p("k.pub"))
check("continue verifies", r.returncode == 0, r.stdout)
r = run("audit", "append", log, "--key", p("other.key"), stdin=events(1))
check("continue with another key refused", r.returncode == 1 and "signed by key" in r.stderr,
      r.stderr)

# ---- tampering through the command: exit 1 and the first bad record named
base = p("base.log")
run("audit", "append", base, "--key", p("k.key"), "--every", "4", stdin=events(10))
orig = lines_of(base)  # 13 lines: see tests/audit/test_audit.c


def tampered(name, lines, want_line, want_seq, extra=()):
    path = p(name + ".log")
    with open(path, "wb") as f:
        f.write(b"".join(l + b"\n" for l in lines))
    r = run("audit", "verify", path, "--pubkey", p("k.pub"), *extra)
    head = f"line {want_line} (seq {want_seq})" if want_seq is not None else f"line {want_line}:"
    check(f"tamper {name}", r.returncode == 1 and "TAMPERED" in r.stdout and head in r.stdout,
          r.stdout + r.stderr)


def rechain(lines, start):
    """What a careful forger does after an edit: recompute every prev after it."""
    out = list(lines)
    for i in range(max(start, 1), len(out)):
        rec = out[i].decode()
        old = json.loads(rec)["prev"]
        out[i] = rec.replace(old, leaf(out[i - 1]).hex()).encode()
    return out


check("base intact", run("audit", "verify", base, "--pubkey", p("k.pub")).returncode == 0)
edit = list(orig)
edit[6] = edit[6].replace(b"text 5", b"text 9")
tampered("edit", edit, 7, 6)
tampered("delete", orig[:6] + orig[7:], 7, 7)
tampered("insert", orig[:7] + [orig[2]] + orig[7:], 8, 2)
tampered("swap", orig[:5] + [orig[6], orig[5]] + orig[7:], 6, 6)
tampered("truncate", orig[:11], 12, 11)
forged = list(orig)
rec = json.loads(forged[4])
sig = rec["sig"]
forged[4] = forged[4].replace(sig.encode(), (("1" if sig[0] == "0" else "0") + sig[1:]).encode())
tampered("forged-signature", forged, 5, 4)
# an edit with the whole chain recomputed is caught by the next checkpoint's root
tampered("edit-rechained", rechain(edit, 7), 10, 9)
# a rechained edit after the last checkpoint: the closing checkpoint's root catches it
edit2 = list(orig)
edit2[11] = edit2[11].replace(b"text 9", b"text 0")
tampered("edit-rechained-tail", rechain(edit2, 12), 13, 12)
r = run("audit", "verify", base, "--pubkey", p("other.pub"))
check("wrong pubkey", r.returncode == 1 and "line 5 (seq 4)" in r.stdout, r.stdout)
r = run("audit", "verify", p("missing.log"))
check("missing file", r.returncode == 1, r.stderr)
check("verify usage", run("audit", "verify").returncode == 2)

# ---- show: filters
show_log = p("show.log")
run("audit", "append", show_log, stdin=events(3, "a", "x") + events(2, "b", "y"))
r = run("audit", "show", show_log, "--session", "b")
recs = [json.loads(l) for l in r.stdout.splitlines()]
check("show session", r.returncode == 0 and len(recs) == 2 and all(x["session"] == "b" for x in recs),
      r.stdout)
r = run("audit", "show", show_log, "--tenant", "x", "--kind", "prompt")
check("show tenant+kind", len(r.stdout.splitlines()) == 2, r.stdout)
r = run("audit", "show", show_log, "--kind", "checkpoint")
check("show kind", len(r.stdout.splitlines()) == 1)
r = run("audit", "show", show_log, "--since", "2000-01-01", "--until", "2999-01-01")
check("show time window", len(r.stdout.splitlines()) == 6, r.stdout)
r = run("audit", "show", show_log, "--until", "2000-01-01")
check("show nothing before 2000", r.returncode == 0 and r.stdout == "")
r = run("audit", "show", show_log, "--since", "2999-01-01T00:00:00Z")
check("show nothing after 2999", r.returncode == 0 and r.stdout == "")
check("show bad time", run("audit", "show", show_log, "--since", "soon").returncode == 2)

# ---- append: hash-only and redaction, env COVE_AUDIT_LOG / COVE_AUDIT_KEY
env_log = p("env.log")
r = run("audit", "append", "--redact", "[0-9]{3}-[0-9]{4}",
        stdin=json.dumps({"kind": "tool_call", "tool": "t", "args": {"n": "555-9999"},
                          "text": "call 555-1234"}) + "\n",
        env={"COVE_AUDIT_LOG": env_log, "COVE_AUDIT_KEY": p("k.key")})
body = open(env_log).read()
check("redaction", r.returncode == 0 and os.path.exists(env_log) and "555-" not in body and "[REDACTED]" in body, body)
check("env key signs", run("audit", "verify", env_log, "--pubkey", p("k.pub")).returncode == 0)
hash_log = p("hash.log")
r = run("audit", "append", hash_log, "--hash-text",
        stdin=json.dumps({"kind": "prompt", "text": "secret diagnosis"}) + "\n")
body = open(hash_log).read()
want = hashlib.sha256(b"secret diagnosis").hexdigest()
check("hash-only", "diagnosis" not in body and want in body, body)
r = run("audit", "append", hash_log, stdin='{"kind":"checkpoint"}\n')
check("append refuses checkpoint events", r.returncode == 1)
check("append after refusal still verifies", run("audit", "verify", hash_log).returncode == 0)

# ---- sign / verify-sig
model = p("model.gguf")
with open(model, "wb") as f:
    f.write(b"GGUF" + bytes(range(256)) * 10)
manifest = model + ".manifest.json"
with open(manifest, "w") as f:
    json.dump({"name": "tiny", "version": "1", "kind": "model",
               "sha256": hashlib.sha256(open(model, "rb").read()).hexdigest()}, f)
r = run("sign", "--key", p("k.key"), manifest)
check("sign", r.returncode == 0 and os.path.exists(manifest + ".sig"), r.stderr)
r = run("verify-sig", "--pubkey", p("k.pub"), manifest)
check("verify-sig", r.returncode == 0 and "valid" in r.stdout, r.stdout + r.stderr)
r = run("verify-sig", "--pubkey", p("other.pub"), manifest)
check("verify-sig untrusted", r.returncode == 1 and "not trusted" in r.stderr, r.stderr)
keydir = p("trusted")
os.mkdir(keydir)
shutil.copy(p("k.pub"), keydir)
shutil.copy(p("other.pub"), keydir)
check("verify-sig key dir", run("verify-sig", "--pubkey", keydir, manifest).returncode == 0)
with open(model, "ab") as f:
    f.write(b"x")
r = run("verify-sig", "--pubkey", p("k.pub"), manifest)
check("verify-sig tampered file", r.returncode == 1 and "SHA-256" in r.stderr, r.stderr)
r = run("sign", "--key", p("k.key"), manifest)
check("sign refuses a stale hash", r.returncode == 1, r.stderr)
text = open(manifest).read()
with open(manifest, "w") as f:
    f.write(text.replace('"tiny"', '"tinY"'))
r = run("verify-sig", "--pubkey", p("k.pub"), manifest)
check("verify-sig tampered manifest", r.returncode == 1 and "bad signature" in r.stderr, r.stderr)
check("sign usage", run("sign", manifest).returncode == 2)
check("verify-sig usage", run("verify-sig", manifest).returncode == 2)

shutil.rmtree(tmp)
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
