#!/usr/bin/env python3
"""The `cove` command line contract: help, exit codes, stdout vs stderr."""
import subprocess
import sys

cove = sys.argv[1]
passed = failed = 0


def run(*args):
    return subprocess.run([cove, *args], capture_output=True, text=True, timeout=60)


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name} {detail}", file=sys.stderr)


r = run("help")
check("help exits 0", r.returncode == 0, r.stderr)
check("help lists commands on stdout", "complete" in r.stdout and "pull" in r.stdout)
section = r.stdout.split("commands:\n", 1)[1].split("\n\n", 1)[0]
commands = [l.split()[0] for l in section.splitlines() if l.strip()]
check("help lists several commands", len(commands) >= 5, str(commands))
for c in commands:
    r = run(c, "--help")
    check(f"{c} --help exits 0", r.returncode == 0, r.stderr)
    check(f"{c} --help prints usage", "usage: cove" in r.stdout, r.stdout[:200])
    r2 = run("help", c)
    check(f"help {c} matches {c} --help", r2.stdout == r.stdout)

r = run()
check("no command exits 2", r.returncode == 2)
check("no command prints usage on stderr", "usage: cove" in r.stderr and r.stdout == "")
r = run("no-such-command")
check("unknown command exits 2", r.returncode == 2)
check("unknown command says so", "unknown command" in r.stderr)
r = run("version")
check("version", r.returncode == 0 and r.stdout.startswith("cove "), r.stdout)
r = run("help", "no-such-command")
check("help of unknown command exits 2", r.returncode == 2)
r = run("complete", "--no-such-flag")
check("unknown flag exits 2", r.returncode == 2, r.stderr)
r = run("complete", "-m", "/nonexistent/model.gguf", "-n", "1")
check("missing model exits 1", r.returncode == 1, r.stderr)
check("missing model names the file", "/nonexistent/model.gguf" in r.stderr, r.stderr)
r = run("inspect", "/nonexistent/model.gguf")
check("inspect missing file exits 1", r.returncode == 1, r.stderr)

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
