#ifndef PARLEY_COPENSSL_SHIM_H
#define PARLEY_COPENSSL_SHIM_H
// Only libcrypto is used: HMAC-SHA256 for JWTs, SHA-256 digests, the CSPRNG and a
// constant-time comparison. TLS is not parley's job (a proxy terminates it).
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#endif
