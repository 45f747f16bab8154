#!/usr/bin/env python3
"""Drives scepd's admin API over HTTPS for tests/integration/test_admin_api.sh.

Standard library only (http.client, ssl, json).  Each step is a
subcommand; state that the shell needs (a challenge, a serial) is printed
on stdout, one value per line.  A failed check exits 1 with a message
naming what was expected.

Environment: ADMIN_URL (https://127.0.0.1:PORT/api/v1 from scepd's ready
line), ADMIN_CA (the CA certificate the admin listener's certificate
chains to), TOK_ADMIN, TOK_OPERATOR, TOK_AUDITOR (bearer tokens).
"""
import http.client
import json
import os
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse

URL = urllib.parse.urlsplit(os.environ["ADMIN_URL"])
BASE = URL.path.rstrip("/")  # "/api/v1"
CTX = ssl.create_default_context(cafile=os.environ["ADMIN_CA"])
CTX.minimum_version = ssl.TLSVersion.TLSv1_2
TOK = {
    "admin": os.environ.get("TOK_ADMIN", ""),
    "operator": os.environ.get("TOK_OPERATOR", ""),
    "auditor": os.environ.get("TOK_AUDITOR", ""),
}
SECURITY_HEADERS = {
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
}
PROBLEM_PREFIX = "urn:scepd:problem:"


def fail(msg):
    print("admin_api.py: " + msg, file=sys.stderr)
    sys.exit(1)


class Reply:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body
        self.json = None
        ctype = self.headers.get("content-type", "")
        if ctype.startswith("application/json") or ctype.startswith("application/problem+json"):
            try:
                self.json = json.loads(body)
            except ValueError:
                fail("%d reply is not JSON: %r" % (status, body[:200]))


def call(method, path, role=None, body=None, raw=None, token=None, headers=None):
    """One request on a fresh TLS connection (hostname checked by ssl)."""
    conn = http.client.HTTPSConnection(URL.hostname, URL.port, context=CTX, timeout=20)
    h = dict(headers or {})
    if token is None and role is not None:
        token = TOK[role]
    if token is not None:
        h["Authorization"] = "Bearer " + token
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    if path in ("/", "/healthz", "/metrics") or path.startswith(BASE + "/"):
        full = path
    else:
        full = BASE + path
    conn.request(method, full, body=data, headers=h)
    r = conn.getresponse()
    rep = Reply(r.status, r.getheaders(), r.read())
    conn.close()
    for k, v in SECURITY_HEADERS.items():
        if rep.headers.get(k) != v:
            fail("%s %s: header %s is %r (want %r)" % (method, full, k, rep.headers.get(k), v))
    if rep.status >= 400:
        ctype = rep.headers.get("content-type", "")
        if not ctype.startswith("application/problem+json"):
            fail("%s %s: %d with Content-Type %r (want application/problem+json)"
                 % (method, full, rep.status, ctype))
        p = rep.json
        if not isinstance(p, dict) or p.get("status") != rep.status or \
                not str(p.get("type", "")).startswith(PROBLEM_PREFIX) or "title" not in p:
            fail("%s %s: not an RFC 9457 problem: %r" % (method, full, rep.body[:300]))
    return rep


def expect(rep, status, what, ptype=None, field=None):
    if rep.status != status:
        fail("%s: status %d (want %d): %r" % (what, rep.status, status, rep.body[:400]))
    if ptype is not None and rep.json.get("type") != PROBLEM_PREFIX + ptype:
        fail("%s: problem type %r (want %s)" % (what, rep.json.get("type"), ptype))
    if field is not None and rep.json.get("field") != field:
        fail("%s: problem names field %r (want %r)" % (what, rep.json.get("field"), field))
    return rep


