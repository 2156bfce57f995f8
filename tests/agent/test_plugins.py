#!/usr/bin/env python3
"""tests/agent/test_plugins.py - signed tool plugins and signed models.

usage: test_plugins.py COVE PLUGIN_EXE PLUGIN_LIB SOURCE-DIR plain|sanitized

A plugin loads only when a trusted key signed its manifest and the manifest names the
file's SHA-256; it runs in the sandbox (no network, no fork, no files outside the roots
its permissions name). A model loads under --require-signed only with a signed manifest.
Ends with "N passed, N failed".
"""
import hashlib
import json
import os
import shutil
import sys
import tempfile

from cli_util import check, run, summary, use
from fake_model import fake_model

COVE, EXE, LIB, SRC, MODE = sys.argv[1:6]
MODELS = os.environ.get("COVE_TEST_MODELS", os.path.join(SRC, "..", "shared", "models"))
use(COVE)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def manifest(path, name, file, perms=(), kind="plugin", description=None):
    m = {"name": name, "version": "1.0.0", "kind": kind, "sha256": sha256(file),
         "schema": {"type": "object", "properties": {"op": {"type": "string"},
                                                     "path": {"type": "string"}},
                    "required": ["op"]},
         "permissions": list(perms)}
    if kind == "plugin":
        m["file"] = os.path.basename(file)
        m["description"] = description or f"test tool {name}"
    else:
        del m["schema"], m["permissions"]
    with open(path, "w") as f:
        json.dump(m, f)
    return path


def agent_with_plugin(tmp, m_exe, docs):
    """cove ask: the plugin is one of the agent's tools, in the prompt and the grammar."""
    replies = [
        json.dumps({"thought": "use it", "action": "echo_tool", "arguments": {"op": "echo"}}),
        json.dumps({"thought": "done", "action": "final_answer", "answer": "It echoed.",
                    "citations": []}),
    ]
    with fake_model(replies) as (url, requests):
        rc, out, err = run("ask", "--remote", url, "--plugin", m_exe, "--trust",
                           f"{tmp}/trusted.pub", "--root", docs, "--sessions",
                           f"{tmp}/s.db", "--trace", "Echo something")
    lines = [json.loads(x) for x in out.splitlines() if x.strip().startswith("{")]
    check("ask: plugin step", rc == 0 and len(lines) == 2 and lines[0]["action"] == "echo_tool"
          and 'echo {"op":"echo"}' in lines[0]["observation"], out + err)
    body = requests[0][2] if requests else {}
    check("ask: plugin in the prompt and the grammar", "echo_tool" in json.dumps(
        body.get("messages", "")) and "echo_tool" in body.get("grammar", ""), str(body)[:300])


