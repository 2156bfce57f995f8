#!/usr/bin/env python3
"""tests/server/test_serve.py - `cove serve` driven by the official openai package and by a
llama.cpp-style client speaking plain HTTP; POST /agent with and without its SSE stream.

usage: test_serve.py PATH-TO-COVE FIXTURE-MODELS-DIR BUILD-DIR

Models: SmolLM2-135M-Instruct.Q4_1.gguf (real chat template) and all-minilm-l6-v2.gguf from
the model cache ($COVE_MODELS, default ~/.cache/cove/models), stories260K.gguf from the fixture
directory. A missing model is a FAILURE. The openai package is used if importable; otherwise
it is installed into a virtual environment under BUILD-DIR (network to PyPI needed once).

Every server is started on 127.0.0.1 with --port 0 (the port is read from its stderr) and is
stopped by the test (SIGTERM; the exit status must be 0). Ends with "N passed, N failed".
"""
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.client import HTTPConnection

COVE, FIXTURES, BUILD = sys.argv[1], sys.argv[2], sys.argv[3]
CACHE = os.environ.get("COVE_MODELS") or os.path.expanduser("~/.cache/cove/models")
SMOL = os.path.join(CACHE, "SmolLM2-135M-Instruct.Q4_1.gguf")
SMOL_ID = "SmolLM2-135M-Instruct.Q4_1"
MINILM = os.path.join(CACHE, "all-minilm-l6-v2.gguf")
STORIES = os.path.join(FIXTURES, "stories260K.gguf")
passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok   " + name)
    else:
        failed += 1
        print("FAIL %s\n  %s" % (name, str(detail)[:2000]))
    sys.stdout.flush()


def ensure_openai():
    """Import openai, installing it into BUILD/serve-venv when it is missing."""
    try:
        import openai  # noqa: F401
        return
    except ImportError:
        pass
    venv = os.path.join(BUILD, "serve-venv")
    py = os.path.join(venv, "bin", "python")
    if os.environ.get("COVE_SERVE_VENV") == "1":
        sys.exit("openai is still not importable in %s" % venv)
    if not os.path.exists(py):
        subprocess.run([sys.executable, "-m", "venv", venv], check=True, timeout=300)
    subprocess.run([py, "-m", "pip", "install", "-q", "openai"], check=True, timeout=600)
    env = dict(os.environ, COVE_SERVE_VENV="1")
    os.execve(py, [py] + sys.argv, env)


class Server:
    """`cove serve ARGS` on 127.0.0.1, a free port."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([COVE, "serve", "--port", "0", *args],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.port, self.log = None, []
        deadline = time.time() + 120
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.log.append(line)
            if "listening on" in line:
                self.port = int(line.split("listening on ")[1].split()[0].rsplit(":", 1)[1])
                break
        if self.port is None:
            self.proc.kill()
            raise RuntimeError("cove serve did not start: " + "".join(self.log))
        threading.Thread(target=self._drain_log, daemon=True).start()
        self.url = "http://127.0.0.1:%d" % self.port

    def _drain_log(self):
        for line in self.proc.stderr:
            self.log.append(line)

    def stop(self):
        """SIGTERM; returns the exit status."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return -1


def http(url, body=None, key=None, timeout=60):
    """(status, body bytes) of a GET (body None) or POST of JSON."""
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method="GET" if data is None else "POST")
    req.add_header("Content-Type", "application/json")
    if key:
        req.add_header("Authorization", "Bearer " + key)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def cos(a, b):
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}
PARIS = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]


def chat_cases(client):
    import openai
    r = client.chat.completions.create(model=SMOL_ID, messages=PARIS, temperature=0, max_tokens=32)
    answer = r.choices[0].message.content
    check("chat answers", "Paris" in answer and r.choices[0].finish_reason == "stop", r)
    check("chat usage", r.usage.prompt_tokens > 10 and r.usage.completion_tokens > 0, r.usage)

    parts, finish, usage = [], None, None
    for ch in client.chat.completions.create(model=SMOL_ID, messages=PARIS, temperature=0,
                                             max_tokens=32, stream=True,
                                             stream_options={"include_usage": True}):
        if ch.usage:
            usage = ch.usage
        for c in ch.choices:
            parts.append(c.delta.content or "")
            finish = c.finish_reason or finish
    check("chat stream equals the whole answer", "".join(parts) == answer, (parts, answer))
    check("chat stream finish and usage", finish == "stop" and usage and usage.completion_tokens
          == r.usage.completion_tokens, (finish, usage))
    check("chat stream reuses the cached prompt", usage and usage.prompt_tokens_details and
          usage.prompt_tokens_details.cached_tokens > 0, usage)

    r = client.chat.completions.create(model=SMOL_ID, messages=PARIS, temperature=0, max_tokens=3,
                                       logprobs=True, top_logprobs=2)
    lp = r.choices[0].logprobs.content
    check("chat logprobs", len(lp) == 3 and all(len(t.top_logprobs) == 2 and t.logprob <= 0
                                                for t in lp), lp)

    try:
        client.chat.completions.create(model=SMOL_ID, messages=PARIS, extra_body={"bogus": 1})
        check("unknown field is a 400", False, "accepted")
    except openai.BadRequestError as e:
        check("unknown field is a 400", e.status_code == 400 and "bogus" in str(e), e)
    try:
        client.chat.completions.create(model="gpt-4o", messages=PARIS)
        check("unknown model is a 404", False, "accepted")
    except openai.NotFoundError as e:
        check("unknown model is a 404", e.status_code == 404, e)


