/* siphash.h — keyed 64-bit hashing for tables that must resist chosen keys. Thread-safe. */
#ifndef WEIR_CORE_SIPHASH_H
#define WEIR_CORE_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

/* SipHash-1-3 of data[0..len) under the key (k0, k1). */
uint64_t siphash13(const void *data, size_t len, uint64_t k0, uint64_t k1);

/* A fresh random key (getrandom; a clock-derived key if that fails). */
void siphash_random_key(uint64_t *k0, uint64_t *k1);

#endif
