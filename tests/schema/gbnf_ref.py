#!/usr/bin/env python3
"""A small reference reader for GBNF text, for the schema tests.

parse(text) checks the syntax (rules `name ::= alternatives`, sequences, groups ( ),
repetition * + ? {m} {m,} {m,n}, "literals", [classes] with ^ and ranges, escapes
\\n \\t \\r \\\\ \\" \\xHH \\uHHHH \\UHHHHHHHH), that every referenced rule is defined
and that `root` exists; it raises GbnfError with the line and column otherwise.
Grammar.accepts(s) says whether the whole string s is in the language of `root`
(a memoised search over end positions; fine for test-sized documents).
"""
import re
import sys

sys.setrecursionlimit(20000)


class GbnfError(Exception):
    pass


NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


class _Parser:
    def __init__(self, text):
        self.t, self.i = text, 0

    def where(self):
        line = self.t.count("\n", 0, self.i) + 1
        col = self.i - (self.t.rfind("\n", 0, self.i) + 1) + 1
        return f"line {line}, column {col}"

    def fail(self, msg):
        raise GbnfError(f"{msg} at {self.where()}")

    def space(self, newlines):
        while self.i < len(self.t):
            c = self.t[self.i]
            if c == "#":
                while self.i < len(self.t) and self.t[self.i] != "\n":
                    self.i += 1
            elif c in " \t" or (newlines and c in "\r\n"):
                self.i += 1
            else:
                break

    def rule_start(self):
        m = NAME.match(self.t, self.i)
        if not m:
            return None
        j = m.end()
        while j < len(self.t) and self.t[j] in " \t":
            j += 1
        return m.group(0) if self.t.startswith("::=", j) else None

    def grammar(self):
        rules = {}
        self.space(True)
        while self.i < len(self.t):
            name = self.rule_start()
            if not name:
                self.fail("expected a rule name and ::=")
            if name in rules:
                self.fail(f"rule '{name}' defined twice")
            self.i = self.t.index("::=", self.i) + 3
            rules[name] = self.alt(0)
            self.space(True)
        return rules

    def alt(self, depth):
        alts = [self.seq(depth)]
        while True:
            self.space(depth > 0)
            if self.i < len(self.t) and self.t[self.i] == "|":
                self.i += 1
                alts.append(self.seq(depth))
            else:
                return ("alt", alts)

    def seq(self, depth):
        items = []
        while True:
            self.space(depth > 0)
            if self.i >= len(self.t):
                break
            c = self.t[self.i]
            if c in "|)\n\r" or (depth == 0 and self.rule_start()):
                break
            item = self.primary(depth)
            self.space(depth > 0)
            item = self.repeat(item)
            items.append(item)
        return ("seq", items)

    def repeat(self, item):
        while self.i < len(self.t) and self.t[self.i] in "*+?{":
            c = self.t[self.i]
            if c == "{":
                m = re.compile(r"\{\s*(\d+)\s*(,\s*(\d*)\s*)?\}").match(self.t, self.i)
                if not m:
                    self.fail("bad {m,n}")
                lo = int(m.group(1))
                hi = lo if m.group(2) is None else (int(m.group(3)) if m.group(3) else None)
                if hi is not None and hi < lo:
                    self.fail("{m,n} with n < m")
                self.i = m.end()
                item = ("rep", item, lo, hi)
            else:
                self.i += 1
                item = ("rep", item, {"*": 0, "+": 1, "?": 0}[c], 1 if c == "?" else None)
            self.space(False)
        return item

    def escape(self):
        c = self.t[self.i]
        self.i += 1
        simple = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "[": "[", "]": "]",
                  "-": "-", "^": "^", "/": "/"}
        if c in simple:
            return simple[c]
        n = {"x": 2, "u": 4, "U": 8}.get(c)
        if not n:
            self.fail(f"unknown escape \\{c}")
        h = self.t[self.i:self.i + n]
        if len(h) != n or not all(x in "0123456789abcdefABCDEF" for x in h):
            self.fail("bad hex escape")
        self.i += n
        return chr(int(h, 16))

    def char(self, end):
        if self.i >= len(self.t):
            self.fail(f"unterminated {end}")
        c = self.t[self.i]
        self.i += 1
        return self.escape() if c == "\\" else c

    def primary(self, depth):
        c = self.t[self.i]
        if c == '"':
            self.i += 1
            s = []
            while self.i < len(self.t) and self.t[self.i] != '"':
                s.append(self.char('"'))
            if self.i >= len(self.t):
                self.fail("unterminated literal")
            self.i += 1
            return ("lit", "".join(s))
        if c == "[":
            self.i += 1
            neg = self.i < len(self.t) and self.t[self.i] == "^"
            if neg:
                self.i += 1
            ranges = []
            while self.i < len(self.t) and self.t[self.i] != "]":
                a = self.char("[")
                b = a
                if self.t.startswith("-", self.i) and not self.t.startswith("-]", self.i):
                    self.i += 1
                    b = self.char("[")
                if ord(b) < ord(a):
                    self.fail("class range out of order")
                ranges.append((ord(a), ord(b)))
            if self.i >= len(self.t):
                self.fail("unterminated class")
            self.i += 1
            return ("cls", neg, ranges)
        if c == "(":
            self.i += 1
            node = self.alt(depth + 1)
            self.space(True)
            if self.i >= len(self.t) or self.t[self.i] != ")":
                self.fail("expected )")
            self.i += 1
            return node
        m = NAME.match(self.t, self.i)
        if m:
            self.i = m.end()
            return ("ref", m.group(0), self.where())
        self.fail(f"unexpected {c!r}")


