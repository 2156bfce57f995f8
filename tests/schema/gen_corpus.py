#!/usr/bin/env python3
"""Writes the schema corpus tests/schema/schemas/NNN-name.json.

usage: gen_corpus.py OUT_DIR

Each file holds {"schema": ..., "valid": [...], "invalid": [...]} and optionally
  "unsupported": KEYWORD            the converter must refuse the schema naming KEYWORD
  "grammar_rejects_valid": [i...]   valid instances the grammar does not generate
                                    (documented subset: e.g. exponents, 1.0 as integer)
  "grammar_accepts_invalid": [i...] invalid instances the grammar generates
                                    (documented relaxation: e.g. oneOf read as anyOf)
  "extra_props": true               convert with allow_extra_props
  "draft": 7                        the labels follow draft 7 (items as an array)
Every label is checked here with Python's jsonschema (draft 2020-12, formats on)
before a file is written, so a wrong label stops the generator. Instances are
written with properties in schema order, as the grammar generates them.
"""
import json
import os
import random
import sys

import jsonschema

CHECKER = jsonschema.Draft202012Validator.FORMAT_CHECKER
cases = []


def case(name, schema, valid, invalid, **extra):
    cases.append((name, schema, valid, invalid, extra))


def obj(props, required=None, addl=False, **kw):
    s = {"type": "object", "properties": props}
    if required is None:
        required = list(props)
    if required:
        s["required"] = required
    if addl is not None:
        s["additionalProperties"] = addl
    s.update(kw)
    return s


S = {"type": "string"}
I = {"type": "integer"}
N = {"type": "number"}
B = {"type": "boolean"}

