#!/usr/bin/env python3
"""Check that every module includes only its own headers and those of the
modules it depends on, as declared by cove_module(NAME DEPS...) in
CMakeLists.txt. The build enforces this through per-module include roots;
this test also catches relative includes ("../kb/kb.h") that would slip past.
"""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
cmake = (root / "CMakeLists.txt").read_text()
allowed = {}
for m in re.finditer(r"^cove_module\(([^)]*)\)", cmake, re.M):
    parts = m.group(1).split()
    allowed[parts[0]] = set(parts)
modules = set(allowed)
src = root / "src"
include_re = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)
bad = []
checked = 0
for path in sorted(src.rglob("*.[ch]")):
    module = path.relative_to(src).parts[0]
    if module not in allowed:
        if any(path.parent.glob("*.c")):
            bad.append(f"{path}: directory src/{module} is not declared with cove_module()")
        continue
    for inc in include_re.findall(path.read_text(errors="replace")):
        checked += 1
        if ".." in pathlib.PurePosixPath(inc).parts:
            bad.append(f"{path}: relative include \"{inc}\"")
            continue
        head = inc.split("/")[0]
        if head == "cove" or "/" not in inc:
            continue  # public API, or a file beside this one
        if head in modules and head not in allowed[module]:
            bad.append(f"{path}: module '{module}' may not include \"{inc}\"")
for b in bad:
    print(b, file=sys.stderr)
print(f"layering: {checked} includes checked in {len(modules)} modules")
print(f"{0 if bad else 1} passed, {1 if bad else 0} failed")
sys.exit(1 if bad else 0)
