"""tests/agent/cli_util.py - running `cove` and counting checks, for the agent CLI tests.

    from cli_util import check, run, summary, use
    use(sys.argv[1])                    # the cove binary every run() starts
    rc, out, err = run("tool", ...)     # exit code, stdout, stderr (120 s timeout)
    check("name", rc == 0, err)         # prints [  OK  ] or [ FAIL ] with the detail
    return summary()                    # prints "N passed, N failed"; 1 if any failed
"""
import subprocess

COVE = None
passed = failed = 0


def use(cove):
    global COVE
    COVE = cove


def run(*args, env=None):
    p = subprocess.run([COVE, *args], capture_output=True, text=True, timeout=120, env=env)
    return p.returncode, p.stdout, p.stderr


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"[  OK  ] {name}")
    else:
        failed += 1
        print(f"[ FAIL ] {name} {detail}")


def summary():
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0
