#!/usr/bin/env python3
"""tests/app/test_chat.py - `cove chat` with the catalogue's default instruct model.

usage: test_chat.py PATH-TO-COVE SOURCE-DIR

The model is the default instruct model of SOURCE-DIR/models/catalogue.tsv
(SmolLM2-135M-Instruct Q4_1) in the model cache ($COVE_MODELS, default
~/.cache/cove/models); `cove chat` finds it there by itself. A missing model
is a FAILURE, not a skip: fetch it with `cove pull smollm2-135m-instruct` or
scripts/models.sh. COVE_TEST_CHAT_MODEL=FILE runs the model cases with -m FILE
instead (for engine work, e.g. an F16 copy made by `cove quantize`); the test
says so on its first line.

The prompts were chosen because this 135M model answers them reliably at
temperature 0 (greedy, so the answers are deterministic), each answer ending
on its own before the -n 64 cap the tests set:
  - "What is the capital of France? Answer in one word." -> "The capital of
    France is Paris."
  - "The password is tulip." then "What is the password?" -> "The password is
    tulip." twice, while "What is the password?" alone (and after /reset)
    gets an invented one ("1234567890ABC..."), so "tulip" in the second
    answer comes from the conversation.
Name-based prompts ("My name is Ada." / "What is my name?") are not reliable
with this model: it takes Ada for its own name, or answers with another name.
Ends with "N passed, N failed".
"""
import os
import pty
import subprocess
import sys
import tempfile

COVE, SOURCE = None, None
RUN_TIMEOUT = 300
PARIS = "What is the capital of France? Answer in one word."
INTRO, QUESTION, SECRET = "The password is tulip.", "What is the password?", "tulip"
N = ("-n", "64")
passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok   " + name)
    else:
        failed += 1
        print("FAIL %s\n  %s" % (name, str(detail)[:2000]))


def cache_dir():
    return os.environ.get("COVE_MODELS") or os.path.expanduser("~/.cache/cove/models")