def step_auth():
    """401 without and with a bad token, 403 for roles, whoami."""
    r = expect(call("GET", "/certificates"), 401, "no token", "unauthorized")
    if not r.headers.get("www-authenticate", "").startswith("Bearer"):
        fail("401 without WWW-Authenticate: Bearer: %r" % r.headers)
    r = expect(call("GET", "/certificates", token="scepd_" + "0" * 64), 401, "bad token",
               "unauthorized")
    if 'error="invalid_token"' not in r.headers.get("www-authenticate", ""):
        fail("bad token: WWW-Authenticate %r lacks error=invalid_token"
             % r.headers.get("www-authenticate"))
    expect(call("GET", "/certificates", headers={"Authorization": "Basic YTpi"}), 401,
           "Basic credentials")
    for role in ("admin", "operator", "auditor"):
        r = expect(call("GET", "/me", role), 200, "whoami " + role)
        if r.json.get("role") != role or not r.json.get("actor", "").startswith("api:"):
            fail("whoami %s: %r" % (role, r.json))
    expect(call("POST", "/challenges", "auditor", body={}), 403, "auditor mints", "forbidden")
    expect(call("GET", "/tokens", "operator"), 403, "operator lists tokens", "forbidden")
    expect(call("GET", "/tokens", "admin"), 200, "admin lists tokens")
    expect(call("GET", "/healthz"), 200, "healthz without a token")


def step_openapi():
    """The document is OpenAPI 3.0.x and lists exactly the routes served."""
    r = expect(call("GET", "/openapi.json", "auditor"), 200, "openapi.json")
    doc = r.json
    if not isinstance(doc, dict) or not str(doc.get("openapi", "")).startswith("3.0."):
        fail("openapi.json: openapi is %r (want 3.0.x)" % (doc or {}).get("openapi"))
    paths = doc.get("paths")
    if not isinstance(paths, dict) or not paths:
        fail("openapi.json has no paths")
    methods = {"get", "post", "put", "delete", "patch"}
    ops = set()
    for path, item in paths.items():
        for m in item:
            if m not in methods:
                fail("openapi.json: %s has %r, not a method" % (path, m))
            op = item[m]
            for key in ("operationId", "responses"):
                if key not in op:
                    fail("openapi.json: %s %s lacks %s" % (m, path, key))
            ops.add((m.upper(), path))
    # Every documented operation is served: not "no-route", not 405.
    for m, path in sorted(ops):
        concrete = path.replace("{serial}", "01").replace("{id}", "999999").replace(
            "{name}", "nobody")
        rr = call(m, concrete, "admin", raw=b"{}" if m == "POST" else None,
                  headers={"Content-Type": "application/json"} if m == "POST" else None)
        if rr.status == 405 or (rr.json or {}).get("type") == PROBLEM_PREFIX + "no-route":
            fail("documented %s %s is not served: %d %r" % (m, path, rr.status, rr.body[:200]))
        # Every other method on the same path is 405 with the documented Allow.
        documented = {mm for (mm, pp) in ops if pp == path}
        for other in ("GET", "POST", "PUT", "DELETE", "PATCH"):
            if other in documented:
                continue
            rr = call(other, concrete, "admin")
            if rr.status != 405:
                fail("undocumented %s %s answered %d (want 405)" % (other, path, rr.status))
            allow = {a.strip() for a in rr.headers.get("allow", "").split(",") if a.strip()}
            want = set(documented) | ({"HEAD"} if "GET" in documented else set())
            if allow != want:
                fail("%s %s: Allow %r (want %r)" % (other, path, allow, want))
    # Paths not in the document are not served.
    # (/ is the web console's page, not the API's: test_console.sh.)
    for path in ("/nope", "/certificates/01/unrevoke", "/../healthz", "/console"):
        rr = call("GET", BASE + path, "admin")
        expect(rr, 404, "undocumented path " + path, "no-route")
    expected = {
        ("GET", "/healthz"), ("GET", "/metrics"), ("GET", BASE + "/openapi.json"),
        ("GET", BASE + "/me"), ("GET", BASE + "/certificates"),
        ("GET", BASE + "/certificates/{serial}"), ("POST", BASE + "/certificates/{serial}/revoke"),
        ("POST", BASE + "/certificates/import"), ("GET", BASE + "/stats"),
        ("GET", BASE + "/cas"), ("POST", BASE + "/challenges"), ("GET", BASE + "/challenges"),
        ("DELETE", BASE + "/challenges/{id}"), ("GET", BASE + "/requests"),
        ("POST", BASE + "/requests/{id}/approve"), ("POST", BASE + "/requests/{id}/reject"),
        ("GET", BASE + "/audit"), ("GET", BASE + "/audit/verify"), ("GET", BASE + "/tokens"),
        ("POST", BASE + "/tokens"), ("DELETE", BASE + "/tokens/{name}"),
    }
    if ops != expected:
        fail("openapi.json routes differ: extra %r, missing %r"
             % (sorted(ops - expected), sorted(expected - ops)))


