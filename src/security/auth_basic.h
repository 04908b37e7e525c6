/* auth_basic.h — the `basic_auth:` route key: HTTP Basic (RFC 7617) against an htpasswd file
 * of bcrypt ($2y$, $2b$, $2a$) and SHA-crypt ($6$, $5$) hashes, checked with libcrypt's
 * crypt_rn. Other hash kinds (MD5 apr1, {SHA}, plain text) are refused when the file is
 * loaded. The file is read with the config (a reload re-reads it).
 *
 * A bcrypt check costs tens of milliseconds of the worker's CPU by design, so a success is
 * remembered per worker (the SHA-256 of the credentials, 60 s): a client that keeps sending
 * the same header pays once a minute. An unknown user is checked against a real hash all the
 * same, so timing does not tell which users exist. Failure: 401 with
 * WWW-Authenticate: Basic realm="...". The user goes to x->client_id and, when user_header
 * is set, upstream in that field; the Authorization field is not forwarded unless
 * forward_credentials. */
#ifndef WEIR_SECURITY_AUTH_BASIC_H
#define WEIR_SECURITY_AUTH_BASIC_H

#include "pipeline/module.h"

extern const struct pipeline_module basic_module;

#endif