# ---- tool-call argument schemas ------------------------------------------------------
tools = [
    ("get_weather", obj({"location": {"type": "string", "minLength": 1},
                         "unit": {"enum": ["celsius", "fahrenheit"]}}, ["location"]),
     [{"location": "Paris"}, {"location": "Oslo", "unit": "celsius"}],
     [{"unit": "celsius"}, {"location": ""}, {"location": "Rome", "unit": "kelvin"}]),
    ("web_search", obj({"query": {"type": "string", "minLength": 1, "maxLength": 200},
                        "max_results": {"type": "integer", "minimum": 1, "maximum": 50}}, ["query"]),
     [{"query": "llama"}, {"query": "x", "max_results": 50}],
     [{"query": "q", "max_results": 0}, {"query": "q", "max_results": 51}, {}]),
    ("send_email", obj({"to": {"type": "string", "format": "email"}, "subject": S, "body": S}),
     [{"to": "ann@example.com", "subject": "hi", "body": "text"}],
     [{"to": "not-an-address", "subject": "hi", "body": "b"}, {"to": "a@b.io", "subject": "hi"}]),
    ("create_event", obj({"title": S, "date": {"type": "string", "format": "date"},
                          "start": {"type": "string", "format": "time"},
                          "attendees": {"type": "array", "items": {"type": "string", "format": "email"}}},
                         ["title", "date"]),
     [{"title": "standup", "date": "2024-02-29"},
      {"title": "x", "date": "2023-12-31", "start": "09:30:00Z", "attendees": ["a@b.co"]}],
     [{"title": "x", "date": "2023-02-29"}, {"title": "x", "date": "2023-13-01"},
      {"title": "x", "date": "2023-01-01", "start": "25:00:00Z"}]),
    ("calculator", obj({"expression": {"type": "string", "pattern": "^[0-9+*/(). -]+$"}}),
     [{"expression": "1 + 2*(3/4)"}], [{"expression": "rm -rf"}, {"expression": ""}]),
    ("read_file", obj({"path": {"type": "string", "pattern": "^(/[A-Za-z0-9._-]+)+$"},
                       "max_bytes": {"type": "integer", "minimum": 1, "maximum": 1048576}}, ["path"]),
     [{"path": "/etc/hosts"}, {"path": "/a/b.txt", "max_bytes": 1048576}],
     [{"path": "relative/x"}, {"path": "/a", "max_bytes": 1048577}]),
    ("write_file", obj({"path": S, "content": S, "append": B}, ["path", "content"]),
     [{"path": "a", "content": ""}, {"path": "a", "content": "x\ny", "append": True}],
     [{"path": "a"}, {"path": "a", "content": "c", "append": "yes"}]),
    ("run_sql", obj({"query": {"type": "string", "pattern": "^(SELECT|select) "},
                     "limit": {"type": "integer", "minimum": 1, "maximum": 1000}}, ["query"]),
     [{"query": "SELECT * FROM t"}, {"query": "select 1", "limit": 10}],
     [{"query": "DROP TABLE t"}, {"query": "SELECT 1", "limit": -5}]),
    ("translate", obj({"text": S, "source": {"type": "string", "pattern": "^[a-z]{2}$"},
                       "target": {"type": "string", "pattern": "^[a-z]{2}$"}}, ["text", "target"]),
     [{"text": "hello", "target": "fr"}, {"text": "x", "source": "en", "target": "de"}],
     [{"text": "x", "target": "fra"}, {"text": "x", "source": "EN", "target": "de"}]),
    ("set_timer", obj({"seconds": {"type": "integer", "minimum": 1, "maximum": 86400},
                       "label": {"type": ["string", "null"]}}, ["seconds"]),
     [{"seconds": 60}, {"seconds": 86400, "label": None}, {"seconds": 5, "label": "tea"}],
     [{"seconds": 0}, {"seconds": 86401}, {"seconds": 1.5}, {"seconds": 3, "label": 3}]),
    ("http_request", obj({"method": {"enum": ["GET", "POST", "PUT", "DELETE"]},
                          "url": {"type": "string", "pattern": "^https?://"},
                          "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                          "timeout": {"type": "number", "minimum": 0, "maximum": 60}}, ["method", "url"]),
     [{"method": "GET", "url": "https://x.org"},
      {"method": "POST", "url": "http://a", "headers": {"Accept": "json"}, "timeout": 2.5}],
     [{"method": "PATCH", "url": "https://x"}, {"method": "GET", "url": "ftp://x"},
      {"method": "GET", "url": "http://a", "headers": {"A": 1}}, {"method": "GET", "url": "http://a", "timeout": 60.5}]),
    ("add_todo", obj({"title": {"type": "string", "maxLength": 80},
                      "priority": {"type": "integer", "minimum": 1, "maximum": 5},
                      "due": {"type": "string", "format": "date-time"},
                      "tags": {"type": "array", "items": S, "maxItems": 5}}, ["title"]),
     [{"title": "buy milk", "priority": 3}, {"title": "t", "due": "2025-01-02T03:04:05Z", "tags": []},
      {"title": "t", "due": "2025-01-02T03:04:05.123+02:00"}],
     [{"title": "t", "priority": 6}, {"title": "t", "due": "2025-01-02 03:04"},
      {"title": "t", "tags": ["a", "b", "c", "d", "e", "f"]}]),
    ("lookup_user", obj({"user_id": {"type": "string", "format": "uuid"}}),
     [{"user_id": "123e4567-e89b-12d3-a456-426614174000"}],
     [{"user_id": "123e4567e89b12d3a456426614174000"}, {"user_id": 5}]),
    ("move_robot", obj({"x": {"type": "number", "minimum": -10, "maximum": 10},
                        "y": {"type": "number", "minimum": -10, "maximum": 10},
                        "speed": {"type": "number", "exclusiveMinimum": 0, "maximum": 1}}),
     [{"x": 0, "y": -10, "speed": 1}, {"x": 9.75, "y": 10, "speed": 0.01}, {"x": -0.5, "y": 3, "speed": 0.5}],
     [{"x": 10.5, "y": 0, "speed": 1}, {"x": 0, "y": 0, "speed": 0}, {"x": 0, "y": -10.01, "speed": 0.5}]),
    ("convert_currency", obj({"amount": {"type": "number", "exclusiveMinimum": 0},
                              "from": {"type": "string", "pattern": "^[A-Z]{3}$"},
                              "to": {"type": "string", "pattern": "^[A-Z]{3}$"}}),
     [{"amount": 12.5, "from": "EUR", "to": "USD"}, {"amount": 0.01, "from": "GBP", "to": "JPY"}],
     [{"amount": 0, "from": "EUR", "to": "USD"}, {"amount": 5, "from": "eur", "to": "USD"}]),
    ("geocode", obj({"lat": {"type": "number", "minimum": -90, "maximum": 90},
                     "lon": {"type": "number", "minimum": -180, "maximum": 180}}),
     [{"lat": 48.85, "lon": 2.35}, {"lat": -90, "lon": 180}],
     [{"lat": 91, "lon": 0}, {"lat": 0, "lon": -180.5}]),
    ("shell", obj({"command": {"type": "string", "minLength": 1},
                   "args": {"type": "array", "items": S},
                   "cwd": S, "env": {"type": "object", "additionalProperties": S}}, ["command"]),
     [{"command": "ls", "args": ["-l", "/tmp"]}, {"command": "env", "env": {"A": "1", "B": "2"}}],
     [{"command": ""}, {"command": "ls", "args": "-l"}]),
    ("resize_image", obj({"width": {"type": "integer", "minimum": 16, "maximum": 4096},
                          "height": {"type": "integer", "minimum": 16, "maximum": 4096},
                          "format": {"enum": ["png", "jpeg", "webp"]}}, ["width", "height"]),
     [{"width": 16, "height": 4096}, {"width": 800, "height": 600, "format": "webp"}],
     [{"width": 15, "height": 100}, {"width": 100, "height": 4097}, {"width": 100, "height": 100, "format": "gif"}]),
    ("schedule", obj({"cron": {"type": "string", "pattern": "^(\\*|[0-9]{1,2}) (\\*|[0-9]{1,2}) \\* \\* \\*$"},
                      "task": S}),
     [{"cron": "0 12 * * *", "task": "backup"}, {"cron": "* * * * *", "task": "ping"}],
     [{"cron": "0 12 * *", "task": "x"}, {"cron": "a b * * *", "task": "x"}]),
    ("rate", obj({"stars": {"type": "integer", "minimum": 1, "maximum": 5},
                  "comment": {"type": "string", "maxLength": 10}}, ["stars"]),
     [{"stars": 5}, {"stars": 1, "comment": "good"}],
     [{"stars": 6}, {"stars": 3, "comment": "far too long for this"}]),
]
for name, schema, valid, invalid in tools:
    case(f"tool-{name}", schema, valid, invalid)

# tool calls: {"name": const, "arguments": schema}, one of several
calls = {"anyOf": [obj({"name": {"const": n}, "arguments": s}) for n, s, _, _ in tools[:6]]}
case("toolcall-anyof", calls,
     [{"name": "get_weather", "arguments": {"location": "Oslo"}},
      {"name": "calculator", "arguments": {"expression": "2+2"}},
      {"arguments": {"location": "x"}, "name": "get_weather"}],
     [{"name": "get_weather", "arguments": {"expression": "2+2"}},
      {"name": "unknown", "arguments": {}}],
     grammar_rejects_valid=[2])  # properties are generated in schema order
case("toolcall-array", {"type": "array", "minItems": 1, "maxItems": 3, "items": calls},
     [[{"name": "web_search", "arguments": {"query": "a"}}],
      [{"name": "web_search", "arguments": {"query": "a"}}, {"name": "read_file", "arguments": {"path": "/x"}}]],
     [[], [{"name": "read_file", "arguments": {"path": "x"}}]])
plan_tools = tools[:4]
case("agent-plan", {"anyOf": [obj({"thought": S, "action": {"const": n}, "action_input": s})
                              for n, s, _, _ in plan_tools]
                    + [obj({"thought": S, "action": {"const": "final_answer"},
                            "action_input": obj({"answer": S})})]},
     [{"thought": "look it up", "action": "web_search", "action_input": {"query": "q"}},
      {"thought": "done", "action": "final_answer", "action_input": {"answer": "42"}}],
     [{"thought": "x", "action": "web_search", "action_input": {"answer": "42"}},
      {"action": "final_answer", "action_input": {"answer": "x"}}])

# ---- integers ------------------------------------------------------------------------
rng = random.Random(5)
bounds = [(0, 9), (1, 10), (0, 100), (7, 7), (-5, 5), (-100, -3), (137, 4821), (0, 999), (1000, 1000000),
          (-1, 0), (-2147483648, 2147483647), (10, 19), (99, 101), (-999, 999), (5, 123456789),
          (-77, 12), (0, 1), (250, 255), (1, 9999999999), (-10000000000, -9999999990)]
for k, (lo, hi) in enumerate(bounds):
    vals = sorted({lo, hi, (lo + hi) // 2, rng.randint(lo, hi)})
    case(f"int-range-{k}", {"type": "integer", "minimum": lo, "maximum": hi}, vals,
         [lo - 1, hi + 1, lo - 10 ** len(str(abs(lo))), hi * 10 + 7 if hi > 0 else hi - 10000, "1", 0.5 + lo])
for k, (lo, hi) in enumerate([(0, 10), (-3, 3), (99, 1000), (-50, -40)]):
    case(f"int-exclusive-{k}", {"type": "integer", "exclusiveMinimum": lo, "exclusiveMaximum": hi},
         [lo + 1, hi - 1], [lo, hi, lo - 1, hi + 1])
for k, lo in enumerate([0, 1, 18, -5, 1000, 123]):
    case(f"int-min-{k}", {"type": "integer", "minimum": lo}, [lo, lo + 1, lo + 99999], [lo - 1, lo - 100, None])
for k, hi in enumerate([0, -1, 99, 5000, -123]):
    case(f"int-max-{k}", {"type": "integer", "maximum": hi}, [hi, hi - 1, hi - 123456], [hi + 1, hi + 1000])
case("int-plain", I, [0, -7, 123456789], [1.5, "3", None, True],)
case("int-real-bounds", {"type": "integer", "minimum": 1.5, "maximum": 4.5}, [2, 3, 4], [1, 5, 2.5])
case("int-as-float", {"type": "integer", "minimum": 0}, [3], [-1], )

# ---- numbers -------------------------------------------------------------------------
for k, (lo, hi) in enumerate([(0, 1), (-1, 1), (0, 100), (-273, 1000), (5, 6), (-20, -10), (0, 0)]):
    mid = (lo + hi) / 2
    case(f"num-range-{k}", {"type": "number", "minimum": lo, "maximum": hi},
         sorted({lo, hi, mid}), [lo - 0.5, hi + 0.25, hi + 1, "0"])
for k, (lo, hi) in enumerate([(0, 1), (-5, 5), (10, 20)]):
    case(f"num-exclusive-{k}", {"type": "number", "exclusiveMinimum": lo, "exclusiveMaximum": hi},
         [lo + 0.5, hi - 0.001, (lo + hi) / 2], [lo, hi, lo - 1, hi + 0.5])
case("num-plain", N, [0, -1.5, 3, 1e-05, 2.5e+20], ["1", None])
case("num-min-only", {"type": "number", "minimum": 2.5}, [2.5, 3, 1000.25], [2.4, -3],
     grammar_accepts_invalid=[0])  # 2.5 widened to 2: a documented relaxation
case("num-max-neg", {"type": "number", "maximum": -1}, [-1, -1.5, -1000], [-0.5, 0, 3])
case("num-exponent", {"type": "number", "minimum": 0, "maximum": 10}, [5, 1e-7], [11],
     grammar_rejects_valid=[1])  # bounded numbers are generated without exponent

# ---- strings -------------------------------------------------------------------------
for k, (lo, hi) in enumerate([(0, 0), (1, 1), (2, 5), (0, 3), (3, None), (10, 12)]):
    s = {"type": "string", "minLength": lo}
    if hi is not None:
        s["maxLength"] = hi
    valid = ["a" * lo, "é" * lo]
    if hi is not None:
        valid.append("z" * hi)
    invalid = [5]
    if lo > 0:
        invalid.append("b" * (lo - 1))
    if hi is not None:
        invalid.append("c" * (hi + 1))
    case(f"str-len-{k}", s, sorted(set(valid)), invalid)
case("str-plain", S, ["", "hello", "quote \" and \\ backslash", "tab\tnewline\n", "ünïcödé ✓"], [1, None, []])
patterns = [
    ("^[a-z]+$", ["abc", "z"], ["", "aB", "a1"]),
    ("^\\d{3}-\\d{4}$", ["555-1234"], ["5551234", "55-12345"]),
    ("^[A-Z][a-z]*( [A-Z][a-z]*)*$", ["John", "John Smith"], ["john", "John  Smith"]),
    ("abc", ["abc", "xxabcxx"], ["ab", "acb"]),
    ("^(red|green|blue)$", ["red", "blue"], ["Red", "redgreen"]),
    ("^#[0-9a-fA-F]{6}$", ["#00ff00", "#ABCDEF"], ["00ff00", "#12345"]),
    ("^\\w+@\\w+\\.com$", ["a_b@site.com"], ["a@b.org", "@x.com"]),
    ("^v\\d+\\.\\d+(\\.\\d+)?$", ["v1.2", "v10.0.3"], ["1.2", "v1"]),
    ("^[^\\s]+$", ["no-spaces"], ["has space", ""]),
    ("^(?:ab)+$", ["ab", "abab"], ["aba", ""]),
    ("^a.c$", ["abc", "a-c", "a\"c"], ["ac", "a\nc"]),
    ("^\\$\\d+(\\.\\d{2})?$", ["$5", "$5.25"], ["5", "$5.2"]),
    ("^[0-9]{2,4}$", ["12", "1234"], ["1", "12345"]),
    ("^x{3}$", ["xxx"], ["xx", "xxxx"]),
    ("^(a|b)*c$", ["c", "ababc"], ["ab", "abd"]),
    ("^[\\-+]?[0-9]+$", ["-5", "+7", "12"], ["--5", "5-"]),
    ("^\\S+ \\S+$", ["two words"], ["one", "three word s"]),
    ("end$", ["the end", "end"], ["ending"]),
    ("^start", ["start here", "start"], ["a start"]),
    ("^[a-c]?[x-z]$", ["x", "by"], ["", "ab", "bx1"]),
    ("^\\\\d$", ["\\d"], ["5", "d"]),
    ("^\"[a-z]+\"$", ["\"quoted\""], ["quoted", "\"\""]),
    ("^[0-9]+(,[0-9]+)*$", ["1,2,3", "42"], ["1,,2", ",1"]),
    ("^(\\d+|none)$", ["42", "none"], ["None", "4 2"]),
    ("^[äöü]+$", ["äöü", "ü"], ["aou", ""]),
    ("^[A-Z]{2}\\d{2} ?\\d{4}$", ["GB12 3456", "DE991234"], ["G12 3456"]),
]
for k, (p, v, iv) in enumerate(patterns):
    case(f"str-pattern-{k:02d}", {"type": "string", "pattern": p}, v, iv)
formats = [
    ("date", ["2024-02-29", "1999-12-31", "2000-02-29"], ["2023-02-29", "2023-04-31", "1900-02-29", "2024-1-01", "x"]),
    ("time", ["23:59:59Z", "00:00:00.5+01:00", "12:30:00-08:00"], ["24:00:00Z", "12:60:00Z", "12:30"]),
    ("date-time", ["2024-06-01T12:00:00Z", "1970-01-01T00:00:00.000+00:00"],
     ["2024-06-01 12:00:00Z", "2024-06-31T12:00:00Z", "2024-06-01T12:00:00"]),
    ("uuid", ["6fa459ea-ee8a-3ca4-894e-db77e160355e", "00000000-0000-0000-0000-000000000000"],
     ["6fa459ea-ee8a-3ca4-894e", "6fa459ea_ee8a_3ca4_894e_db77e160355e"]),
    ("email", ["a@b.co", "first.last+tag@mail.example.org"], ["plainaddress", ""]),
    ("ipv4", ["127.0.0.1", "255.255.255.255", "0.0.0.0"], ["256.0.0.1", "1.2.3", "01.2.3.4"]),
]
for f, v, iv in formats:
    case(f"str-format-{f}", {"type": "string", "format": f}, v, iv)
case("str-format-unknown", {"type": "string", "format": "hostname"}, ["example.org", "anything"], [5])

# ---- enums and consts ----------------------------------------------------------------
enums = [
    (["a", "b", "c"], ["a", "c"], ["d", "A", ""]),
    ([1, 2, 3], [1, 3], [4, "1", 0]),
    ([None, True, "x"], [None, True, "x"], [False, "y"]),
    (["with space", "quote\"d", "back\\slash"], ["quote\"d", "back\\slash"], ["quoted"]),
    ([[1, 2], {"a": 1}], [[1, 2], {"a": 1}], [[2, 1], {"a": 2}]),
    ([0.5, 1.25, -3], [0.5, -3], [0.25, 3]),
    (["ünï", "日本"], ["日本"], ["日"]),
    (["north", "south", "east", "west"], ["west"], ["up"]),
]
for k, (e, v, iv) in enumerate(enums):
    case(f"enum-{k}", {"enum": e}, v, iv)
case("enum-typed", {"type": "string", "enum": ["a", 1, "b"]}, ["a", "b"], [1, "c"])
case("const-str", {"const": "fixed"}, ["fixed"], ["Fixed", ""])
case("const-obj", {"const": {"k": [1, True, None]}}, [{"k": [1, True, None]}], [{"k": [1]}, {}])
case("const-num", {"const": 42}, [42], [41, "42"])

# ---- arrays --------------------------------------------------------------------------
case("arr-ints", {"type": "array", "items": I}, [[], [1, 2, 3]], [[1, "2"], [1.5], "x"])
case("arr-min-max", {"type": "array", "items": S, "minItems": 2, "maxItems": 4},
     [["a", "b"], ["a", "b", "c", "d"]], [["a"], ["a", "b", "c", "d", "e"], []])
case("arr-exact", {"type": "array", "items": B, "minItems": 3, "maxItems": 3}, [[True, False, True]],
     [[True, False], [True, True, True, True]])
case("arr-min-only", {"type": "array", "minItems": 1}, [[1], [1, "a", None]], [[]])
case("arr-empty-only", {"type": "array", "maxItems": 0}, [[]], [[1]])
case("arr-tuple", {"type": "array", "prefixItems": [S, I, B], "items": False},
     [["a", 1, True], ["a", 1], []], [["a", "b"], ["a", 1, True, 4]])
case("arr-tuple-min", {"type": "array", "prefixItems": [S, I], "minItems": 2, "items": False},
     [["a", 1]], [["a"], ["a", 1, 2]])
case("arr-tuple-rest", {"type": "array", "prefixItems": [{"const": "cmd"}], "items": S, "minItems": 1},
     [["cmd"], ["cmd", "a", "b"]], [[], ["other"], ["cmd", 1]])
case("arr-tuple-open", {"type": "array", "prefixItems": [I, I], "maxItems": 3},
     [[1, 2], [1, 2, "any"], [1]], [[1, 2, 3, 4], ["a"]])
case("arr-nested", {"type": "array", "items": {"type": "array", "items": N, "maxItems": 2}},
     [[[1, 2], [], [3.5]]], [[[1, 2, 3]], [1]])
case("arr-of-objects", {"type": "array", "items": obj({"id": I, "label": S}, ["id"]), "maxItems": 3},
     [[{"id": 1}, {"id": 2, "label": "b"}]], [[{"label": "x"}], [{"id": 1, "extra": 2}]])
case("arr-unique", {"type": "array", "items": I, "uniqueItems": True}, [[1, 2, 3]], [[1, 1]],
     grammar_accepts_invalid=[0])  # uniqueItems is not enforced by the grammar
case("arr-draft7-tuple", {"type": "array", "items": [S, I], "additionalItems": False},
     [["a", 1]], [["a", 1, 2], [1, "a"]], draft=7)
case("arr-matrix", {"type": "array", "minItems": 2, "maxItems": 2,
                    "items": {"type": "array", "minItems": 2, "maxItems": 2, "items": I}},
     [[[1, 0], [0, 1]]], [[[1, 0]], [[1, 0], [0]]])
case("arr-enum-items", {"type": "array", "items": {"enum": ["x", "y"]}, "maxItems": 5},
     [["x", "y", "x"]], [["z"], ["x"] * 6])

# ---- objects -------------------------------------------------------------------------
case("obj-empty", {"type": "object", "additionalProperties": False}, [{}], [{"a": 1}, []])
case("obj-free-form", {"type": "object"}, [{}, {"a": 1, "b": [True, {"c": None}]}], [[], "x", None])
case("obj-all-optional", obj({"a": I, "b": S, "c": B}, []),
     [{}, {"a": 1}, {"b": "x"}, {"a": 1, "c": True}, {"a": 1, "b": "x", "c": False}],
     [{"d": 1}, {"a": "x"}])
case("obj-mixed", obj({"a": I, "b": S, "c": B, "d": N}, ["b", "d"]),
     [{"b": "x", "d": 1}, {"a": 1, "b": "x", "c": True, "d": 2.5}, {"b": "", "c": False, "d": 0}],
     [{"a": 1, "b": "x"}, {"d": 1}, {"b": "x", "d": 1, "e": 1}])
case("obj-required-no-props", {"type": "object", "required": ["id"]},
     [{"id": 5}, {"id": {"x": [1]}}, {"id": 1, "other": 2}], [{}, []], grammar_rejects_valid=[2])
case("obj-required-extra-schema", {"type": "object", "required": ["id"], "additionalProperties": I},
     [{"id": 5}, {"id": 5, "n": 1}], [{}, {"id": "5"}])
case("obj-nested", obj({"user": obj({"name": S, "address": obj({"city": S, "zip": {"type": "string", "pattern": "^\\d{5}$"}}, ["city"])}, ["name"])}),
     [{"user": {"name": "a"}}, {"user": {"name": "a", "address": {"city": "c", "zip": "12345"}}}],
     [{"user": {"address": {"city": "c"}}}, {"user": {"name": "a", "address": {"city": "c", "zip": "1234"}}}])
case("obj-map", {"type": "object", "additionalProperties": I},
     [{}, {"a": 1, "b": 2}, {"key with space": -1}], [{"a": "1"}, {"a": 1.5}])
case("obj-map-of-arrays", {"type": "object", "additionalProperties": {"type": "array", "items": S}},
     [{"x": ["a"], "y": []}], [{"x": "a"}])
case("obj-extra-schema", obj({"id": I}, ["id"], addl=S),
     [{"id": 1}, {"id": 1, "note": "n", "i": "x"}, {"id": 1, "idx": "y"}], [{"id": 1, "note": 2}, {"note": "n"}])
case("obj-extra-true", obj({"name": S}, ["name"], addl=True),
     [{"name": "a"}, {"name": "a", "x": [1, {"y": None}]}, {"name": "n", "nam": 1, "names": 2}], [{"x": 1}, {"name": 1}])
case("obj-extra-default", obj({"name": S}, ["name"], addl=None),
     [{"name": "a"}, {"name": "a", "more": 1}], [{"name": 2}], grammar_rejects_valid=[1])
case("obj-extra-default-allowed", obj({"name": S}, ["name"], addl=None),
     [{"name": "a"}, {"name": "a", "more": 1}], [{"name": 2}, {}], extra_props=True)
case("obj-escaped-keys", obj({"a\"b": I, "c\\d": I, "ü": I, "tab\tkey": I}, ["a\"b"]),
     [{"a\"b": 1}, {"a\"b": 1, "c\\d": 2, "ü": 3, "tab\tkey": 4}], [{"c\\d": 2}, {"a\"b": "1"}])
case("obj-many-props", obj({f"p{i:02d}": I for i in range(30)}, [f"p{i:02d}" for i in range(0, 30, 3)]),
     [{f"p{i:02d}": i for i in range(0, 30, 3)}, {f"p{i:02d}": i for i in range(30)}],
     [{f"p{i:02d}": i for i in range(0, 27, 3)}, {"p00": "x"}])
case("obj-deep", obj({"a": obj({"b": obj({"c": obj({"d": obj({"e": {"const": 1}})})})})}),
     [{"a": {"b": {"c": {"d": {"e": 1}}}}}], [{"a": {"b": {"c": {"d": {"e": 2}}}}}, {"a": {}}])
case("obj-untyped-props", {"properties": {"x": I}, "required": ["x"], "additionalProperties": False},
     [{"x": 1}], [{"x": "1"}, {}])
for k in range(12):
    r = random.Random(100 + k)
    props, req, valid, inval = {}, [], {}, None
    kinds = [(S, "s"), (I, 7), (B, False), (N, 1.5), ({"type": "array", "items": I}, [1]),
             ({"enum": ["u", "v"]}, "v"), ({"type": ["string", "null"]}, None)]
    for j in range(r.randint(2, 7)):
        sch, val = kinds[r.randrange(len(kinds))]
        key = f"f{k}_{j}"
        props[key] = sch
        if r.random() < 0.6:
            req.append(key)
        valid[key] = val
    some = {key: valid[key] for key in props if key in req}
    first_req = req[0] if req else None
    invalid = [{**valid, "zzz_extra": 1}]
    if first_req:
        invalid.append({key: v for key, v in valid.items() if key != first_req})
    case(f"obj-random-{k:02d}", obj(props, req), [valid, some], invalid)

# ---- unions and combinators ----------------------------------------------------------
case("type-union", {"type": ["string", "integer", "null"]}, ["x", 5, None], [1.5, True, [], {}])
case("type-nullable-obj", {"type": ["object", "null"], "properties": {"a": I}, "additionalProperties": False},
     [None, {}, {"a": 1}], [{"a": "x"}, "null"])
case("type-num-int", {"type": ["number", "integer"], "minimum": 0}, [0, 1.5, 7], [-1])
case("type-any", {}, [1, "x", None, [1, {"a": []}], {"k": True}], [], grammar_rejects_valid=[])
case("type-bool", B, [True, False], [0, "true", None])
case("type-null", {"type": "null"}, [None], [0, "", False])
case("anyof-primitive", {"anyOf": [S, I]}, ["a", 3], [1.5, None])
case("anyof-objects", {"anyOf": [obj({"kind": {"const": "circle"}, "r": N}),
                                 obj({"kind": {"const": "rect"}, "w": N, "h": N})]},
     [{"kind": "circle", "r": 1}, {"kind": "rect", "w": 1, "h": 2}],
     [{"kind": "circle", "w": 1, "h": 2}, {"kind": "tri"}])
case("anyof-with-siblings", {"type": "object", "properties": {"a": I, "b": I}, "additionalProperties": False,
                             "anyOf": [{"required": ["a"]}, {"required": ["b"]}]},
     [{"a": 1}, {"b": 2}, {"a": 1, "b": 2}], [{}, {"a": "x"}])
case("oneof-disjoint", {"oneOf": [I, {"type": "string", "maxLength": 2}]}, [1, "ab"], ["abc", 1.5])
case("oneof-overlap", {"oneOf": [{"type": "integer", "minimum": 0, "maximum": 10},
                                 {"type": "integer", "minimum": 5, "maximum": 20}]},
     [0, 4, 11, 20], [7, 21], grammar_accepts_invalid=[0])  # oneOf read as anyOf
case("allof-objects", {"allOf": [obj({"a": I}, ["a"], addl=None), obj({"b": S}, ["b"], addl=None)]},
     [{"a": 1, "b": "x"}], [{"a": 1}, {"b": "x"}])
case("allof-bounds", {"allOf": [{"type": "integer", "minimum": 0}, {"maximum": 10}, {"minimum": 3}]},
     [3, 10], [2, 11, -1])
case("allof-strings", {"allOf": [S, {"minLength": 2}, {"maxLength": 4}]}, ["ab", "abcd"], ["a", "abcde"])
case("allof-ref", {"$defs": {"base": obj({"id": I}, ["id"], addl=None)},
                   "allOf": [{"$ref": "#/$defs/base"}, {"properties": {"name": S}, "required": ["name"]}]},
     [{"id": 1, "name": "n"}], [{"id": 1}, {"name": "n"}])
case("allof-closed", {"allOf": [obj({"a": I, "b": I}, ["a"]), {"properties": {"b": {"minimum": 5}}}]},
     [{"a": 1}, {"a": 1, "b": 5}], [{"a": 1, "b": 4}, {"a": 1, "c": 1}])
case("allof-types", {"allOf": [{"type": ["string", "integer"]}, {"type": ["integer", "null"]}]}, [1], ["a", None])

# ---- $ref, $defs, recursion ------------------------------------------------------------
case("ref-defs", {"$defs": {"pos": {"type": "integer", "minimum": 1}},
                  "type": "object", "properties": {"a": {"$ref": "#/$defs/pos"}, "b": {"$ref": "#/$defs/pos"}},
                  "required": ["a"], "additionalProperties": False},
     [{"a": 1}, {"a": 2, "b": 3}], [{"a": 0}, {"a": 1, "b": -1}])
case("ref-definitions", {"definitions": {"name": {"type": "string", "minLength": 1}},
                         "type": "array", "items": {"$ref": "#/definitions/name"}},
     [["a", "b"], []], [[""], [1]])
case("ref-linked-list", {"$defs": {"node": obj({"value": I, "next": {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/node"}]}})},
                         "$ref": "#/$defs/node"},
     [{"value": 1, "next": None}, {"value": 1, "next": {"value": 2, "next": {"value": 3, "next": None}}}],
     [{"value": 1}, {"value": 1, "next": {"value": "2", "next": None}}])
case("ref-tree", {"$defs": {"tree": obj({"name": S, "children": {"type": "array", "items": {"$ref": "#/$defs/tree"}}}, ["name"])},
                  "$ref": "#/$defs/tree"},
     [{"name": "root"}, {"name": "r", "children": [{"name": "a"}, {"name": "b", "children": [{"name": "c"}]}]}],
     [{"children": []}, {"name": "r", "children": [{"name": 1}]}])
case("ref-root-recursion", {"type": "object", "properties": {"label": S, "sub": {"$ref": "#"}},
                            "required": ["label"], "additionalProperties": False},
     [{"label": "a"}, {"label": "a", "sub": {"label": "b", "sub": {"label": "c"}}}],
     [{"label": "a", "sub": {}}, {"sub": {"label": "x"}}])
case("ref-expr-ast", {"$defs": {"expr": {"anyOf": [
    {"type": "integer"},
    obj({"op": {"enum": ["+", "-", "*", "/"]}, "args": {"type": "array", "minItems": 2, "maxItems": 2,
                                                        "items": {"$ref": "#/$defs/expr"}}})]}},
    "$ref": "#/$defs/expr"},
    [1, {"op": "+", "args": [1, {"op": "*", "args": [2, 3]}]}],
    [{"op": "%", "args": [1, 2]}, {"op": "+", "args": [1]}, 1.5])
case("ref-json-value", {"$defs": {"v": {"anyOf": [{"type": ["string", "number", "boolean", "null"]},
                                                  {"type": "array", "items": {"$ref": "#/$defs/v"}},
                                                  {"type": "object", "additionalProperties": {"$ref": "#/$defs/v"}}]}},
                        "$ref": "#/$defs/v"},
     [1, "x", [1, [2, {"a": None}]], {"k": {"j": [True]}}], [])
case("ref-mutual", {"$defs": {"a": obj({"b": {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/b"}]}}),
                              "b": obj({"a": {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/a"}]}})},
                    "$ref": "#/$defs/a"},
     [{"b": None}, {"b": {"a": {"b": None}}}], [{"b": {"b": None}}, {"a": None}])
case("ref-escaped", {"$defs": {"a/b": I, "c~d": S}, "type": "array",
                     "prefixItems": [{"$ref": "#/$defs/a~1b"}, {"$ref": "#/$defs/c~0d"}], "items": False},
     [[1, "x"]], [["x", 1]])
case("ref-with-siblings", {"$defs": {"s": {"type": "string"}}, "$ref": "#/$defs/s", "maxLength": 3},
     ["abc"], ["abcd", 1])
case("ref-nested-defs", {"$defs": {"outer": {"$defs": {"inner": {"const": "in"}},
                                             "type": "array", "items": {"$ref": "#/$defs/outer/$defs/inner"}}},
                         "$ref": "#/$defs/outer"}, [["in", "in"]], [["out"]])

# ---- schemas the converter refuses (and the validator still checks) -------------------
unsupported = [
    ("not", {"not": {"type": "string"}}, [1, None], ["x"]),
    ("if", {"if": {"type": "integer"}, "then": {"minimum": 0}}, [0, "x"], [-1]),
    ("multipleOf", {"type": "integer", "multipleOf": 3}, [0, 9], [4]),
    ("patternProperties", {"type": "object", "patternProperties": {"^x": I}}, [{"xa": 1}], [{"xa": "s"}]),
    ("minProperties", {"type": "object", "minProperties": 1}, [{"a": 1}], [{}]),
    ("maxProperties", {"type": "object", "maxProperties": 1}, [{"a": 1}], [{"a": 1, "b": 2}]),
    ("propertyNames", {"type": "object", "propertyNames": {"maxLength": 2}}, [{"ab": 1}], [{"abc": 1}]),
    ("contains", {"type": "array", "contains": {"const": 1}}, [[0, 1]], [[0]]),
    ("dependentRequired", {"type": "object", "dependentRequired": {"a": ["b"]}}, [{"a": 1, "b": 2}, {}], [{"a": 1}]),
    ("pattern", {"type": "string", "pattern": "^(a)\\1$"}, [], []),
    ("pattern", {"type": "string", "pattern": "^(?=a)a$"}, [], []),
    ("pattern", {"type": "string", "pattern": "\\bword\\b"}, [], []),
    ("unknownKeyword", {"type": "string", "unknownKeyword": 1}, ["x"], [1]),
    ("false", False, [], [1, "x"]),
    ("additionalProperties", {"type": "object", "required": ["id"], "additionalProperties": False}, [], [{"id": 1}]),
]
for k, (kw, s, v, iv) in enumerate(unsupported):
    case(f"unsupported-{k:02d}-{kw}", s, v, iv, unsupported=kw)


def validator(schema, draft):
    cls = jsonschema.Draft7Validator if draft == 7 else jsonschema.Draft202012Validator
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def check(name, schema, valid, invalid, draft):
    v = validator(schema, draft)
    for x in valid:
        errs = list(v.iter_errors(x))
        if errs:
            sys.exit(f"{name}: labelled valid but jsonschema says: {errs[0].message} ({x!r})")
    for x in invalid:
        if v.is_valid(x):
            sys.exit(f"{name}: labelled invalid but jsonschema accepts {x!r}")


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(out):
        if f.endswith(".json"):
            os.remove(os.path.join(out, f))
    for n, (name, schema, valid, invalid, extra) in enumerate(cases, 1):
        check(name, schema, valid, invalid, extra.get("draft"))
        doc = {"schema": schema, "valid": valid, "invalid": invalid, **extra}
        with open(os.path.join(out, f"{n:03d}-{name}.json"), "w", encoding="utf-8") as f:
            json.dump(doc, f, ensure_ascii=False, indent=1)
            f.write("\n")
    print(f"{len(cases)} schemas written to {out}")


if __name__ == "__main__":
    main()
