/* jwks.h — a set of verification keys: a JSON Web Key Set (RFC 7517) read from text, and
 * single keys from PEM or a secret. Each key gets its algorithm here, once: the JWK's "alg"
 * when it has one, else the one its type allows (EC P-256 → ES256, P-384 → ES384, OKP Ed25519
 * → EdDSA, RSA → RS256); a symmetric ("oct") key needs an "alg". Keys for encryption
 * ("use": "enc"), of unknown types or that fail jwt_key_check are skipped and counted.
 * Pure; any thread. An immutable set may be read by many threads. */
#ifndef WEIR_SECURITY_JWKS_H
#define WEIR_SECURITY_JWKS_H

#include <stddef.h>
#include <stdint.h>

#include "security/jwt.h"

struct jwks {
    struct jwt_key *keys;
    uint32_t n;
    uint32_t skipped;
};

/* Parses a JWKS document ({"keys": [...]}); 0, or -1 with a message in err. */
int jwks_parse(const char *text, size_t len, struct jwks *out, char *err, size_t errlen);
void jwks_free(struct jwks *s);
/* The first key of the token's algorithm whose kid is the token's; a key without a kid
 * matches any token, and a token without a kid any key (of that algorithm). */
const struct jwt_key *jwks_find(const struct jwks *s, const char *kid, enum jwt_alg alg);
/* A public key from PEM text (SubjectPublicKeyInfo or a certificate). NULL on failure. */
EVP_PKEY *jwks_pem_public(const char *pem, size_t len);

#endif
