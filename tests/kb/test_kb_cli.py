#!/usr/bin/env python3
"""cove ingest / cove search as a user runs them: summary counts of incremental runs, bad
input skipped and counted, --json output, a newer schema refused, and SIGKILL at several
points of an ingestion followed by PRAGMA integrity_check and a run that completes the work.

usage: test_kb_cli.py COVE DATA_DIR [TEST...]   (TEST: incremental bad_input newer_schema crash;
default all; needs the default embedding model in the cache)
"""
import json, os, re, shutil, signal, sqlite3, subprocess, sys, tempfile, time

COVE, DATA = sys.argv[1], sys.argv[2]
DOCS = os.path.join(DATA, "docs")
SUMMARY = re.compile(r"^ingested: (\d+) new, (\d+) changed, (\d+) removed, (\d+) unchanged, (\d+) skipped$")
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def ingest(db, *paths, extra=()):
    p = subprocess.run([COVE, "ingest", "--kb", db, "-t", "2", "--chunk-tokens", "64",
                        "--overlap", "16", *extra, *paths], capture_output=True, text=True,
                       timeout=600)
    last = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else ""
    m = SUMMARY.match(last)
    return p, (tuple(int(x) for x in m.groups()) if m else None)


def search(db, query, *extra):
    p = subprocess.run([COVE, "search", "--kb", db, "--json", *extra, query],
                       capture_output=True, text=True, timeout=300)
    return p, (json.loads(p.stdout) if p.returncode == 0 else None)


def test_incremental(tmp):
    docs = os.path.join(tmp, "docs")
    for sub in ("ops", "kitchen"):  # a part of the data set keeps the test quick
        shutil.copytree(os.path.join(DOCS, sub), os.path.join(docs, sub))
    db = os.path.join(tmp, "inc.db")
    p, s = ingest(db, docs)
    n_files = sum(len(f) for _, _, f in os.walk(docs))
    check(p.returncode == 0 and s == (n_files, 0, 0, 0, 0), f"first run: all new {s} {p.stderr[-300:]}")
    check(p.stderr == "", "no progress bar when stderr is not a terminal")
    p, s = ingest(db, docs)
    check(s == (0, 0, 0, n_files, 0), f"second run: all unchanged {s}")
    with open(os.path.join(docs, "ops", "incidents.txt"), "a") as f:
        f.write("\nIncident ERR-0001 in the kitchen service: the coffee machine ran dry.\n")
    os.remove(os.path.join(docs, "kitchen", "recipes.md"))
    with open(os.path.join(docs, "notes.md"), "w") as f:
        f.write("# Notes\n\nThe quarterly offsite is in the lighthouse at Ostravel.\n")
    p, s = ingest(db, docs)
    check(s == (1, 1, 1, n_files - 2, 0), f"third run: 1 new, 1 changed, 1 removed {s}")
    p, hits = search(db, "ERR-0001", "--mode", "keyword", "-k", "1")
    check(hits and "coffee machine" in hits[0]["text"], "changed file searchable")
    p, hits = search(db, "recipe RCP-1005", "--mode", "keyword")
    check(hits is not None and all("recipes.md" not in h["path"] for h in hits), "removed file gone")
    p, hits = search(db, "offsite in a lighthouse", "-k", "3")
    check(hits and set(hits[0]) >= {"path", "text", "score"} and
          any(h["path"].endswith("notes.md") for h in hits), "--json objects with path, text, score")
    p, hits = search(db, "lighthouse service", "--mode", "hybrid", "--prefix",
                     os.path.realpath(os.path.join(docs, "ops")))
    check(hits and all("/ops/" in h["path"] for h in hits), "--prefix filters by path")


def test_bad_input(tmp):
    bad = os.path.join(tmp, "bad")
    os.makedirs(bad)
    with open(os.path.join(bad, "good.txt"), "w") as f:
        f.write("A perfectly good paragraph about sailing boats.\n")
    with open(os.path.join(bad, "binary.txt"), "wb") as f:
        f.write(b"\x00\x01\x02binary\xff\xfe" * 100)
    with open(os.path.join(bad, "huge.md"), "w") as f:
        f.write("word " * 300000)
    with open(os.path.join(bad, "broken.csv"), "w") as f:
        f.write('a,b\n"unterminated,1\n')
    with open(os.path.join(bad, "fake.pdf"), "wb") as f:
        f.write(b"%PDF-1.4\nthis is not really a pdf\n")
    with open(os.path.join(bad, "locked.txt"), "w") as f:
        f.write("secret")
    os.chmod(os.path.join(bad, "locked.txt"), 0)
    db = os.path.join(tmp, "bad.db")
    p, s = ingest(db, bad, extra=("--max-file-bytes", "1000000"))
    n_skip = 5 if os.geteuid() != 0 else 4  # root reads mode-0 files
    check(p.returncode == 0 and s is not None and s[0] == 6 - n_skip and s[4] == n_skip,
          f"bad files skipped and counted {s}")
    for name in ("binary.txt", "huge.md", "broken.csv", "fake.pdf"):
        check(name in p.stderr and "skipped" in p.stderr, f"reason logged for {name}")
    p, s = ingest(db, os.path.join(tmp, "missing-dir"))
    check(p.returncode == 1 and "missing-dir" in p.stderr, "missing path is an error")