def step_challenge():
    """Mints a one-time challenge for the default profile; prints it."""
    r = expect(call("POST", "/challenges", "operator", body={"profile": "", "ttl": 600}), 201,
               "mint challenge")
    j = r.json
    for key in ("challenge", "id", "expires_at"):
        if key not in j:
            fail("minted challenge lacks %s: %r" % (key, j))
    if j["max_uses"] != 1 or j["state"] != "active" or j["created_by"] != "api:ci-operator":
        fail("minted challenge: %r" % j)
    lst = expect(call("GET", "/challenges", "auditor"), 200, "list challenges").json["items"]
    if not any(c["id"] == j["id"] for c in lst) or any("challenge" in c for c in lst):
        fail("challenge list: %r" % lst)
    print(j["challenge"])
    print(j["id"])


def step_challenge_errors():
    """400 naming the field, 413, duplicate keys, non-objects; revoke."""
    cases = [
        ({"profile": 5}, "profile"), ({"profile": "no such/profile"}, "profile"),
        ({"subject": "not a DN"}, "subject"), ({"sans": "DNS:x"}, "sans"),
        ({"sans": ["FOO:bar"]}, "sans"), ({"ttl": -1}, "ttl"), ({"ttl": "1h"}, "ttl"),
        ({"uses": 0}, "uses"), ({"colour": "red"}, "colour"),
    ]
    for body, field in cases:
        expect(call("POST", "/challenges", "operator", body=body), 400, "challenge %r" % body,
               None, field)
    for raw, what in ((b"[1,2]", "an array"), (b'{"ttl":1,"ttl":2}', "duplicate keys"),
                      (b"{", "truncated JSON"), (b'{"a":[[[[[[1]]]]]]}', "deep nesting"),
                      (b'"x"', "a string")):
        expect(call("POST", "/challenges", "operator", raw=raw,
                    headers={"Content-Type": "application/json"}), 400, what, "invalid-body")
    big = b'{"subject":"' + b"a" * 20000 + b'"}'
    expect(call("POST", "/challenges", "operator", raw=big,
                headers={"Content-Type": "application/json"}), 413, "large body",
           "body-too-large")
    r = expect(call("POST", "/challenges", "operator",
                    body={"subject": "CN=bound,O=Example", "sans": ["DNS:bound.example"],
                          "uses": 3, "ttl": 60}), 201, "bound challenge")
    cid = r.json["id"]
    if r.json["subject"] != "CN=bound,O=Example" or r.json["sans"] != ["DNS:bound.example"]:
        fail("bound challenge: %r" % r.json)
    expect(call("DELETE", "/challenges/%d" % cid, "auditor"), 403, "auditor revokes challenge")
    r = expect(call("DELETE", "/challenges/%d" % cid, "operator"), 200, "revoke challenge")
    expect(call("DELETE", "/challenges/%d" % cid, "operator"), 409, "revoke twice",
           "already-revoked")
    expect(call("DELETE", "/challenges/999999", "operator"), 404, "unknown challenge",
           "not-found")
    expect(call("DELETE", "/challenges/abc", "operator"), 400, "bad id", None, "id")
    lst = expect(call("GET", "/challenges?all=true", "auditor"), 200, "all challenges")
    if not any(c["id"] == cid and c["state"] == "revoked" for c in lst.json["items"]):
        fail("revoked challenge not listed with all=true")
    expect(call("GET", "/challenges?all=maybe", "auditor"), 400, "all=maybe", None, "all")


