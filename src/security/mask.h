/* mask.h — masking of sensitive values in text that weir writes to its logs (access, error,
 * audit): card numbers (13-19 digits, spaces or dashes between them allowed, passing the Luhn
 * check: all but the last 4 digits become '*'), phone numbers (9-15 digits with a leading
 * '+' or '0', or with '-', ' ', '(' or ')' between them, so that a plain count such as
 * 1073741824 is left alone: all but the first 3 and last 4 digits become '*', so
 * 010-1234-5678 -> 010-****-5678) and e-mail addresses (the local part but its
 * first character becomes '*'). A digit run must stand alone (no letter, digit, '.' or '_'
 * next to it), so addresses, versions, times and hex ids are left as they are. Pure
 * functions, any thread. */
#ifndef WEIR_SECURITY_MASK_H
#define WEIR_SECURITY_MASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Copies s[0..n) into out (at most cap bytes, truncated beyond) with the built-in kinds
 * masked; returns the bytes written. Masking never changes the length. */
size_t mask_text(const char *s, size_t n, char *out, size_t cap);
/* Masks in place. */
void mask_inplace(char *s, size_t n);
/* Luhn check over the digits of s[0..n) (other characters skipped). */
bool mask_luhn(const char *s, size_t n);
/* Replaces value v[0..n) keeping its last `keep` characters (digits of a phone keep their
 * separators): "010-1234-5678", keep 4 -> "***-****-5678". In place. */
void mask_tail(char *v, size_t n, size_t keep);

/* Replaces the values of the named query parameters in a request target (after its '?') with
 * "***", in place; names NULL: the built-in list (password, token, access_token, api_key,
 * secret, signature, ... see mask.c). Returns the new length (never longer). */
size_t mask_query_params(char *s, size_t n, char *const *names, uint32_t nnames);
/* A request target as the access log writes it: configured (or built-in) query parameters,
 * then the built-in kinds. In place; returns the new length. */
size_t mask_target(char *s, size_t n, char *const *names, uint32_t nnames);

#endif
