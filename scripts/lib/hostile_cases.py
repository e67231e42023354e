#!/usr/bin/env python3
"""hostile_cases.py: load the hostile-input case table (Tests/Hostile/cases.json).

Python 3 standard library only. The file is a JSON array of objects:

  name        unique, [a-z0-9-]
  group       framing, te, cl, chunked, request-line, version, method, target, host, path,
              header, connection, expect, upgrade, half-close, pipeline, limits, forwarded
  raw         the bytes to send, as a JSON string: JSON's own escapes ("\\r\\n", "\\t",
              "\\u0000") give every byte 0x00-0xFF; each character must be U+0000..U+00FF
              and is sent as that one byte (latin-1)
  raw_hex     instead of raw: the bytes as hex (spaces allowed), for non-UTF-8 input
  repeat      optional {"token": "@@X@@", "text": "a", "count": 17000}, or a list of
              them: each token in raw is replaced by text * count (long lines and many
              headers without a 17 kB string in the table)
  half_close  optional, default false: shutdown(SHUT_WR) after sending
  expect      what the gateway must do:
    status      the first final status it answers (an interim 1xx only when nothing
                else comes), or null: it must close, or stay silent, without answering
    close       true/false: whether the connection must be closed after the answer(s);
                null: either is fine
    upstream    how many complete requests the recording upstream must receive; null:
                any number
    responses               optional: exact number of final responses
    upstream_path           optional: the target (path?query) of the first upstream request
    upstream_paths          optional: the targets of all upstream requests, in order
    upstream_headers_absent optional: list of "name" (no upstream request carries it) or
                            "name: value" (none carries it with that exact value)
    upstream_header         optional: {name: value}: the first upstream request's values of
                            the field, joined by ", ", equal value exactly
    upstream_body           optional: the first upstream request's body (after de-chunking),
                            latin-1 like raw
    no_interim              optional: true when no 1xx response may be sent
    no_chunked_response     optional: true when no response may use chunked framing
  note        why, with the RFC reasoning
  rfc         the main reference
"""

import binascii
import json
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PATH = os.path.normpath(os.path.join(HERE, "..", "..", "Tests", "Hostile", "cases.json"))

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
EXPECT_KEYS = {
    "status", "close", "upstream", "responses", "upstream_path", "upstream_paths",
    "upstream_headers_absent", "upstream_header", "upstream_body", "no_interim",
    "no_chunked_response",
}
CASE_KEYS = {"name", "group", "raw", "raw_hex", "repeat", "half_close", "expect", "note", "rfc"}


class CaseError(ValueError):
    pass


def _decode_raw(case):
    if "raw_hex" in case:
        if "raw" in case:
            raise CaseError("%s: raw and raw_hex both given" % case["name"])
        try:
            data = binascii.unhexlify(re.sub(r"\s+", "", case["raw_hex"]))
        except (binascii.Error, TypeError) as e:
            raise CaseError("%s: raw_hex: %s" % (case["name"], e))
        return data
    raw = case.get("raw")
    if not isinstance(raw, str):
        raise CaseError("%s: raw (a string) or raw_hex is required" % case.get("name"))
    reps = case.get("repeat") or []
    if isinstance(reps, dict):
        reps = [reps]
    for r in reps:
        tok, text, count = r.get("token"), r.get("text"), r.get("count")
        if not tok or not isinstance(text, str) or not isinstance(count, int) or tok not in raw:
            raise CaseError("%s: bad repeat %r" % (case["name"], r))
        raw = raw.replace(tok, text * count)
    try:
        return raw.encode("latin-1")
    except UnicodeEncodeError as e:
        raise CaseError("%s: raw has a character above U+00FF (%s); use raw_hex" % (case["name"], e))


def load(path=DEFAULT_PATH):
    """Return the cases, each a dict with the table's fields plus `data` (bytes to send)."""
    with open(path, "r", encoding="utf-8") as f:
        cases = json.load(f)
    if not isinstance(cases, list):
        raise CaseError("%s: the top level must be an array" % path)
    seen = set()
    out = []
    for case in cases:
        name = case.get("name")
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise CaseError("bad case name %r" % (name,))
        if name in seen:
            raise CaseError("duplicate case name %s" % name)
        seen.add(name)
        extra = set(case) - CASE_KEYS
        if extra:
            raise CaseError("%s: unknown keys %s" % (name, sorted(extra)))
        exp = case.get("expect")
        if not isinstance(exp, dict) or not {"status", "close", "upstream"} <= set(exp):
            raise CaseError("%s: expect needs status, close and upstream" % name)
        extra = set(exp) - EXPECT_KEYS
        if extra:
            raise CaseError("%s: unknown expect keys %s" % (name, sorted(extra)))
        c = dict(case)
        c["data"] = _decode_raw(case)
        c["half_close"] = bool(case.get("half_close", False))
        out.append(c)
    return out


if __name__ == "__main__":
    import sys
    cs = load(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_PATH)
    groups = {}
    for c in cs:
        groups[c["group"]] = groups.get(c["group"], 0) + 1
    print("%d cases: %s" % (len(cs), ", ".join("%s %d" % kv for kv in sorted(groups.items()))))