def find_cert(cn):
    r = expect(call("GET", "/certificates?subject=" + urllib.parse.quote("CN=" + cn), "auditor"),
               200, "list by subject")
    items = [c for c in r.json["items"] if ("CN=" + cn) in c["subject"]]
    return items


def step_cert(cn):
    """The enrolled certificate is listed, with details; prints its serial."""
    items = find_cert(cn)
    if len(items) != 1:
        fail("want exactly one certificate for CN=%s, got %r" % (cn, items))
    c = items[0]
    if c["status"] != "valid" or c["challenge_id"] is None:
        fail("enrolled certificate: %r" % c)
    d = expect(call("GET", "/certificates/" + c["serial"], "auditor"), 200, "get cert").json
    if not d["pem"].startswith("-----BEGIN CERTIFICATE-----") or len(d["chain"]) != 1 or \
            not d["chain"][0].startswith("-----BEGIN CERTIFICATE-----"):
        fail("certificate details lack PEM or chain: %r" % {k: d[k] for k in d if k != "pem"})
    # Another spelling of the serial finds it too.
    low = ":".join(c["serial"][i:i + 2] for i in range(0, len(c["serial"]), 2)).lower()
    expect(call("GET", "/certificates/" + low, "auditor"), 200, "serial with colons")
    expect(call("GET", "/certificates/zz", "auditor"), 400, "bad serial", None, "serial")
    expect(call("GET", "/certificates/7E57", "auditor"), 404, "unknown serial", "not-found")
    print(c["serial"])


