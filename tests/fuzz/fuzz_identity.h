/*
 * A fixed RSA identity for the fuzz harnesses: the seed corpora are
 * encrypted to and signed by it, so fuzzing reaches the envelope and the
 * messageData decoders instead of stopping at a wrong key.  Test-only
 * key material, public on purpose.
 */
#ifndef SCEP_FUZZ_IDENTITY_H
#define SCEP_FUZZ_IDENTITY_H

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

static const char fuzz_cert_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIDLzCCAhegAwIBAgIUXbRmPGJU9lrFEt+U7XgjCrwfqrkwDQYJKoZIhvcNAQEL\n"
    "BQAwHjEcMBoGA1UEAwwTc2NlcGQgZnV6eiBpZGVudGl0eTAgFw0yNjExMjUxNTM3\n"
    "MDhaGA8yMTI2MTEwMTE1MzcwOFowHjEcMBoGA1UEAwwTc2NlcGQgZnV6eiBpZGVu\n"
    "dGl0eTCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBALjAhB63mSBpbdfA\n"
    "ykL3DsZ7QocozFUu5YHHBdd49/JbRGwDOQ1BRym3y1HSYctUDHfRnDjkFOeLdb4d\n"
    "yPVRTA1WVEdlm0Yq3kdfKEGWLVtjptrua7TROreseyKomDYh4/WBL8qna20aBnfu\n"
    "CLzdcauedSq6Podme5mRylRO7kwTTMCxbsU+r2lKcnyod5Z7UWDLMM9CXs3fUpcV\n"
    "Ql242P3YboNhct+dihA21atN4qy5xF2xLmoJESErhsWV9aMprFzoCTSlF/HFbEFy\n"
    "WHhBiUwkfRAYbQXtXSBHGNCRFJGFCLJyjDSJbFmkPv/byeN9O2ULbas5Q0H7tJ/3\n"
    "5vVV+jsCAwEAAaNjMGEwHQYDVR0OBBYEFChZuSOkwiw2am/5qK+NQtPQek35MB8G\n"
    "A1UdIwQYMBaAFChZuSOkwiw2am/5qK+NQtPQek35MA8GA1UdEwEB/wQFMAMBAf8w\n"
    "DgYDVR0PAQH/BAQDAgWgMA0GCSqGSIb3DQEBCwUAA4IBAQCR9oyg/IAJF5ZanonQ\n"
    "OvDowryUHusjx3Zz7+u00jIlxXXNQSlZQWk5n+0ufqyDpMp5RY1i46vqd5nK6b8A\n"
    "tRWumCLQRe3jZ+s3RQCPbMnmP/Do98yUQh0LqA6+uil4m+fgMGgewQ/zrzBNyYjt\n"
    "jg6Y7f0FmR2ORN7yoyB65MCdaENj9QfIz3VaxmmjWHzgDNJ1165GAcq9O1fjasY5\n"
    "Sq6ZXkekEui2Npbz5RH+KMyIsR7Kd6fOdD0etym04QAsOpiqaz6C72/zLpbsnfcK\n"
    "DXX4p+hWZWKs+WDJpackTUZ9AGwDtMs/p612hhQmqzl/wn9yT+WP9hRYwUsezcwk\n"
    "z9xi\n"
    "-----END CERTIFICATE-----\n";

