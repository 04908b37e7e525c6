/* hash.c — lb_hash64: a word-at-a-time multiply-rotate hash with a strong finalizer.
 *
 * Design (written for weir): the state absorbs one 64-bit little-endian word per round as
 * `h = rotl(h ^ (w * K1), 29) * K2 + K3`. The multiply by an odd constant spreads each input
 * bit upwards, the rotate brings high bits back down so the next multiply mixes them too, and
 * the xor-in before the rotate means no word can cancel the previous state. The 1..7 tail bytes
 * are packed into one more word together with their count, so "ab" and "ab\0" differ. The
 * length is folded in before a full-avalanche finalizer (lb_mix64), which is what makes short
 * keys (IPs, ids) that differ in a single byte land far apart on the ring.
 *
 * Inputs here are short (addresses, client IPs, cookie values), so there is no wide multi-lane
 * loop: one lane keeps the code small and is ~1 ns per word. */
#include "balance/hash.h"

#define K1 UINT64_C(0x9e3779b97f4a7c15)
#define K2 UINT64_C(0xc2b2ae3d27d4eb4f)
#define K3 UINT64_C(0x165667b19e3779f9)

static inline uint64_t rotl64(uint64_t x, unsigned r)
{
    return (x << r) | (x >> (64 - r));
}

/* Little-endian load, whatever the host: compilers turn this into one mov on x86-64/arm64. */
static inline uint64_t load_le64(const unsigned char *b)
{
    return (uint64_t)b[0] | (uint64_t)b[1] << 8 | (uint64_t)b[2] << 16 | (uint64_t)b[3] << 24 |
           (uint64_t)b[4] << 32 | (uint64_t)b[5] << 40 | (uint64_t)b[6] << 48 |
           (uint64_t)b[7] << 56;
}

static inline uint64_t round64(uint64_t h, uint64_t w)
{
    return rotl64(h ^ (w * K1), 29) * K2 + K3;
}

uint64_t lb_hash64(const void *p, size_t len, uint64_t seed)
{
    const unsigned char *b = p;
    uint64_t h = lb_mix64(seed + K3);
    size_t n = len;

    while (n >= 8) {
        h = round64(h, load_le64(b));
        b += 8;
        n -= 8;
    }
    if (n) {
        uint64_t w = (uint64_t)n << 56; /* the tail's byte count lives in the top byte */
        for (size_t i = 0; i < n; i++)
            w |= (uint64_t)b[i] << (8 * i);
        h = round64(h, w);
    }
    return lb_mix64(h ^ ((uint64_t)len * K2));
}