def test_newer_schema(tmp):
    db = os.path.join(tmp, "newer.db")
    p, s = ingest(db, os.path.join(DOCS, "ops"))
    con = sqlite3.connect(db)
    con.execute("UPDATE schema_version SET version = 2")
    con.commit()
    con.close()
    p, s = ingest(db, os.path.join(DOCS, "ops"))
    check(p.returncode == 1 and "schema version 2" in p.stderr and "newer" in p.stderr,
          "ingest refuses a newer schema: " + p.stderr.strip())
    p, hits = search(db, "x", "--mode", "keyword")
    check(p.returncode == 1 and "newer" in p.stderr, "search refuses a newer schema")


def count_docs(db):
    con = sqlite3.connect(db)
    ok = con.execute("PRAGMA integrity_check").fetchone()[0]
    if not con.execute("SELECT count(*) FROM sqlite_master WHERE name = 'documents'").fetchone()[0]:
        con.close()  # killed before the schema was committed: an empty store
        return ok, 0, 0, 0, 0
    n = con.execute("SELECT count(*) FROM documents").fetchone()[0]
    c = con.execute("SELECT count(*) FROM chunks").fetchone()[0]
    f = con.execute("SELECT count(*) FROM chunks_fts").fetchone()[0]
    bad = con.execute("SELECT count(*) FROM documents d WHERE n_chunks != "
                      "(SELECT count(*) FROM chunks c WHERE c.doc_id = d.id)").fetchone()[0]
    con.close()
    return ok, n, c, f, bad


N_CRASH = 30


def test_crash(tmp):
    # many small files so that a kill lands between, inside and after transactions
    docs = os.path.join(tmp, "many")
    os.makedirs(docs)
    for i in range(N_CRASH):
        with open(os.path.join(docs, f"note{i:03d}.md"), "w") as f:
            f.write(f"# Note {i}\n\n" + " ".join(f"Paragraph {i} sentence {j} about topic {i * 7 % 13}."
                                            for j in range(20)) + "\n")
    ref = os.path.join(tmp, "ref.db")
    p, s = ingest(ref, docs)
    _, n_ref, c_ref, _, _ = count_docs(ref)
    # kill points: right at the start, after a short time, and once 2 and 8 documents are in
    for point in ("t0.02", "t0.4", "d2", "d8"):
        db = os.path.join(tmp, f"crash-{point}.db")
        proc = subprocess.Popen([COVE, "ingest", "--kb", db, "-t", "2", "--chunk-tokens", "64",
                                 "--overlap", "16", docs], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        if point[0] == "t":
            time.sleep(float(point[1:]))
        else:
            while proc.poll() is None and docs_in(db) < int(point[1:]):
                time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if os.path.exists(db):
            ok, n, c, f, bad = count_docs(db)
            check(ok == "ok" and c == f and bad == 0,
                  f"killed at {point}: integrity {ok}, {n} docs, chunks {c} = fts {f}, whole docs")
        p, s = ingest(db, docs)
        ok, n, c, f, bad = count_docs(db)
        check(p.returncode == 0 and s is not None and s[0] + s[3] == N_CRASH and s[1] == 0 and
              n == n_ref and c == c_ref and ok == "ok",
              f"run after kill at {point} completes: {s}, {n}/{n_ref} docs, {c}/{c_ref} chunks")


def docs_in(db):
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.1)
        n = con.execute("SELECT count(*) FROM documents").fetchone()[0]
        con.close()
        return n
    except sqlite3.Error:
        return 0


def main():
    tmp = tempfile.mkdtemp(prefix="cove-kb-")
    try:
        names = sys.argv[3:] or ["incremental", "bad_input", "newer_schema", "crash"]
        for name in names:
            globals()["test_" + name](tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