static const char fuzz_key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQC4wIQet5kgaW3X\n"
    "wMpC9w7Ge0KHKMxVLuWBxwXXePfyW0RsAzkNQUcpt8tR0mHLVAx30Zw45BTni3W+\n"
    "Hcj1UUwNVlRHZZtGKt5HXyhBli1bY6ba7mu00Tq3rHsiqJg2IeP1gS/Kp2ttGgZ3\n"
    "7gi83XGrnnUquj6HZnuZkcpUTu5ME0zAsW7FPq9pSnJ8qHeWe1FgyzDPQl7N31KX\n"
    "FUJduNj92G6DYXLfnYoQNtWrTeKsucRdsS5qCREhK4bFlfWjKaxc6Ak0pRfxxWxB\n"
    "clh4QYlMJH0QGG0F7V0gRxjQkRSRhQiycow0iWxZpD7/28njfTtlC22rOUNB+7Sf\n"
    "9+b1Vfo7AgMBAAECggEAUCFLjGkUFI81kXywHRA7i9F9HtMOoKmI6FsySOzSGX8F\n"
    "M5XIQlv8Kfdpy1CkksQe7j7u82vVN0Hw7ObNOL0sb6JwRlEm4e2I38rBUoT4oikb\n"
    "/tumwlN3FJ/N/k/CSMQ1M093M32epcDCanTGvGeNPCKrbb8+jIph9E7bwupDB6Ig\n"
    "mcnuj+9IhplsiG8AMVmcH+uCD54UqL3ICfYPQ7saOW935Ap/cYMNIe8s8KHqaw3y\n"
    "cEe9NIyiAstKpYOLUUIeBOkhwwf3uakzFcg/8li5dL7ojOKJt02WxdXRzDY6UCQC\n"
    "1QWuRHBgSuLH+kLC8Ts8nMBTo9HWBHjXRJWuzW7foQKBgQDdxCx6STkKS1NkAjRq\n"
    "RWoBPmx8uaK7vOr3fME5PHGQlUINvlxoT/n3ShCKjrTrGzASYV2/xeaSUIxP2Ztb\n"
    "pK4P4jXgTT8FJKLEFyhn8S94Bq6esOv+X7/jOQoYx9frGlO0cpyrt2p2g4EPK8F/\n"
    "U+XIgnyFuftHogU6fXWbvEq22wKBgQDVRZnOVJW0svPV6ltC0MZCVhi04Dp2SK+m\n"
    "D2qNzczUMfnTygc4jmaQMZ+ovRPuCRyGeDcVvwiXuPke4G5ceUVi3+hUykrxsWRg\n"
    "1djb1IqWVdy1hoae3IKO43/01Z3hsgl7HH6bjICfaNYNsJDt+wWVenWTpXxYFwS/\n"
    "++PsXgW4IQKBgQDUir7CGMmFVzo+IGrR62M0e/qH83bHDcH4nmWmEIsbMiITf/2a\n"
    "sAP3gNGnqiw1JGKHSzAJq4dXdcF0ii9+vq9gY8KVDhO3PyyMWVGNhTekhmr3hsM3\n"
    "kdcb1EAcDfSfzCSrTilf3jM4EMMxohMakHMrH/xuQhhVyC/QpguAzg6hfwKBgHYh\n"
    "qFEmfwnpObDasBQxai/iWqsNrLRKDKkRzvae8P70c6pBNIC6N8tVAVfI65olB9zg\n"
    "B7sO5qaLucnFjLvCHJHo7lrQ9nQryyrsKMOTVfRxuN//lN+3ysV09DJchKg4IpJD\n"
    "tUlZqQEjY7WPgKehLHWgsDHJLzfoACSLVLNfXRGhAoGBAM3Ih1Xh80JoATiU1wfN\n"
    "x+E9pJZkvGdWh4AHVXzO7n05zmvXHAgYhaqE+gMN9a3/nUjY5B1jfgf1DMJR3Ydg\n"
    "St04Dbc+SRqzK+xs+2Gb38q1PKciDyrZy2hG7mq3mwvJLDiECvtyQBG/iCxbwbB5\n"
    "0mw6e4Rbqc9fQSlXCRTn5l0s\n"
    "-----END PRIVATE KEY-----\n";

/* Loads the identity once; returns 0 on success. */
static int fuzz_identity(X509 **cert, EVP_PKEY **key)
{
    static X509 *c;
    static EVP_PKEY *k;

    if (c == NULL) {
        BIO *b = BIO_new_mem_buf(fuzz_cert_pem, -1);
        c = PEM_read_bio_X509(b, NULL, NULL, NULL);
        BIO_free(b);
        b = BIO_new_mem_buf(fuzz_key_pem, -1);
        k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
        BIO_free(b);
    }
    *cert = c;
    *key = k;
    return c != NULL && k != NULL ? 0 : -1;
}

#endif
