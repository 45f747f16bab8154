/*
 * The CA of the fuzz_service harness: a proper CA certificate (CA:TRUE,
 * keyCertSign, digitalSignature, keyEncipherment) over the key of the
 * fixed fuzz identity (fuzz_identity.h).  That identity's own certificate
 * lacks keyCertSign, so OpenSSL would refuse it as the issuer of a
 * renewal signer; this one lets the renewal and GetCert seeds reach the
 * service's policy code.  The seeds in corpus/service are encrypted to
 * this certificate.  Test-only, public on purpose.
 */
#ifndef SCEP_FUZZ_SERVICE_CA_H
#define SCEP_FUZZ_SERVICE_CA_H

static const char fuzz_service_ca_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIC8jCCAdqgAwIBAgIEXOnwIjANBgkqhkiG9w0BAQsFADAYMRYwFAYDVQQDDA1z\n"
    "Y2VwZCBmdXp6IENBMCAXDTI2MTEyNDE2MDkyMFoYDzIxMjUwNjE5MTYwOTIwWjAY\n"
    "MRYwFAYDVQQDDA1zY2VwZCBmdXp6IENBMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A\n"
    "MIIBCgKCAQEAuMCEHreZIGlt18DKQvcOxntChyjMVS7lgccF13j38ltEbAM5DUFH\n"
    "KbfLUdJhy1QMd9GcOOQU54t1vh3I9VFMDVZUR2WbRireR18oQZYtW2Om2u5rtNE6\n"
    "t6x7IqiYNiHj9YEvyqdrbRoGd+4IvN1xq551Kro+h2Z7mZHKVE7uTBNMwLFuxT6v\n"
    "aUpyfKh3lntRYMswz0Jezd9SlxVCXbjY/dhug2Fy352KEDbVq03irLnEXbEuagkR\n"
    "ISuGxZX1oymsXOgJNKUX8cVsQXJYeEGJTCR9EBhtBe1dIEcY0JEUkYUIsnKMNIls\n"
    "WaQ+/9vJ4307ZQttqzlDQfu0n/fm9VX6OwIDAQABo0IwQDAPBgNVHRMBAf8EBTAD\n"
    "AQH/MA4GA1UdDwEB/wQEAwIBpjAdBgNVHQ4EFgQUKFm5I6TCLDZqb/mor41C09B6\n"
    "TfkwDQYJKoZIhvcNAQELBQADggEBAIp9lGFvcWWN5n8ZVsOOoEnt6ABWGL/eiBg6\n"
    "HNwW9eNtHAVH9Vnc4I1SmgnNhWbzO8zEXGTxEi042+Tequ+ad3TiGj797morMPFL\n"
    "xI3iIg1WVSY3MA9dm5hPRLcOqHIWeg++0BUwkkY9yrT4WN1RDeLXCRe00iGHg2GG\n"
    "zKY+jLA46XzCAFVqC4r5mSIIgCWPONW3+d5hxtBf4Edl29D+A+3hDRpYcBissT+l\n"
    "CD4EWyD4Y11m8SaT2JM5oobHO0CWD39wdqhLidSeZctTeUE9TGPS6OBuUL5fZxDt\n"
    "RpbEQYWePLF49+/XsXKJFzoxbAXDBVDbgFswygeqCnW4I3rbZdc=\n"
    "-----END CERTIFICATE-----\n";

#endif
