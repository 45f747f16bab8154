#!/usr/bin/env bash
# The web console in a real browser: headless Debian chromium driven by
# Selenium through chromedriver (console_test.py, run with Debian's
# /usr/bin/python3, which has python3-selenium) against the real scepd's
# admin listener.  Two certificates are enrolled with scepc first; in
# the browser the test signs in with a token, finds one by search,
# revokes it with a reason and sees its status change, approves the
# request of a scepc that waits on a manual profile (which then receives
# its certificate), mints a one-time challenge and sees it shown once,
# and visits every view, saving a screenshot of each into
# $CONSOLE_ARTIFACTS (the build tree's artifacts/console).  The page's
# headers (CSP, X-Frame-Options, nosniff, ETag, 304) are checked with
# curl, and chromium's console log must hold no error.  Skipped (77)
# only when chromium, chromedriver or Selenium are not installed.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
CHROMIUM=$(command -v chromium || true)
CHROMEDRIVER=$(command -v chromedriver || true)
if [ -z "$CHROMIUM" ] || [ -z "$CHROMEDRIVER" ] || ! "$PY" -c 'import selenium' 2>/dev/null; then
    echo "chromium, chromium-driver or python3-selenium not installed: skipped"
    exit 77
fi
need curl openssl
: "${SCEPC:?SCEPC must name the scepc executable}"
ART=${CONSOLE_ARTIFACTS:-$IT_WORK/artifacts}
mkdir -p "$ART"
rm -f "$ART"/*.png
ctl() { "$SCEPCTL" --state-dir "$IT_WORK/console" "$@"; }

cat >"$IT_WORK/scepd.conf" <<CONF
[admin]
admin_listen = 127.0.0.1:0

[profile held]
approval = manual
challenge = $IT_CHALLENGE
CONF
scepd_start console --config "$IT_WORK/scepd.conf"
line=$(grep -m1 '^scepd: serving the admin API at ' "$IT_WORK/console.scepd.out") ||
    fail "no admin API ready line"
ADMIN_URL=${line#scepd: serving the admin API at }
ROOT=${ADMIN_URL%/api/v1}
CA=$SCEPD_STATE/ca.crt

say "the console's page and assets: served without a token, with the console's headers"
curl -sS --cacert "$CA" -D "$IT_WORK/index.hdr" -o "$IT_WORK/index.html" "$ROOT/" ||
    fail "GET / failed"
hdr() { grep -i "^$1:" "$IT_WORK/index.hdr" | head -n1 | tr -d '\r' | sed 's/^[^:]*: *//'; }
want_csp="default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
[ "$(hdr Content-Security-Policy)" = "$want_csp" ] ||
    fail "Content-Security-Policy of / is '$(hdr Content-Security-Policy)'"
[ "$(hdr X-Frame-Options)" = DENY ] || fail "X-Frame-Options of / is '$(hdr X-Frame-Options)'"
[ "$(hdr X-Content-Type-Options)" = nosniff ] || fail "no X-Content-Type-Options: nosniff"
[ "$(hdr Referrer-Policy)" = no-referrer ] || fail "no Referrer-Policy: no-referrer"
case $(hdr Content-Type) in text/html*) ;; *) fail "/ is $(hdr Content-Type)" ;; esac
etag=$(hdr ETag)
[ -n "$etag" ] || fail "/ has no ETag"
code=$(curl -sS --cacert "$CA" -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$ROOT/")
[ "$code" = 304 ] || fail "If-None-Match with the ETag answered $code (want 304)"
for a in app.js:text/javascript app.css:text/css icon.svg:image/svg+xml; do
    ct=$(curl -sS --cacert "$CA" -o /dev/null -w '%{content_type}' "$ROOT/console/${a%%:*}")
    case $ct in "${a#*:}"*) ;; *) fail "/console/${a%%:*} is '$ct'" ;; esac
done
grep -q '<script src="/console/app.js"' "$IT_WORK/index.html" || fail "index.html loads no app.js"
if grep -Eiq '<script>|<script [^>]*>[^<]|<style| style=| on[a-z]+=' "$IT_WORK/index.html"; then
    fail "index.html has inline script or style, which the CSP blocks"
fi
code=$(curl -sS --cacert "$CA" -o /dev/null -w '%{http_code}' "$ROOT/console/nope.js")
[ "$code" = 404 ] || fail "a missing asset answered $code"
code=$(curl -sS --cacert "$CA" -o /dev/null -w '%{http_code}' "$ADMIN_URL/me")
[ "$code" = 401 ] || fail "the API answered $code without a token beside the console"

