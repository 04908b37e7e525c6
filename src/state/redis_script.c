/* redis_script.c — see redis_script.h.
 *
 * Times come from Redis' own clock (TIME), never from the instances': several hosts' clocks
 * disagree, one Redis clock does not. Numbers stay below 2^53 (microseconds since 1970 are
 * ~2^51), so Lua's doubles hold them exactly. */
#include "state/redis_script.h"

#include <string.h>

const char *const redis_script_text[REDIS_SCRIPT_COUNT] = {
    /* GCRA, as resilience/ratelimit.c: allowed iff now >= TAT - tau; then TAT = max(now, TAT)
     * + T. A refusal leaves TAT alone. The key lives until TAT. */
    [REDIS_SCRIPT_GCRA] =
        "local t = tonumber(ARGV[1]) local tau = tonumber(ARGV[2])\n"
        "local tm = redis.call('TIME') local now = tm[1] * 1000000 + tm[2]\n"
        "local tat = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
        "if tat < now then tat = now end\n"
        "if now < tat - tau then return {0, tat - now} end\n"
        "tat = tat + t\n"
        "redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX',"
        " math.floor((tat - now) / 1000) + 1)\n"
        "return {1, tat - now}\n",
    /* An idempotency record: a hash {h = body hash, t = claim token, r = stored response}. */
    [REDIS_SCRIPT_IDEM_BEGIN] =
        "local r = redis.call('HMGET', KEYS[1], 'h', 'r')\n"
        "if not r[1] then\n"
        "  redis.call('HSET', KEYS[1], 'h', ARGV[1], 't', ARGV[2], 'x', ARGV[4])\n"
        "  redis.call('PEXPIRE', KEYS[1], ARGV[3]) return {0} end\n"
        "if r[1] ~= ARGV[1] then return {3} end\n"
        "if r[2] then return {2, r[2]} end\n"
        "return {1}\n",
    [REDIS_SCRIPT_IDEM_COMPLETE] =
        "local r = redis.call('HMGET', KEYS[1], 't', 'r', 'x')\n"
        "if r[1] ~= ARGV[1] or r[2] then return 0 end\n"
        "redis.call('HSET', KEYS[1], 'r', ARGV[2]) redis.call('PEXPIRE', KEYS[1], r[3])\n"
        "return 1\n",
    [REDIS_SCRIPT_IDEM_ABORT] =
        "local r = redis.call('HMGET', KEYS[1], 't', 'r')\n"
        "if r[1] ~= ARGV[1] or r[2] then return 0 end\n"
        "redis.call('DEL', KEYS[1]) return 1\n",
};

size_t redis_key(char *out, size_t cap, const char *prefix, const char *feature,
                 const char *id, size_t idlen)
{
    size_t pl = strlen(prefix), fl = strlen(feature);
    size_t n = 1 + pl + 1 + fl + 1 + idlen + 1;
    if (n + 1 > cap)
        return 0;
    char *p = out;
    *p++ = '{';
    memcpy(p, prefix, pl);
    p += pl;
    *p++ = ':';
    memcpy(p, feature, fl);
    p += fl;
    *p++ = ':';
    memcpy(p, id, idlen);
    p += idlen;
    *p++ = '}';
    *p = '\0';
    return n;
}
