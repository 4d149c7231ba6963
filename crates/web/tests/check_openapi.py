#!/usr/bin/env python3
"""Checks a running `unlisted serve` against crates/web/openapi.json.

usage: check_openapi.py SPEC BASE_URL READ_TOKEN OPERATE_TOKEN

The spec must be valid OpenAPI 3.1 (openapi-spec-validator). Then every
operation is called: GETs with the read token, POSTs with the operate
token and the request example of the spec; each answer's status must be
one the spec documents for that operation, and its JSON body must validate
against the schema documented for that status. Without a token every
operation but /healthz must answer 401, and a POST with the read token
403, each with a body that validates too. Exits 1 listing every mismatch.
"""

import json
import sys
import urllib.error
import urllib.request

import referencing
import referencing.jsonschema
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

spec_path, base, read, operate = sys.argv[1:5]
spec = json.load(open(spec_path))
validate(spec)
registry = referencing.Registry().with_resource(
    "urn:unlisted-openapi",
    referencing.Resource.from_contents(spec, default_specification=referencing.jsonschema.DRAFT202012),
)
problems = []
checked = 0


def pointer(*parts):
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def call(method, path, token, body):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def check(method, path, concrete, token, body, expect=None):
    global checked
    op = spec["paths"][path][method.lower()]
    status, raw = call(method, concrete, token, body)
    where = f"{method} {concrete} ({'no token' if not token else 'token'})"
    if expect is not None and status != expect:
        problems.append(f"{where}: status {status}, expected {expect}: {raw[:200]!r}")
        return
    documented = op["responses"].get(str(status))
    if documented is None:
        problems.append(f"{where}: status {status} is not documented ({sorted(op['responses'])}): {raw[:200]!r}")
        return
    content = documented.get("content", {}).get("application/json")
    if content is None:
        return
    try:
        value = json.loads(raw)
    except ValueError:
        problems.append(f"{where}: body is not JSON: {raw[:200]!r}")
        return
    ref = "urn:unlisted-openapi#/" + pointer(
        "paths", path, method.lower(), "responses", str(status), "content", "application/json", "schema"
    )
    v = Draft202012Validator({"$ref": ref}, registry=registry)
    for err in v.iter_errors(value):
        problems.append(f"{where}: {err.message} at {list(err.absolute_path)}")
    checked += 1


for path, item in spec["paths"].items():
    concrete = path.replace("{id}", "1")
    for method in ("get", "post"):
        op = item.get(method)
        if op is None:
            continue
        body = None
        if "requestBody" in op:
            body = op["requestBody"]["content"]["application/json"].get("example")
        token = read if method == "get" else operate
        public = op.get("security") == []
        check(method.upper(), path, concrete, token, body)
        if not public:
            check(method.upper(), path, concrete, None, body, expect=401)
            if method == "post":
                check(method.upper(), path, concrete, read, body, expect=403)

if problems:
    print("\n".join(problems))
    sys.exit(1)
print(f"{checked} answers match the OpenAPI description")