say "a token, and two certificates enrolled with scepc"
TOKEN=$(ctl token new --name console-op --role operator 2>/dev/null) || fail "scepctl token new"
"$SCEPC" cacert --url "$SCEPD_URL" --out "$IT_WORK/ca.pem" >"$IT_WORK/cacert.log" 2>&1 ||
    fail "scepc cacert: $(cat "$IT_WORK/cacert.log")"
FP=$(openssl x509 -in "$IT_WORK/ca.pem" -noout -fingerprint -sha256 | sed 's/.*=//')
for cn in console-laptop console-phone; do
    "$SCEPC" enroll --url "$SCEPD_URL" --fingerprint "$FP" --challenge "$IT_CHALLENGE" \
        --subject "CN=$cn,O=Console Test" --key "$IT_WORK/$cn.key" --cert "$IT_WORK/$cn.crt" \
        >"$IT_WORK/$cn.log" 2>&1 || fail "scepc enroll $cn: $(cat "$IT_WORK/$cn.log")"
done
REVOKE_SERIAL=$(cert_serial "$IT_WORK/console-laptop.crt")
# One imported through the API that expires in 20 days, for the chart.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$IT_WORK/ext.key" \
    -subj "/CN=console-external" -days 20 -out "$IT_WORK/ext.pem" >/dev/null 2>&1 || fail "openssl req"
curl -sS --cacert "$CA" -H "Authorization: Bearer $TOKEN" \
    -H "Content-Type: application/pem-certificate-chain" --data-binary @"$IT_WORK/ext.pem" \
    "$ADMIN_URL/certificates/import" >"$IT_WORK/import.json" || fail "POST /certificates/import"
grep -q '"imported":1' "$IT_WORK/import.json" || fail "import: $(cat "$IT_WORK/import.json")"

say "a scepc that waits for approval on the manual profile"
: >"$IT_WORK/held.log"
"$SCEPC" enroll --url "$SCEPD_URL/held" --fingerprint "$FP" --challenge "$IT_CHALLENGE" \
    --subject "CN=console-held,O=Console Test" --key "$IT_WORK/held.key" \
    --cert "$IT_WORK/held.crt" --max-wait 50 --poll-interval 1 >"$IT_WORK/held.log" 2>&1 &
HELD_PID=$!
IT_PIDS+=("$HELD_PID")

say "the browser: sign in, search, revoke, approve, mint, every view"
SPKI=$(openssl x509 -in "$SCEPD_STATE/admin/tls.crt" -pubkey -noout |
    openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)
CONSOLE_URL=$ROOT CONSOLE_TOKEN=$TOKEN CONSOLE_SPKI=$SPKI CONSOLE_ART=$ART \
    CONSOLE_SEARCH=console-laptop CONSOLE_SERIAL=$REVOKE_SERIAL CONSOLE_HELD=console-held \
    CHROMIUM=$CHROMIUM CHROMEDRIVER=$CHROMEDRIVER \
    timeout 90 "$PY" "$SCEP_IT_DIR/console_test.py" || fail "the browser test failed"

say "the waiting client received its certificate after the approval"
rc=0
for i in $(seq 1 300); do
    kill -0 "$HELD_PID" 2>/dev/null || break
    sleep 0.1
done
wait "$HELD_PID" || rc=$?
[ "$rc" -eq 0 ] || fail "the held scepc exited $rc: $(cat "$IT_WORK/held.log")"
openssl verify -CAfile "$IT_WORK/ca.pem" "$IT_WORK/held.crt" >/dev/null 2>&1 ||
    fail "the approved certificate does not verify"
openssl x509 -in "$IT_WORK/held.crt" -noout -subject | grep -q console-held ||
    fail "the approved certificate is not console-held's"

say "the store agrees: revoked with keyCompromise by the token, approved by it"
curl -sS --cacert "$CA" -H "Authorization: Bearer $TOKEN" "$ADMIN_URL/certificates/$REVOKE_SERIAL" \
    >"$IT_WORK/revoked.json" || fail "GET the revoked certificate"
"$PY" - "$IT_WORK/revoked.json" <<'PY' || fail "revocation not as the console asked: $(cat "$IT_WORK/revoked.json")"
import json, sys
c = json.load(open(sys.argv[1]))
assert c["status"] == "revoked" and c["revocation_reason"] == "keyCompromise", c
assert any(e["kind"] == "revoke" and e["actor"] == "api:console-op" for e in c["events"]), c["events"]
PY

say "a screenshot of every view"
for v in signin inventory inventory-search certificate certificate-revoked expiring approvals \
    approvals-done challenges challenge-minted audit health inventory-phone; do
    [ -s "$ART/$v.png" ] || fail "no screenshot $ART/$v.png"
done
scepd_stop
say "ok"
