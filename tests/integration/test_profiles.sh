#!/usr/bin/env bash
# Two profiles beside the default one, each at its own URL: /scep/wifi
# (clientAuth, 30 days, DNS subjectAltNames under wifi.example.com, at
# most two) and /scep/vpn (serverAuth+clientAuth, 90 days, RSA of 3072
# bits or more, a CN pattern).  micromdm scepclient and strongSwan pki
# enroll at both and get each profile's EKUs and validity; a CSR that
# breaks each rule is refused with a signed FAILURE whose failInfoText
# names the rule; Cisco's /pkiclient.exe suffix works after a profile; a
# path naming no profile is a 404; a bad profile setting stops scepd at
# start-up with FILE:LINE.
. "$(dirname "$0")/lib.sh"
need pki scepclient openssl sqlite3 curl

cat >"$IT_WORK/scepd.conf" <<CONF
[profile wifi]
challenge = wifi-$IT_CHALLENGE
allow_des = true
ext_key_usage = clientAuth
validity_days = 30
san_types = dns
dns_pattern = [a-z0-9-]+\.wifi\.example\.com
allow_wildcard_dns = true
san_max = 2

[profile vpn]
challenge = vpn-$IT_CHALLENGE
allow_des = true
ext_key_usage = serverAuth,clientAuth
validity_days = 90
key_types = rsa
min_rsa_bits = 3072
subject_cn_pattern = gw[0-9]+\.vpn\.example\.com

[profile iot]
challenge = iot-$IT_CHALLENGE
key_types = ec
CONF
scepd_start prof --config "$IT_WORK/scepd.conf" --allow-des true
fetch_ca_certs "$IT_WORK/ca"
WIFI=$SCEPD_URL/wifi VPN=$SCEPD_URL/vpn

# p_enroll URL KEY OUT DN CHALLENGE [pki options...]
p_enroll() {
    local url=$1 key=$2 out=$3 dn=$4 pw=$5
    shift 5
    pki --scep --url "$url" --in "$key" --dn "$dn" --password "$pw" \
        --cacert-enc "$IT_WORK/ca/enc.der" --cacert-sig "$IT_WORK/ca/sig.der" \
        --cacert "$IT_WORK/ca/ca.pem" --cipher aes --digest sha256 \
        --interval 1 --maxpolltime 5 --outform pem "$@" >"$out" 2>"$out.log"
}
# days CERT: whole days from notBefore to notAfter.
days() {
    local nb na
    nb=$(date -d "$(openssl x509 -in "$1" -noout -startdate | cut -d= -f2)" +%s)
    na=$(date -d "$(openssl x509 -in "$1" -noout -enddate | cut -d= -f2)" +%s)
    echo $(((na - nb + 43200) / 86400))
}
# eku CERT: the extendedKeyUsage line as openssl prints it.
eku() { openssl x509 -in "$1" -noout -ext extendedKeyUsage | tail -n 1 | sed 's/^ *//'; }
# refused URL KEY DN CHALLENGE TEXT [pki options...]: the enrollment
# fails and scepd logged TEXT as the refusal's reason.
refused() {
    local url=$1 key=$2 dn=$3 pw=$4 text=$5 out
    shift 5
    out=$IT_WORK/refused.$RANDOM
    if p_enroll "$url" "$key" "$out" "$dn" "$pw" "$@"; then
        fail "issued although it breaks '$text'"
    fi
    grep -F 'outcome=failure' "$SCEPD_LOG" | grep -F 'fail_info=badRequest' | grep -qF -- "$text" ||
        fail "no badRequest refusal with '$text' in scepd's log: $(grep outcome=failure "$SCEPD_LOG" | tail -n 1)"
}

say "the log says each profile's URL and how it decides"
grep -q "msg=profile name=vpn url=$VPN challenge=static+one-time approval=auto renewal=true renewal_window_days=0 validity=90d" "$SCEPD_LOG" ||
    fail "no profile line for vpn: $(grep msg=profile "$SCEPD_LOG")"