def tool_cases(client):
    msgs = [{"role": "user", "content": "What is the weather like in Paris today?"}]
    for choice in ("required", {"type": "function", "function": {"name": "get_weather"}}):
        r = client.chat.completions.create(model=SMOL_ID, messages=msgs, tools=[WEATHER],
                                           tool_choice=choice, parallel_tool_calls=False,
                                           temperature=0, max_tokens=64)
        c = r.choices[0]
        calls = c.message.tool_calls or []
        ok = c.finish_reason == "tool_calls" and len(calls) >= 1 and \
            calls[0].function.name == "get_weather"
        args = json.loads(calls[0].function.arguments) if ok else {}
        check("tool call (tool_choice %s)" % json.dumps(choice),
              ok and isinstance(args.get("city"), str) and calls[0].id.startswith("call_"), r)

    # parallel calls allowed: this small model repeats its call until max_tokens; the calls
    # completed before the cut come back, finish_reason "length"
    r = client.chat.completions.create(model=SMOL_ID, messages=msgs, tools=[WEATHER],
                                       tool_choice="required", temperature=0, max_tokens=64)
    c = r.choices[0]
    calls = c.message.tool_calls or []
    check("parallel calls cut by max_tokens keep the complete ones",
          len(calls) >= 1 and all(t.function.name == "get_weather" and
                                  "city" in json.loads(t.function.arguments) for t in calls)
          and c.finish_reason in ("tool_calls", "length"), r)

    r = client.chat.completions.create(model=SMOL_ID, messages=msgs, tools=[WEATHER],
                                       tool_choice="auto", parallel_tool_calls=False,
                                       temperature=0, max_tokens=64)
    c = r.choices[0]
    check("tool_choice auto: a call or text, never a loose call",
          (c.finish_reason == "tool_calls" and c.message.tool_calls) or
          (c.message.content and "<tool_call>" not in c.message.content), r)

    calls, finish = {}, None
    for ch in client.chat.completions.create(model=SMOL_ID, messages=msgs, tools=[WEATHER],
                                             tool_choice="required", temperature=0,
                                             parallel_tool_calls=False, max_tokens=64,
                                             stream=True):
        for c in ch.choices:
            finish = c.finish_reason or finish
            for tc in c.delta.tool_calls or []:
                e = calls.setdefault(tc.index, {"name": "", "args": ""})
                e["name"] += tc.function.name or ""
                e["args"] += tc.function.arguments or ""
    ok = finish == "tool_calls" and calls and calls[0]["name"] == "get_weather"
    check("streamed tool-call deltas", ok and "city" in json.loads(calls[0]["args"]), (finish, calls))

    # the result of the call goes back; the model answers in text
    call = r.choices[0].message.tool_calls[0] if r.choices[0].message.tool_calls else None
    if call:
        msgs2 = msgs + [{"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
                        {"role": "tool", "tool_call_id": call.id, "content": "sunny, 24 C"}]
        r2 = client.chat.completions.create(model=SMOL_ID, messages=msgs2, tools=[WEATHER],
                                            tool_choice="none", temperature=0, max_tokens=48)
        check("answer after a tool result", bool(r2.choices[0].message.content) and
              r2.choices[0].finish_reason in ("stop", "length"), r2)

    schema = {"type": "object", "properties": {"capital": {"type": "string"},
                                               "country": {"type": "string"}},
              "required": ["capital", "country"]}
    r = client.chat.completions.create(
        model=SMOL_ID, messages=PARIS, temperature=0, max_tokens=64,
        response_format={"type": "json_schema", "json_schema": {"name": "a", "schema": schema}})
    try:
        doc = json.loads(r.choices[0].message.content)
        ok = set(doc) == {"capital", "country"} and all(isinstance(v, str) for v in doc.values())
    except (ValueError, TypeError):
        ok = False
    check("response_format json_schema", ok, r.choices[0].message.content)


def embedding_cases(client):
    texts = ["The cat sits on the mat", "A cat is sitting on a rug",
             "Quarterly revenue rose by 8 percent"]
    r = client.embeddings.create(model="all-minilm-l6-v2", input=texts)  # base64 on the wire
    v = [d.embedding for d in r.data]
    check("embeddings: three vectors of 384", len(v) == 3 and all(len(x) == 384 for x in v))
    check("embeddings: similar texts are closer", cos(v[0], v[1]) > cos(v[0], v[2]) + 0.2,
          (cos(v[0], v[1]), cos(v[0], v[2])))
    f = client.embeddings.create(model="all-minilm-l6-v2", input=texts[0], encoding_format="float")
    check("embeddings: float and base64 agree",
          max(abs(a - b) for a, b in zip(f.data[0].embedding, v[0])) < 1e-6)
    models = [m.id for m in client.models.list()]
    check("models list", models == [SMOL_ID, "all-minilm-l6-v2"], models)


def llama_cases(url):
    st, body = http(url + "/completion", {"prompt": "Once upon a time", "n_predict": 12,
                                          "temperature": 0})
    r = json.loads(body) if st == 200 else {}
    check("/completion", st == 200 and r.get("content", "").startswith(", there was a little girl")
          and r.get("tokens_predicted") == 12 and "timings" in r, body[:500])
    req = urllib.request.Request(url + "/completion", method="POST", data=json.dumps(
        {"prompt": "Once upon a time", "n_predict": 8, "temperature": 0, "stream": True}).encode())
    events = []
    with urllib.request.urlopen(req, timeout=60) as resp:
        for raw in resp:
            line = raw.decode().strip()
            if line:
                events.append(json.loads(line[len("data: "):]) if line.startswith("data: ") else line)
    ok = all(isinstance(e, dict) for e in events) and events and events[-1].get("stop") is True
    text = "".join(e.get("content", "") for e in events if isinstance(e, dict))
    check("/completion stream", ok and text == r.get("content", "")[:len(text)] and len(events) == 9,
          events)
    st, body = http(url + "/completion", {"prompt": "Once", "n_predict": "x"})
    check("/completion wrong type", st == 400 and json.loads(body)["error"]["param"] == "n_predict",
          body)
    st, body = http(url + "/completion", b"{not json")
    check("/completion malformed JSON", st == 400 and "error" in json.loads(body), body)
    st, body = http(url + "/health")
    check("/health", st == 200 and json.loads(body) == {"status": "ok"}, body)
    st, body = http(url + "/metrics")
    check("/metrics", st == 200 and b"cove_http_requests_total" in body, body[:300])


def auth_cases(openai):
    with tempfile.NamedTemporaryFile("w", suffix=".keys", delete=False) as f:
        f.write("sk-test-alice alice\n")
        keys = f.name
    srv = Server("-m", STORIES, "--api-key-file", keys, "--ctx", "512")
    try:
        bad = openai.OpenAI(base_url=srv.url + "/v1", api_key="sk-wrong", max_retries=0, timeout=60)
        try:
            bad.models.list()
            check("bad key is a 401", False, "accepted")
        except openai.AuthenticationError as e:
            check("bad key is a 401", e.status_code == 401, e)
        good = openai.OpenAI(base_url=srv.url + "/v1", api_key="sk-test-alice", max_retries=0,
                             timeout=60)
        r = good.completions.create(model="stories260K", prompt="Once upon a time", max_tokens=5,
                                    temperature=0)
        check("good key works", r.choices[0].text == ", there was a little", r)
    finally:
        check("key server stops with 0", srv.stop() == 0, "".join(srv.log))
        os.unlink(keys)
    st = subprocess.run([COVE, "serve", "-m", STORIES, "--host", "0.0.0.0", "--port", "0"],
                        capture_output=True, text=True, timeout=60)
    check("public host without keys is refused", st.returncode == 1 and "loopback" in st.stderr,
          st.stderr)


def sigterm_drains():
    srv = Server("-m", STORIES, "--ctx", "2048")
    got = {}

    def stream():
        got["status"], got["body"] = http(srv.url + "/completion", {
            "prompt": "Once upon a time", "n_predict": 1500, "stream": True}, timeout=120)

    t = threading.Thread(target=stream)
    t.start()
    time.sleep(0.05)
    rc = srv.stop()
    t.join(120)
    check("SIGTERM: exit 0", rc == 0, "".join(srv.log))
    check("SIGTERM: the running stream finished", got.get("status") == 200 and
          b'"stop":true' in got.get("body", b""), str(got)[-300:])


def agent_config():
    """A calculator-only agent on the instruct model: a tool call first, then the answer."""
    f = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump({"model": SMOL, "tools": ["calculator"], "max_steps": 3, "tool_first": True,
               "max_tokens": 64, "n_ctx": 2048}, f)
    f.close()
    return f.name


def sse_read(resp):
    """The events of an SSE response (dicts) and whether it ended with data: [DONE]."""
    events, done = [], False
    for raw in resp:
        line = raw.decode().strip()
        if not line:
            continue
        if done or not line.startswith("data: "):
            return events, False
        if line == "data: [DONE]":
            done = True
        else:
            events.append(json.loads(line[len("data: "):]))
    return events, done


def agent_stream_cases(url):
    ask = {"request": "What is 17 * 3? Use the calculator.", "agent": "calc"}
    # a first run loads the agent; its plan may differ from later ones, which reuse the
    # prompt prefix the agent has cached, so the runs compared are the second and third
    http(url + "/agent", ask, timeout=120)
    st, body = http(url + "/agent", ask, timeout=120)
    plain = json.loads(body) if st == 200 else {}
    check("/agent without stream", st == 200 and plain.get("trace"), body[:500])
    req = urllib.request.Request(url + "/agent", method="POST",
                                 data=json.dumps(dict(ask, stream=True)).encode())
    with urllib.request.urlopen(req, timeout=120) as resp:
        ctype = resp.headers.get("Content-Type")
        events, done = sse_read(resp)
    steps = [e for e in events if e.get("type") == "step"]
    last = dict(events[-1]) if events else {}
    check("/agent stream: steps in order, then done, then [DONE]",
          ctype == "text/event-stream" and done and last.pop("type", None) == "done" and
          [e["step"] for e in steps] == list(range(1, len(steps) + 1)) and
          len(steps) == len(events) - 1, (ctype, done, events))
    want = dict(plain)
    for d in (last, want):
        d.pop("id", None)
    check("/agent stream: done equals the plain reply (answer, actions)",
          last.get("response") == want.get("response") and
          [e["action"] for e in steps] == [t["action"] for t in want.get("trace", [])] and
          [t["action"] for t in last.get("trace", [])] == [e["action"] for e in steps],
          (last, want))

    # a client that reads the first event and hangs up; the server stays well
    host, port = url[len("http://"):].rsplit(":", 1)
    conn = HTTPConnection(host, int(port), timeout=120)
    conn.request("POST", "/agent", json.dumps(dict(ask, stream=True)),
                 {"Content-Type": "application/json"})
    first = conn.getresponse().readline()
    conn.close()
    check("/agent stream: first event before hanging up", b'"type":"step"' in first, first)
    st, body = http(url + "/health")
    st2, body2 = http(url + "/agent", ask, timeout=120)
    check("/agent after a client hung up", st == 200 and st2 == 200 and
          json.loads(body2).get("response") == plain.get("response"), (st, st2, body2[:300]))

    st, body = http(url + "/agent", {"request": "", "stream": True})
    check("/agent stream with a bad body is a JSON 400",
          st == 400 and json.loads(body)["error"]["param"] == "request", body)


def section(name, fn, *args):
    """Run one group of cases; an exception fails the group instead of ending the test."""
    try:
        fn(*args)
    except Exception as e:  # noqa: BLE001 - any failure of a case is reported the same way
        check(name, False, "%s: %s" % (type(e).__name__, e))


def main():
    ensure_openai()
    import openai
    for m in (SMOL, MINILM, STORIES):
        check("model present: " + m, os.path.isfile(m))
    if failed:
        print("%d passed, %d failed" % (passed, failed))
        return 1
    calc = agent_config()
    srv = Server("-m", SMOL, "--embed-model", MINILM, "--ctx", "2048", "--parallel", "4",
                 "--agent", "calc=" + calc)
    try:
        client = openai.OpenAI(base_url=srv.url + "/v1", api_key="none", max_retries=0, timeout=120)
        section("chat", chat_cases, client)
        section("tools", tool_cases, client)
        section("embeddings", embedding_cases, client)
        section("agent stream", agent_stream_cases, srv.url)
    finally:
        check("server stops with 0", srv.stop() == 0, "".join(srv.log))
        os.unlink(calc)
    srv = Server("-m", STORIES, "--ctx", "512")
    try:
        section("llama.cpp client", llama_cases, srv.url)
    finally:
        check("stories server stops with 0", srv.stop() == 0, "".join(srv.log))
    section("auth", auth_cases, openai)
    section("SIGTERM", sigterm_drains)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
