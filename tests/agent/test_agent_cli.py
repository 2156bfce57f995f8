#!/usr/bin/env python3
"""tests/agent/test_agent_cli.py - `cove tool` and `cove ask` as a user runs them.

usage: test_agent_cli.py PATH-TO-COVE SOURCE-DIR

`cove tool` runs each built-in tool through the agent's registry: argument validation,
file access beneath --root only, device bounds, the audit log. `cove ask` is checked for
its usage errors here; the model runs are in test_agent (label model).
Ends with "N passed, N failed".
"""
import json
import os
import sqlite3
import sys
import tempfile

from cli_util import check, run, summary, use
from fake_model import fake_model

use(sys.argv[1])


def remote_ask(tmp, docs):
    """cove ask against a local fake server: the remote backend, the loop, --trace."""
    replies = [
        json.dumps({"thought": "read it", "action": "read_file",
                    "arguments": {"path": "a.txt"}}),
        json.dumps({"thought": "done", "action": "final_answer",
                    "answer": "The pelican contract runs for 24 months.",
                    "citations": ["file:docs/a.txt"]}),
    ]
    with fake_model(replies) as (url, requests):
        rc, out, err = run("ask", "--remote", url, "--key", "sekrit", "--root", docs,
                           "--sessions", os.path.join(tmp, "s.db"), "--trace",
                           "How long does the pelican contract run?")
    lines = [json.loads(x) for x in out.splitlines() if x.strip()]
    check("remote ask: trace lines", rc == 0 and len(lines) == 2, out + err)
    if len(lines) == 2:
        check("remote ask: tool step", lines[0]["action"] == "read_file"
              and "24 months" in lines[0]["observation"], str(lines[0]))
        check("remote ask: final", lines[1]["action"] == "final_answer"
              and lines[1]["citations"] == ["file:docs/a.txt"] and lines[1]["grounded"],
              str(lines[1]))
    path, auth, body = requests[0]
    check("remote ask: request", path == "/v1/chat/completions" and auth == "Bearer sekrit"
          and "grammar" in body and body["response_format"]["type"] == "json_schema"
          and body["messages"][0]["role"] == "system", str(body)[:300])


def main():
    tmp = tempfile.mkdtemp(prefix="cove-agent-cli-")
    docs = os.path.join(tmp, "docs")
    os.mkdir(docs)
    with open(os.path.join(docs, "a.txt"), "w") as f:
        f.write("The pelican contract runs for 24 months.\n")
    with open(os.path.join(tmp, "secret.txt"), "w") as f:
        f.write("top secret\n")
    os.symlink("../secret.txt", os.path.join(docs, "link"))

    rc, out, _ = run("tool", "calculator", '{"expression": "0.1 + 0.2"}')
    check("calculator exact", rc == 0 and out.strip() == "0.3", out)
    rc, out, _ = run("tool", "calculator", '{"expression": "1/0"}')
    check("calculator error", rc == 1 and "division by zero" in out, out)
    rc, out, _ = run("tool", "calculator", '{"expr": "1"}')
    check("invalid arguments refused", rc == 1 and "invalid arguments" in out, out)
    rc, out, _ = run("tool", "calculator", "not json")
    check("unparsable arguments refused", rc == 1 and "not JSON" in out, out)

    rc, out, _ = run("tool", "read_file", '{"path": "a.txt"}', "--root", docs)
    check("read_file beneath root", rc == 0 and "24 months" in out, out)
    for bad in ("../secret.txt", "link", "/etc/passwd", "docs/../../secret.txt"):
        rc, out, _ = run("tool", "read_file", json.dumps({"path": bad}), "--root", docs)
        check(f"read_file refuses {bad}", rc == 1 and "top secret" not in out
              and "root:" not in out, out)
    rc, out, _ = run("tool", "list_files", '{"path": "docs"}', "--root", docs)
    check("list_files", rc == 0 and "docs/a.txt" in out, out)

    db = os.path.join(tmp, "devices.db")
    con = sqlite3.connect(db)
    con.executescript("CREATE TABLE devices(name TEXT PRIMARY KEY, kind TEXT, state TEXT,"
                      " value REAL, min REAL, max REAL, unit TEXT);"
                      "INSERT INTO devices VALUES('thermostat','heating','on',20,16,28,'C');")
    con.commit()
    con.close()
    rc, out, _ = run("tool", "device_control",
                     '{"action": "set", "device": "thermostat", "value": 40}', "--devices", db)
    check("device bound refused", rc == 1 and "outside the range" in out, out)
    rc, out, _ = run("tool", "device_control",
                     '{"action": "set", "device": "thermostat", "value": 22}', "--devices", db)
    check("device set", rc == 0 and "22 C" in out, out)

    log = os.path.join(tmp, "audit.log")
    rc, out, _ = run("tool", "current_time", "{}", "--audit", log)
    with open(log) as f:
        kinds = [json.loads(line).get("kind") for line in f if line.strip()]
    check("audit of a tool call", rc == 0 and "tool_call" in kinds and "tool_result" in kinds,
          str(kinds))

    remote_ask(tmp, docs)

    rc, out, _ = run("tool", "--list")
    check("tool --list", rc == 0 and all(t in out for t in (
        "kb_search", "read_file", "list_files", "write_note", "calculator", "current_time",
        "device_control")), out)
    rc, _, err = run("tool", "calculator")
    check("tool usage error", rc == 2, err)
    rc, out, _ = run("ask", "--help")
    check("ask --help", rc == 0 and "--trace" in out and "--session" in out, out)
    rc, _, err = run("ask")
    check("ask without a request", rc == 2, err)
    rc, _, err = run("ask", "--agent", os.path.join(tmp, "missing.json"), "hi")
    check("ask with a missing config", rc == 1 and "missing.json" in err, err)

    return summary()


if __name__ == "__main__":
    sys.exit(main())