grep -q "msg=profile name=default url=$SCEPD_URL " "$SCEPD_LOG" || fail "no profile line for the default profile"

say "micromdm scepclient at /scep/wifi: clientAuth, 30 days"
MM_URL=$WIFI mm_enroll mmwifi "wifi-$IT_CHALLENGE" || fail "scepclient at wifi: $(tail -n 3 "$IT_WORK/mmwifi/log")"
[ "$(eku "$IT_WORK/mmwifi/cert.pem")" = "TLS Web Client Authentication" ] ||
    fail "wifi certificate EKU: $(eku "$IT_WORK/mmwifi/cert.pem")"
[ "$(days "$IT_WORK/mmwifi/cert.pem")" = 30 ] || fail "wifi certificate valid $(days "$IT_WORK/mmwifi/cert.pem") days"

say "micromdm scepclient at /scep/vpn: serverAuth+clientAuth, 90 days"
MM_ARGS="-cn gw1.vpn.example.com -keySize 3072" MM_URL=$VPN mm_enroll mmvpn "vpn-$IT_CHALLENGE" ||
    fail "scepclient at vpn: $(tail -n 3 "$IT_WORK/mmvpn/log")"
[ "$(eku "$IT_WORK/mmvpn/cert.pem")" = "TLS Web Server Authentication, TLS Web Client Authentication" ] ||
    fail "vpn certificate EKU: $(eku "$IT_WORK/mmvpn/cert.pem")"
[ "$(days "$IT_WORK/mmvpn/cert.pem")" = 90 ] || fail "vpn certificate valid $(days "$IT_WORK/mmvpn/cert.pem") days"

say "strongSwan pki at /scep/wifi with two DNS names, and at /scep/vpn/pkiclient.exe"
rsa_key "$IT_WORK/sw1.pem"
p_enroll "$WIFI" "$IT_WORK/sw1.pem" "$IT_WORK/sw1.crt" "CN=laptop1" "wifi-$IT_CHALLENGE" \
    --san a1.wifi.example.com --san b1.wifi.example.com || fail "pki at wifi: $(tail -n 3 "$IT_WORK/sw1.crt.log")"
[ "$(eku "$IT_WORK/sw1.crt")" = "TLS Web Client Authentication" ] || fail "pki wifi EKU: $(eku "$IT_WORK/sw1.crt")"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$IT_WORK/sw2.pem" 2>/dev/null
p_enroll "$VPN/pkiclient.exe" "$IT_WORK/sw2.pem" "$IT_WORK/sw2.crt" "CN=gw2.vpn.example.com, O=Example" \
    "vpn-$IT_CHALLENGE" || fail "pki at vpn: $(tail -n 3 "$IT_WORK/sw2.crt.log")"
[ "$(days "$IT_WORK/sw2.crt")" = 90 ] || fail "pki vpn certificate valid $(days "$IT_WORK/sw2.crt") days"

say "each profile's challenge is its own"
refused "$VPN" "$IT_WORK/sw2.pem" "CN=gw3.vpn.example.com" "wifi-$IT_CHALLENGE" "challenge password wrong or unknown"

say "every rule refuses a CSR that breaks it, naming the rule"
# SCEP clients sign with the key they certify, and the reply is
# encrypted to it, so they send RSA keys only: a profile for EC keys
# shows the key type rule on them.
refused "$SCEPD_URL/iot" "$IT_WORK/sw2.pem" "CN=sensor1" "iot-$IT_CHALLENGE" \
    "profile iot: key type RSA not allowed (key_types = ec)"