def _refs(node, out):
    kind = node[0]
    if kind == "ref":
        out.append(node)
    elif kind in ("alt", "seq"):
        for x in node[1]:
            _refs(x, out)
    elif kind == "rep":
        _refs(node[1], out)


class Grammar:
    def __init__(self, text):
        self.rules = _Parser(text).grammar()
        if "root" not in self.rules:
            raise GbnfError("no rule 'root'")
        for name, body in self.rules.items():
            refs = []
            _refs(body, refs)
            for r in refs:
                if r[1] not in self.rules:
                    raise GbnfError(f"rule '{r[1]}' used in '{name}' ({r[2]}) is not defined")

    def accepts(self, s):
        self.s, self.memo = s, {}
        return len(s) in self._m(("ref", "root", ""), 0)

    def _m(self, node, i):
        kind, s = node[0], self.s
        if kind == "lit":
            return {i + len(node[1])} if s.startswith(node[1], i) else set()
        if kind == "cls":
            if i >= len(s):
                return set()
            o = ord(s[i])
            hit = any(a <= o <= b for a, b in node[2])
            return {i + 1} if hit != node[1] else set()
        if kind == "ref":
            key = (node[1], i)
            if key not in self.memo:
                self.memo[key] = set()  # no left recursion in generated grammars
                self.memo[key] = frozenset(self._m(self.rules[node[1]], i))
            return self.memo[key]
        if kind == "alt":
            out = set()
            for a in node[1]:
                out |= self._m(a, i)
            return out
        if kind == "seq":
            cur = {i}
            for item in node[1]:
                nxt = set()
                for p in cur:
                    nxt |= self._m(item, p)
                cur = nxt
                if not cur:
                    break
            return cur
        _, sub, lo, hi = node
        out, cur, n = set(), {i}, 0
        seen = set()
        while cur:
            if n >= lo:
                out |= cur
            if hi is not None and n >= hi:
                break
            nxt = set()
            for p in cur:
                nxt |= self._m(sub, p)
            n += 1
            if n > lo:
                nxt -= seen
            seen |= nxt
            cur = nxt
        return out


if __name__ == "__main__":
    g = Grammar(open(sys.argv[1]).read())
    for doc in sys.argv[2:]:
        print(doc, g.accepts(doc))