def default_instruct_file():
    """The file of the catalogue's default instruct model (its ready or built row)."""
    head = None
    with open(os.path.join(SOURCE, "models", "catalogue.tsv"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            fields = line.rstrip("\n").split("\t")
            if head is None:
                head = fields
                continue
            row = dict(zip(head, fields))
            if (row["purpose"] == "instruct" and row["default"] == "yes"
                    and row["state"] in ("ready", "built")):
                return row["name"], row["file"]
    raise SystemExit("FAIL: the catalogue names no default instruct model")


def chat(*args, stdin="", env=None, model=True):
    """Run `cove chat`; model=True adds -m COVE_TEST_CHAT_MODEL when that is set."""
    extra = []
    if model and os.environ.get("COVE_TEST_CHAT_MODEL"):
        extra = ["-m", os.environ["COVE_TEST_CHAT_MODEL"]]
    return subprocess.run([COVE, "chat", *extra, *args], input=stdin, capture_output=True,
                          text=True, timeout=RUN_TIMEOUT, env=env)


def test_model_present():
    name, file = default_instruct_file()
    path = os.path.join(cache_dir(), file)
    check("default instruct model %s is in the cache (%s); get it with 'cove pull %s'"
          % (name, path, name), os.path.isfile(path))


def test_one_message():
    r = chat("-p", PARIS, "--temp", "0", *N)
    check("-p answers and exits 0", r.returncode == 0, r.stderr)
    check("the answer names Paris", "Paris" in r.stdout, r.stdout + r.stderr)
    check("one answer, one trailing newline", r.stdout.endswith("\n") and
          r.stdout.count("\n") == 1 and r.stdout.strip(), repr(r.stdout))
    check("no '> ' prompt when stdin is not a terminal", "> " not in r.stderr, r.stderr)


def test_conversation():
    first = chat("--temp", "0", *N, stdin=INTRO + "\n")
    both = chat("--temp", "0", *N, stdin=INTRO + "\n" + QUESTION + "\n")
    alone = chat("--temp", "0", *N, stdin=QUESTION + "\n")
    reset = chat("--temp", "0", *N, stdin=INTRO + "\n/reset\n" + QUESTION + "\n")
    for what, r in (("first", first), ("both", both), ("alone", alone), ("reset", reset)):
        check("session '%s' exits 0 at EOF" % what, r.returncode == 0, r.stderr)
    a1 = first.stdout
    check("the first answer is one line", a1.count("\n") == 1 and a1.strip(), a1)
    check("two answers: the first is the one-turn session's", both.stdout.startswith(a1),
          (a1, both.stdout))
    a2 = both.stdout[len(a1):]
    check("the second answer remembers the password", a2.strip() and SECRET in a2, a2)
    check("the question alone does not get it", alone.stdout.strip() and
          SECRET not in alone.stdout, alone.stdout)
    check("/reset forgets the conversation", reset.stdout.startswith(a1) and
          reset.stdout[len(a1):].strip() and SECRET not in reset.stdout[len(a1):],
          reset.stdout)
    check("/reset says so on stderr", "new conversation" in reset.stderr, reset.stderr)


def test_eof_and_commands():
    r = chat("--temp", "0", stdin="")
    check("EOF at once exits 0 with no output", r.returncode == 0 and r.stdout == "", r)
    r = chat("--temp", "0", *N, stdin="\n/bogus\n/exit\n" + PARIS + "\n")
    check("/exit ends the session before the next line", r.returncode == 0 and
          r.stdout == "", r)
    check("an unknown /command is named", "unknown command '/bogus'" in r.stderr, r.stderr)


def test_context_never_truncated():
    long = "Tell me about cats and dogs. " * 40
    r = chat("--temp", "0", "--ctx", "64", "-n", "8", stdin=long + "\nHi\n")
    check("a message that does not fit is refused and the session goes on (exit 1)",
          r.returncode == 1 and "not sent" in r.stderr and r.stdout.strip(), r)
    r = chat("--temp", "0", "--ctx", "48", "-n", "-1", "-p", "Write a long story about a dragon.")
    check("an answer that fills the context stops with a message (exit 1)",
          r.returncode == 1 and "is full" in r.stderr and r.stdout.strip(), r)


def test_terminal_prompt():
    master, slave = pty.openpty()
    try:
        extra = []
        if os.environ.get("COVE_TEST_CHAT_MODEL"):
            extra = ["-m", os.environ["COVE_TEST_CHAT_MODEL"]]
        p = subprocess.Popen([COVE, "chat", *extra], stdin=slave, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        os.write(master, b"/exit\n")
        out, err = p.communicate(timeout=RUN_TIMEOUT)
    finally:
        os.close(master)
        os.close(slave)
    check("'> ' on stderr when stdin is a terminal", p.returncode == 0 and
          err.startswith("> ") and out == "", (p.returncode, out, err))


def test_usage():
    for args in (["--bogus"], ["-n"], ["--temp", "hot"], ["-n", "0"], ["stray-argument"]):
        r = chat(*args, model=False)
        check("cove chat %s exits 2" % " ".join(args), r.returncode == 2 and
              "cove chat" in r.stderr, r)
    r = chat("--help", model=False)
    check("--help", r.returncode == 0 and "usage: cove chat" in r.stdout, r)


def test_missing_model():
    name, _ = default_instruct_file()
    with tempfile.TemporaryDirectory() as empty:
        env = dict(os.environ, COVE_MODELS=empty)
        r = chat("-p", "Hi", env=env, model=False)
    check("a missing default model exits 1", r.returncode == 1, r)
    check("... and says what to run", "cove pull %s" % name in r.stderr and
          "scripts/models.sh %s" % name in r.stderr, r.stderr)
    r = chat("-m", "/nonexistent/model.gguf", "-p", "Hi", model=False)
    check("a missing -m file exits 1", r.returncode == 1 and "/nonexistent" in r.stderr, r)


def main():
    global COVE, SOURCE
    if len(sys.argv) != 3:
        print("usage: test_chat.py PATH-TO-COVE SOURCE-DIR", file=sys.stderr)
        return 2
    COVE, SOURCE = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    if os.environ.get("COVE_TEST_CHAT_MODEL"):
        print("note: COVE_TEST_CHAT_MODEL=%s stands in for the default model"
              % os.environ["COVE_TEST_CHAT_MODEL"])
    for case in (test_model_present, test_one_message, test_conversation,
                 test_eof_and_commands, test_context_never_truncated, test_terminal_prompt,
                 test_usage, test_missing_model):
        try:
            case()
        except Exception as e:  # report and go on with the next case
            check(case.__name__, False, "%s: %s" % (type(e).__name__, e))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
