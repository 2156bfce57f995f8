#!/usr/bin/env python3
"""tests/app/test_models_sh.py - scripts/models.sh against local wheels, offline.

usage: test_models_sh.py PATH-TO-models.sh

Builds small wheels in a temporary directory (one package holding a whole
file, two packages holding the two parts of a split file) and a catalogue
naming them, then runs models.sh with pip pointed at that directory only
(PIP_NO_INDEX, PIP_FIND_LINKS): no network is used. Exits 77 (skipped) when
python3 has no pip. Ends with "N passed, N failed".
"""
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
import zipfile

SCRIPT = None
RUN_TIMEOUT = 60
WHOLE = bytes(range(256)) * 700
SPLIT_A = b"GGUF" + bytes(5000)
SPLIT_B = b"second part" * 300


def sha(data):
    return hashlib.sha256(data).hexdigest()


def make_wheel(dirpath, name, version, files):
    """A minimal valid wheel: name-version-py3-none-any.whl with METADATA, WHEEL, RECORD."""
    dist = name.replace("-", "_")
    info = "%s-%s.dist-info" % (dist, version)
    path = os.path.join(dirpath, "%s-%s-py3-none-any.whl" % (dist, version))
    entries = dict(files)
    entries[info + "/METADATA"] = ("Metadata-Version: 2.1\nName: %s\nVersion: %s\n"
                                   % (name, version)).encode()
    entries[info + "/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                                b"Tag: py3-none-any\n")
    record = "".join("%s,,\n" % k for k in entries) + info + "/RECORD,,\n"
    entries[info + "/RECORD"] = record.encode()
    with zipfile.ZipFile(path, "w") as z:
        for k, v in entries.items():
            z.writestr(k, v)


class Env:
    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="cove-test-models-sh-")
        self.wheels = os.path.join(self.root, "wheels")
        self.cache = os.path.join(self.root, "cache")
        self.catalogue = os.path.join(self.root, "catalogue.tsv")
        os.makedirs(self.wheels)
        make_wheel(self.wheels, "whole-pkg", "1.0", {"whole_pkg/data/whole.bin": WHOLE})
        make_wheel(self.wheels, "split-pkg-part1", "1.0", {"p1/data/s.part00": SPLIT_A})
        make_wheel(self.wheels, "split-pkg-part2", "1.0", {"p2/data/s.part01": SPLIT_B})
        self.write_catalogue()

    def write_catalogue(self, whole_sha=None):
        rows = [
            ("whole-model", "yes", "whole.bin", len(WHOLE), whole_sha or sha(WHOLE),
             "whole-pkg==1.0", "whole_pkg/data/whole.bin"),
            ("split-model", "yes", "sub/split.gguf", len(SPLIT_A + SPLIT_B), sha(SPLIT_A + SPLIT_B),
             "split-pkg-part1==1.0+split-pkg-part2==1.0", "p1/data/s.part00+p2/data/s.part01"),
            ("extra-model", "no", "extra.bin", len(WHOLE), sha(WHOLE),
             "whole-pkg==1.0", "whole_pkg/data/whole.bin"),
        ]
        with open(self.catalogue, "w") as f:
            f.write("# test\nname\tpurpose\tdefault\tformat\tstate\tfile\tsize\tsha256\turl\t"
                    "pypi\tpypi_path\tlicence\n")
            for name, default, file, size, digest, pypi, path in rows:
                f.write("\t".join([name, "base", default, "gguf", "ready", file, str(size),
                                   digest, "http://127.0.0.1:9/" + file, pypi, path, "mit"])
                        + "\n")

    def run(self, *args):
        env = dict(os.environ, COVE_MODELS=self.cache, COVE_CATALOGUE=self.catalogue,
                   HOME=self.root, TMPDIR=self.root, PIP_NO_INDEX="1",
                   PIP_FIND_LINKS=self.wheels, PIP_CONFIG_FILE=os.devnull)
        return subprocess.run(["bash", SCRIPT] + list(args), env=env, capture_output=True,
                              text=True, timeout=RUN_TIMEOUT)

    def read(self, rel):
        with open(os.path.join(self.cache, rel), "rb") as f:
            return f.read()

    def close(self):
        shutil.rmtree(self.root, ignore_errors=True)


def expect(cond, what, r=None):
    if not cond:
        if r is not None:
            what += "\n  exit %d\n  stdout: %s\n  stderr: %s" % (r.returncode, r.stdout.strip(),
                                                               r.stderr.strip())
        raise AssertionError(what)


def test_defaults_then_quiet(env):
    r = env.run()
    expect(r.returncode == 0, "models.sh failed", r)
    expect(env.read("whole.bin") == WHOLE, "whole.bin differs")
    expect(env.read("sub/split.gguf") == SPLIT_A + SPLIT_B, "parts not joined in order")
    expect(not os.path.exists(os.path.join(env.cache, "extra.bin")), "non-default fetched")
    leftovers = [n for n in os.listdir(env.root) if n.startswith("cove-models.")]
    expect(not leftovers, "temporary directory left: %r" % leftovers)
    r = env.run()
    expect(r.returncode == 0 and r.stdout == "" and r.stderr == "", "not quiet when cached", r)


def test_named_and_all(env):
    r = env.run("extra-model")
    expect(r.returncode == 0 and env.read("extra.bin") == WHOLE, "named model", r)
    expect(not os.path.exists(os.path.join(env.cache, "whole.bin")), "only the named model")
    r = env.run("--all")
    expect(r.returncode == 0 and env.read("whole.bin") == WHOLE, "--all", r)


def test_wrong_checksum(env):
    env.write_catalogue(whole_sha="0" * 64)
    r = env.run("whole-model")
    expect(r.returncode == 1 and "checksum mismatch" in r.stderr, "wrong checksum fails", r)
    expect(not os.listdir(env.cache), "nothing may be left: %r" % os.listdir(env.cache))


def test_damaged_file_replaced(env):
    os.makedirs(env.cache)
    with open(os.path.join(env.cache, "whole.bin"), "wb") as f:
        f.write(b"x" * len(WHOLE))
    r = env.run("whole-model")
    expect(r.returncode == 0 and env.read("whole.bin") == WHOLE, "damaged file replaced", r)


def test_bad_usage(env):
    for args in (["no-such-model"], ["--bogus"]):
        r = env.run(*args)
        expect(r.returncode == 2, "models.sh %s: expected exit 2" % args, r)
    r = env.run("--help")
    expect(r.returncode == 0 and "usage:" in r.stdout, "--help", r)


CASES = [v for k, v in list(globals().items()) if k.startswith("test_")]


def main():
    global SCRIPT
    if len(sys.argv) != 2:
        print("usage: test_models_sh.py PATH-TO-models.sh", file=sys.stderr)
        return 2
    SCRIPT = os.path.abspath(sys.argv[1])
    if subprocess.run([sys.executable, "-m", "pip", "--version"],
                      capture_output=True).returncode != 0:
        print("skipped: python3 has no pip")
        return 77
    passed = failed = 0
    for case in CASES:
        env = Env()
        try:
            case(env)
            passed += 1
            print("ok   %s" % case.__name__)
        except Exception:  # report and go on with the next case
            failed += 1
            print("FAIL %s\n%s" % (case.__name__, traceback.format_exc()))
        finally:
            env.close()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