def main():
    tmp = tempfile.mkdtemp(prefix="cove-plugins-")
    try:
        body(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return summary()


def body(tmp):
    rc, _, err = run("keygen", "-o", f"{tmp}/trusted")
    check("keygen", rc == 0, err)
    run("keygen", "-o", f"{tmp}/other")
    docs = f"{tmp}/docs"
    os.makedirs(docs)
    with open(f"{docs}/note.txt", "w") as f:
        f.write("granted text")
    with open(f"{tmp}/outside.txt", "w") as f:
        f.write("outside secret")
    pdir = f"{tmp}/plugins"
    os.makedirs(pdir)
    exe = shutil.copy(EXE, f"{pdir}/echo_tool")
    lib = shutil.copy(LIB, f"{pdir}/libtool.so")
    m_exe = manifest(f"{pdir}/echo.json", "echo_tool", exe, ["read:docs"])
    rc, _, err = run("sign", "--key", f"{tmp}/trusted.key", m_exe)
    check("sign plugin manifest", rc == 0 and os.path.exists(m_exe + ".sig"), err)
    tool = ["--plugin", m_exe, "--trust", f"{tmp}/trusted.pub", "--root", docs]

    rc, out, err = run("tool", "--list", *tool)
    check("listed with its description", rc == 0 and "echo_tool" in out and
          "test tool echo_tool" in out, out + err)
    rc, out, err = run("tool", "echo_tool", '{"op":"echo"}', *tool)
    check("runs and echoes its arguments", rc == 0 and 'echo {"op":"echo"}' in out, out + err)
    check("gets its granted root", f"root docs={os.path.realpath(docs)}" in out, out)
    rc, out, err = run("tool", "echo_tool", json.dumps(
        {"op": "read", "path": os.path.realpath(f"{docs}/note.txt")}), *tool)
    check("reads below a granted root", rc == 0 and "granted text" in out, out + err)
    rc, out, err = run("tool", "echo_tool", json.dumps(
        {"op": "read", "path": os.path.realpath(f"{tmp}/outside.txt")}), *tool)
    check("cannot read outside its roots", "outside secret" not in out and
          "read denied" in out, out + err)
    for path in ["/etc/shadow", os.path.expanduser("~/.ssh/id_rsa")]:
        rc, out, err = run("tool", "echo_tool", json.dumps({"op": "read", "path": path}), *tool)
        check(f"cannot read {path}", "read ok" not in out, out)
    rc, out, err = run("tool", "echo_tool", '{"op":"net"}', *tool)
    check("no network", "socket opened" not in out, out + err)
    rc, out, err = run("tool", "echo_tool", '{"op":"fork"}', *tool)
    check("no child processes", "fork worked" not in out, out + err)
    rc, out, err = run("tool", "echo_tool", '{"op":"fail"}', *tool)
    check("a failing plugin is an error observation", rc == 1 and "widget is broken" in out,
          out + err)
    rc, out, err = run("tool", "echo_tool", '{"op":"flood"}', *tool)
    check("output bound holds", rc == 1 and len(out) < 70000, f"{rc} {len(out)}")
    rc, out, err = run("tool", "echo_tool", '{"path":"x"}', *tool)
    check("arguments checked against its schema", rc == 1 and "invalid arguments" in out,
          out + err)
    agent_with_plugin(tmp, m_exe, docs)

    # refusals at load: untrusted key, no signature, changed binary, edited manifest,
    # permissions that cannot be granted
    rc, out, err = run("tool", "--list", "--plugin", m_exe, "--trust", f"{tmp}/other.pub")
    check("refused: signed by an untrusted key", rc == 1 and "echo_tool" not in out, err)
    rc, out, err = run("tool", "--list", "--plugin", m_exe)
    check("refused: no trusted keys given", rc == 1 and "trust" in err, err)
    m_unsigned = manifest(f"{pdir}/unsigned.json", "unsigned_tool", exe)
    rc, out, err = run("tool", "--list", "--plugin", m_unsigned, "--trust", f"{tmp}/trusted.pub")
    check("refused: no signature", rc == 1, err)
    m_net = manifest(f"{pdir}/net.json", "net_tool", exe, ["net:connect"])
    run("sign", "--key", f"{tmp}/trusted.key", m_net)
    rc, out, err = run("tool", "--list", "--plugin", m_net, "--trust", f"{tmp}/trusted.pub")
    check("refused: network permission", rc == 1 and "cannot be granted" in err, err)
    with open(m_exe) as f:
        edited = f.read().replace("read:docs", "read:*")
    m_edit = f"{pdir}/edited.json"
    with open(m_edit, "w") as f:
        f.write(edited)
    shutil.copy(m_exe + ".sig", m_edit + ".sig")
    rc, out, err = run("tool", "--list", "--plugin", m_edit, "--trust", f"{tmp}/trusted.pub")
    check("refused: manifest edited after signing", rc == 1, err)
    with open(exe, "ab") as f:
        f.write(b"\0tampered")
    rc, out, err = run("tool", "echo_tool", '{"op":"echo"}', *tool)
    check("refused: plugin binary changed", rc == 1 and "echo {" not in out, out + err)

    if MODE == "plain":  # the sanitized host needs more than the sandbox grants
        m_lib = manifest(f"{pdir}/lib.json", "lib_tool", lib)
        run("sign", "--key", f"{tmp}/trusted.key", m_lib)
        rc, out, err = run("tool", "lib_tool", '{"op":"hello"}', "--plugin", m_lib, "--trust",
                           f"{tmp}/trusted.pub")
        check("shared-library plugin through plugin-host",
              rc == 0 and 'library plugin got 14 bytes: {"op":"hello"}' in out, out + err)

    signed_models(tmp)


def signed_models(tmp):
    src = os.path.join(MODELS, "stories260K.gguf")
    check("fixture model present", os.path.exists(src), src)
    if not os.path.exists(src):
        return
    model = shutil.copy(src, f"{tmp}/stories.gguf")
    keys = f"{tmp}/trusted.pub"
    args = ["complete", "-m", model, "-n", "8", "--temp", "0"]
    rc, plain, err = run(*args)
    check("model runs without the policy", rc == 0 and plain, err)
    rc, out, err = run(*args, "--require-signed", keys)
    check("--require-signed refuses an unsigned model", rc == 1 and "manifest" in err, err)
    m = manifest(f"{model}.manifest.json", "stories", model, kind="model")
    rc, _, err = run("sign", "--key", f"{tmp}/trusted.key", m)
    check("sign model manifest", rc == 0, err)
    rc, out, err = run(*args, "--require-signed", keys)
    check("--require-signed loads a signed model", rc == 0 and out == plain, out + err)
    env = dict(os.environ, COVE_REQUIRE_SIGNED=f"{tmp}/other.pub")
    rc, out, err = run(*args, env=env)
    check("COVE_REQUIRE_SIGNED with another key refuses it", rc == 1, err)
    with open(model, "ab") as f:
        f.write(b"\0")
    rc, out, err = run(*args, "--require-signed", keys)
    check("--require-signed refuses a changed model", rc == 1, err)
    rc, out, err = run("complete", "--require-signed")
    check("--require-signed without keys is a usage error", rc == 2, err)


if __name__ == "__main__":
    sys.exit(main())