rsa_key "$IT_WORK/small.pem"
refused "$VPN" "$IT_WORK/small.pem" "CN=gw5.vpn.example.com" "vpn-$IT_CHALLENGE" "min_rsa_bits"
refused "$VPN" "$IT_WORK/sw2.pem" "CN=intruder.example.com" "vpn-$IT_CHALLENGE" "subject_cn_pattern"
rsa_key "$IT_WORK/k3.pem"
refused "$WIFI" "$IT_WORK/k3.pem" "CN=laptop3" "wifi-$IT_CHALLENGE" "san_types" --san 192.0.2.7
refused "$WIFI" "$IT_WORK/k3.pem" "CN=laptop3" "wifi-$IT_CHALLENGE" \
    "profile wifi: SAN DNS:*.example.com does not match dns_pattern" --san '*.example.com'
refused "$WIFI" "$IT_WORK/k3.pem" "CN=laptop3" "wifi-$IT_CHALLENGE" "san_max" \
    --san a3.wifi.example.com --san b3.wifi.example.com --san c3.wifi.example.com

say "GetCACaps per profile; a path naming no profile is a 404"
curl -fsS "$WIFI?operation=GetCACaps" | grep -q '^POSTPKIOperation' || fail "no GetCACaps at /scep/wifi"
code=$(curl -s -o /dev/null -w '%{http_code}' "$SCEPD_URL/nosuch?operation=GetCACaps")
[ "$code" = 404 ] || fail "GetCACaps at an unknown profile answered $code (want 404)"
code=$(curl -s -o /dev/null -w '%{http_code}' "$SCEPD_URL/wifi/deeper?operation=GetCACaps")
[ "$code" = 404 ] || fail "GetCACaps below a profile answered $code (want 404)"

say "the default profile still answers at the prefix"
MM_URL=$SCEPD_URL mm_enroll mmdefault || fail "scepclient at the default profile: $(tail -n 3 "$IT_WORK/mmdefault/log")"

say "metrics count decisions by profile"
curl -fsS "${SCEPD_URL%/scep}/metrics" >"$IT_WORK/metrics"
grep -q 'scepd_enrollment_decisions_total{profile="wifi",decision="allow",via="static"} 2' "$IT_WORK/metrics" ||
    fail "wifi allows not counted: $(grep 'decisions_total{profile="wifi"' "$IT_WORK/metrics" | head -n 3)"
grep -q 'scepd_enrollment_decisions_total{profile="wifi",decision="deny"} 3' "$IT_WORK/metrics" ||
    fail "wifi denials not counted: $(grep 'decisions_total{profile="wifi"' "$IT_WORK/metrics" | head -n 5)"
scepd_stop

say "a bad profile setting stops start-up with FILE:LINE"
bad_start() {
    local conf=$1 want=$2 rc=0
    "$SCEPD" --config "$conf" --state-dir "$IT_WORK/bad" --listen 127.0.0.1:0 --challenge x \
        >"$IT_WORK/bad.out" 2>"$IT_WORK/bad.err" || rc=$?
    [ "$rc" = 2 ] || fail "scepd with $(basename "$conf") exited $rc (want 2)"
    grep -qF -- "$want" "$IT_WORK/bad.err" || fail "want '$want' in: $(cat "$IT_WORK/bad.err")"
}
printf '[profile vpn]\nvalidity_days = 30\next_key_usage = clientAuth,bogusEKU\n' >"$IT_WORK/bad1.conf"
bad_start "$IT_WORK/bad1.conf" "bad1.conf:3: ext_key_usage"
printf '[profile wifi]\n\ndns_pattern = [a-z\n' >"$IT_WORK/bad2.conf"
bad_start "$IT_WORK/bad2.conf" "bad2.conf:3: dns_pattern"
printf '[server]\n[profile bad/name]\nvalidity_days = 1\n' >"$IT_WORK/bad3.conf"
bad_start "$IT_WORK/bad3.conf" "bad3.conf:3: profile name"
printf '[profile hook]\nwebhook_url = http://127.0.0.1:9/\n' >"$IT_WORK/bad4.conf"
bad_start "$IT_WORK/bad4.conf" "bad4.conf:2: profile hook: webhook_url needs webhook_secret_file"