def step_list():
    """Filters and cursor paging."""
    for q, what in (("status=bogus", "status"), ("expiring=soon", "expiring"),
                    ("limit=0", "limit"), ("limit=1001", "limit"), ("cursor=xyz", "cursor"),
                    ("issuer=00", "issuer"), ("colour=red", "colour"), ("status=valid&status=any",
                                                                        "status")):
        expect(call("GET", "/certificates?" + q, "auditor"), 400, "filter " + q, "invalid-query",
               what)
    everything = expect(call("GET", "/certificates?limit=1000", "auditor"), 200, "all").json
    allserials = [c["serial"] for c in everything["items"]]
    if everything["next_cursor"] is not None or len(allserials) < 3:
        fail("want at least 3 certificates on one page: %r" % everything)
    seen, cursor, pages = [], None, 0
    while True:
        q = "/certificates?limit=1" + ("&cursor=" + urllib.parse.quote(cursor) if cursor else "")
        page = expect(call("GET", q, "auditor"), 200, "page").json
        seen += [c["serial"] for c in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None or pages > 100:
            break
    if seen != allserials:
        fail("paging by 1 gave %r, one page %r" % (seen, allserials))
    # sort=expiry: soonest first, paged by its own cursor.
    bynext = expect(call("GET", "/certificates?limit=1000&sort=expiry", "auditor"), 200,
                    "sort=expiry").json["items"]
    keys = [(c["not_after"], c["serial"]) for c in bynext]
    if keys != sorted(keys) or sorted(c["serial"] for c in bynext) != sorted(allserials):
        fail("sort=expiry: %r" % keys)
    seen, cursor, pages = [], None, 0
    while True:
        q = "/certificates?limit=2&sort=expiry" + (
            "&cursor=" + urllib.parse.quote(cursor) if cursor else "")
        page = expect(call("GET", q, "auditor"), 200, "expiry page").json
        seen += [c["serial"] for c in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None or pages > 100:
            break
        if not cursor.startswith("e"):
            fail("an expiry cursor without its mark: %r" % cursor)
        expect(call("GET", "/certificates?limit=2&cursor=" + urllib.parse.quote(cursor),
                    "auditor"), 400, "expiry cursor on the default sort", "invalid-query",
               "cursor")
    if seen != [c["serial"] for c in bynext]:
        fail("paging sort=expiry by 2 gave %r, one page %r" % (seen, bynext))
    expect(call("GET", "/certificates?sort=name", "auditor"), 400, "bad sort", "invalid-query",
           "sort")
    rev = expect(call("GET", "/certificates?status=revoked", "auditor"), 200, "revoked").json
    if not rev["items"] or any(c["status"] != "revoked" for c in rev["items"]):
        fail("status=revoked: %r" % rev)
    val = expect(call("GET", "/certificates?status=valid", "auditor"), 200, "valid").json
    if any(c["status"] != "valid" for c in val["items"]):
        fail("status=valid: %r" % val)
    exp = expect(call("GET", "/certificates?expiring=3650d", "auditor"), 200, "expiring").json
    if len(exp["items"]) != len(val["items"]):
        fail("expiring within 10 years should be every valid one")
    cur = expect(call("GET", "/certificates?issuer=current", "auditor"), 200, "issuer").json
    if len(cur["items"]) != len(allserials):
        fail("issuer=current should be all of them")


def step_revoke(serial):
    """Revocation: 403 for an auditor, 400 bad reason, 200, 409 again."""
    expect(call("POST", "/certificates/%s/revoke" % serial, "auditor",
                body={"reason": "keyCompromise"}), 403, "auditor revokes", "forbidden")
    expect(call("POST", "/certificates/%s/revoke" % serial, "operator",
                body={"reason": "becauseISaidSo"}), 400, "bad reason", None, "reason")
    expect(call("POST", "/certificates/7E57/revoke", "operator", body={}), 404,
           "revoke unknown", "not-found")
    r = expect(call("POST", "/certificates/%s/revoke" % serial, "operator",
                    body={"reason": "keyCompromise"}), 200, "revoke")
    if r.json["status"] != "revoked" or r.json["revocation_reason"] != "keyCompromise":
        fail("revoked record: %r" % r.json)
    expect(call("POST", "/certificates/%s/revoke" % serial, "operator", body={}), 409,
           "revoke twice", "already-revoked")


def step_audit():
    """The audit trail names the API callers; paging; the chain verifies."""
    r = expect(call("GET", "/audit?limit=1000", "auditor"), 200, "audit").json
    kinds = {(e["kind"], e["actor"]) for e in r["items"]}
    for want in (("challenge-new", "api:ci-operator"), ("revoke", "api:ci-operator"),
                 ("challenge-revoke", "api:ci-operator"), ("request-approve", "api:ci-operator"),
                 ("request-reject", "api:ci-operator")):
        if want not in kinds:
            fail("audit trail lacks %r: %r" % (want, sorted(kinds)))
    first = expect(call("GET", "/audit?limit=2", "auditor"), 200, "audit page").json
    if len(first["items"]) != 2 or not first["more"]:
        fail("audit limit=2: %r" % first)
    nxt = expect(call("GET", "/audit?limit=2&after=%d" % first["next_after"], "auditor"), 200,
                 "audit page 2").json
    if nxt["items"][0]["id"] != first["items"][1]["id"] + 1:
        fail("audit after=: %r" % nxt)
    expect(call("GET", "/audit?after=-1", "auditor"), 400, "audit after=-1", None, "after")
    v = expect(call("GET", "/audit/verify", "auditor"), 200, "verify").json
    if v.get("intact") is not True:
        fail("audit chain: %r" % v)


def step_cas():
    r = expect(call("GET", "/cas", "auditor"), 200, "cas").json
    cur = r["current"]
    for key in ("subject", "key_id", "fingerprint", "not_before", "not_after"):
        if not cur.get(key):
            fail("current CA lacks %s: %r" % (key, cur))
    if r["next"] is not None or r["archived"] != []:
        fail("cas: next/archived: %r" % r)
    # The CRL publisher runs at start: its nextUpdate is known, ahead.
    nu = cur.get("crl_next_update")
    if not nu or nu <= time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()):
        fail("cas: the current CA's crl_next_update is %r" % nu)
    if not isinstance(r.get("crl"), dict) or r["crl"].get("validity_hours", 0) <= 0 or \
            not isinstance(r.get("ocsp"), dict) or r["ocsp"].get("validity_minutes", 0) <= 0:
        fail("cas: crl/ocsp: %r" % {k: r.get(k) for k in ("crl", "ocsp")})
    print(cur["fingerprint"])


def step_requests_pending(cn):
    """Prints the id of the pending request of CN."""
    r = expect(call("GET", "/requests", "auditor"), 200, "pending requests").json
    ids = [q["id"] for q in r["items"] if ("CN=" + cn) in (q["subject"] or "")]
    if ids:
        print(ids[0])


def step_approve(rid):
    expect(call("POST", "/requests/%s/approve" % rid, "auditor"), 403, "auditor approves")
    expect(call("POST", "/requests/%s/approve" % rid, "operator", body={"reason": "x"}), 400,
           "approve with a reason", None, "reason")
    r = expect(call("POST", "/requests/%s/approve" % rid, "operator"), 200, "approve").json
    if r["status"] != "approved" or r["decided_by"] != "api:ci-operator":
        fail("approved request: %r" % r)
    expect(call("POST", "/requests/%s/approve" % rid, "operator"), 409, "approve twice",
           "not-pending")
    expect(call("POST", "/requests/999999/approve", "operator"), 404, "approve unknown")
    expect(call("POST", "/requests/x/approve", "operator"), 400, "approve bad id", None, "id")


def step_reject(rid):
    expect(call("POST", "/requests/%s/reject" % rid, "operator", body={"reason": 5}), 400,
           "reject reason not a string", None, "reason")
    r = expect(call("POST", "/requests/%s/reject" % rid, "operator",
                    body={"reason": "not on the list"}), 200, "reject").json
    if r["status"] != "rejected" or r["reason"] != "not on the list":
        fail("rejected request: %r" % r)
    lst = expect(call("GET", "/requests?status=rejected", "auditor"), 200, "rejected").json
    if not any(q["id"] == int(rid) for q in lst["items"]):
        fail("requests?status=rejected lacks %s" % rid)
    expect(call("GET", "/requests?status=nope", "auditor"), 400, "requests bad status", None,
           "status")


def step_tokens():
    """Token management through the API, for admins."""
    r = expect(call("POST", "/tokens", "admin", body={"name": "api-made", "role": "auditor",
                                                       "ttl": 3600}), 201, "mint token").json
    tok = r["token"]
    expect(call("GET", "/me", token=tok), 200, "the new token works")
    expect(call("POST", "/tokens", "admin", body={"name": "api-made", "role": "auditor"}), 409,
           "token name taken", "name-taken")
    expect(call("POST", "/tokens", "admin", body={"name": "x y", "role": "auditor"}), 400,
           "bad name", None, "name")
    expect(call("POST", "/tokens", "admin", body={"name": "z", "role": "root"}), 400,
           "bad role", None, "role")
    lst = expect(call("GET", "/tokens", "admin"), 200, "list tokens").json["items"]
    if any("token" in t or "hash" in t for t in lst):
        fail("token list shows secrets: %r" % lst)
    expect(call("DELETE", "/tokens/api-made", "admin"), 200, "revoke token")
    expect(call("GET", "/me", token=tok), 401, "revoked token", "unauthorized")
    expect(call("DELETE", "/tokens/api-made", "admin"), 409, "revoke token twice")
    expect(call("DELETE", "/tokens/nobody", "admin"), 404, "revoke unknown token")


def step_ratelimit():
    """Failed authentications run out: 429 with Retry-After, before lookup."""
    got429 = False
    for i in range(30):
        r = call("GET", "/me", token="scepd_guess%02d" % i)
        if r.status == 429:
            got429 = True
            if not r.headers.get("retry-after", "").isdigit():
                fail("429 without Retry-After")
            expect(r, 429, "rate limited", "rate-limited")
            break
        expect(r, 401, "guess %d" % i)
    if not got429:
        fail("30 bad tokens from one address were never refused with 429")
    # Even a good token is refused while the address is limited: the
    # limit is asked before any credential.
    expect(call("GET", "/me", "admin"), 429, "good token from a limited address")


def make_cert(cn, days):
    """A self-signed certificate made by openssl: (PEM text, key PEM)."""
    d = tempfile.mkdtemp()
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", d + "/k.pem", "-subj",
                        "/CN=" + cn, "-days", str(days), "-out", d + "/c.pem"],
                       check=True, capture_output=True)
        with open(d + "/c.pem") as f, open(d + "/k.pem") as k:
            return f.read(), k.read()
    finally:
        subprocess.run(["rm", "-rf", d], check=False)


def pem_call(role, data, ctype="application/pem-certificate-chain", token=None):
    return call("POST", "/certificates/import", role, raw=data, token=token,
                headers={"Content-Type": ctype} if ctype else None)


def step_import():
    """POST /certificates/import: roles, media types, bad bodies, counts,
    duplicates, audit, not revocable; then the listing's new filters."""
    a, akey = make_cert("ext-import-a", 20)
    b, _ = make_cert("ext-import-b", 200)
    expect(pem_call(None, a.encode()), 401, "import without a token")
    expect(pem_call("auditor", a.encode()), 403, "import as auditor", "forbidden")
    expect(pem_call("operator", a.encode(), "application/json"), 415, "import as JSON",
           "unsupported-media-type")
    expect(pem_call("operator", a.encode(), None), 415, "import without Content-Type")
    expect(pem_call("operator", b""), 400, "empty import", "invalid-body")
    expect(pem_call("operator", b"hello, not a certificate"), 400, "junk import", "invalid-body")
    r = expect(pem_call("operator", akey.encode()), 400, "a key alone", "invalid-body")
    if "no CERTIFICATE block" not in r.json.get("detail", ""):
        fail("a key alone: detail %r" % r.json.get("detail"))
    broken = a.replace(a.splitlines()[3], a.splitlines()[3][::-1])
    expect(pem_call("operator", broken.encode()), 400, "a corrupted PEM block", "invalid-body")
    # A bundle with a key beside the certificates: the key is skipped unread.
    r = expect(pem_call("operator", (a + akey + b).encode()), 200, "import a bundle").json
    if r["imported"] != 2 or r["duplicates"] != 0 or r["failed"] != 0 or len(r["items"]) != 2:
        fail("bundle import: %r" % r)
    serials = [i["serial"] for i in r["items"]]
    if [i["subject"] for i in r["items"]] != ["CN=ext-import-a", "CN=ext-import-b"]:
        fail("bundle import items: %r" % r["items"])
    c, _ = make_cert("ext-import-c", 400)
    r = expect(pem_call("operator", (a + c).encode(), "application/x-pem-file"), 200,
               "import again").json
    if r["imported"] != 1 or r["duplicates"] != 1 or [i["result"] for i in r["items"]] != \
            ["duplicate", "imported"]:
        fail("re-import: %r" % r)
    d = expect(call("GET", "/certificates/" + serials[0], "auditor"), 200, "imported").json
    if d["source"] != "import" or d["status"] != "valid" or d["chain"] != []:
        fail("imported certificate details: %r" % {k: d[k] for k in d if k != "pem"})
    if not any(e["kind"] == "import" and e["actor"] == "api:ci-operator" for e in d["events"]):
        fail("the import is not audited with the token's name: %r" % d["events"])
    expect(call("POST", "/certificates/" + serials[0] + "/revoke", "operator", body={}), 409,
           "revoking an imported certificate", "not-revocable")
    # The listing's san and profile filters.
    held = expect(call("GET", "/certificates?profile=held", "auditor"), 200, "profile").json
    if not held["items"] or any(i["profile"] != "held" for i in held["items"]):
        fail("profile=held: %r" % held)
    dflt = expect(call("GET", "/certificates?profile=default", "auditor"), 200, "default").json
    if not dflt["items"] or any(i["profile"] != "" for i in dflt["items"]):
        fail("profile=default: %r" % dflt)
    none = expect(call("GET", "/certificates?san=DNS:nowhere.invalid", "auditor"), 200, "san").json
    if none["items"]:
        fail("san=DNS:nowhere.invalid found %r" % none["items"])
    expect(call("GET", "/certificates?san=" + "x" * 1100, "auditor"), 400, "san too long")


def step_stats():
    """GET /stats adds up with the listing, per day and per week."""
    expect(call("GET", "/stats"), 401, "stats without a token")
    expect(call("GET", "/stats?x=1", "auditor"), 400, "stats with a query", "invalid-query")
    st = expect(call("GET", "/stats", "auditor"), 200, "stats").json
    everything = expect(call("GET", "/certificates?limit=1000", "auditor"), 200, "all").json
    items = everything["items"]
    by = st["by_status"]
    if by["total"] != len(items) or by["total"] != sum(by[k] for k in
                                                       ("valid", "superseded", "revoked",
                                                        "expired")):
        fail("stats by_status %r against %d certificates" % (by, len(items)))
    for k in ("valid", "revoked", "superseded", "expired"):
        if by[k] != sum(1 for c in items if c["status"] == k):
            fail("stats %s = %d, the listing says %d" % (k, by[k],
                                                         sum(1 for c in items
                                                             if c["status"] == k)))
    groups = {(g["source"], g["profile"]): g for g in st["by_profile"]}
    if groups.get(("import", ""), {}).get("valid") != 3:
        fail("stats: the three imported certificates are not one group: %r" % st["by_profile"])
    if groups.get(("scep", "held"), {}).get("total", 0) < 1:
        fail("stats: no group for profile held: %r" % st["by_profile"])
    if sum(g["total"] for g in st["by_profile"]) != by["total"]:
        fail("stats: the groups do not add up: %r" % st["by_profile"])
    days, weeks = st["issued_per_day"], st["expiring_per_week"]
    if len(days) != 30 or len(weeks) != 52:
        fail("stats: %d days and %d weeks (want 30 and 52)" % (len(days), len(weeks)))
    today = time.strftime("%Y-%m-%dT00:00:00Z", time.gmtime())
    if days[-1]["start"] != today:
        fail("stats: the last day starts %s, want %s" % (days[-1]["start"], today))
    issued_here = sum(1 for c in items if c["source"] == "scep")
    if days[-1]["count"] != issued_here or sum(d["count"] for d in days) != issued_here:
        fail("stats: %r issued per day, %d issued today" % (days[-3:], issued_here))
    # ext-import-a expires in 20 days: week 2; ext-import-b in 200: week 28.
    if weeks[2]["count"] < 1 or weeks[28]["count"] < 1 or weeks[0]["start"] != st["time"]:
        fail("stats: expiring per week %r" % [(i, w["count"]) for i, w in enumerate(weeks)
                                              if w["count"]])
    valid_soon = sum(1 for c in items if c["status"] == "valid" and
                     c["not_after"] < time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                    time.gmtime(time.time() + 52 * 7 * 86400)))
    if sum(w["count"] for w in weeks) != valid_soon:
        fail("stats: %d expiring within 52 weeks, the listing says %d"
             % (sum(w["count"] for w in weeks), valid_soon))


def main():
    steps = {
        "auth": step_auth, "openapi": step_openapi, "challenge": step_challenge,
        "challenge_errors": step_challenge_errors, "cert": step_cert, "list": step_list,
        "revoke": step_revoke, "audit": step_audit, "cas": step_cas,
        "requests_pending": step_requests_pending, "approve": step_approve,
        "reject": step_reject, "tokens": step_tokens, "ratelimit": step_ratelimit,
        "import": step_import, "stats": step_stats,
    }
    if len(sys.argv) < 2 or sys.argv[1] not in steps:
        fail("usage: admin_api.py STEP [ARGS]; steps: " + ", ".join(sorted(steps)))
    steps[sys.argv[1]](*sys.argv[2:])


if __name__ == "__main__":
    main()
