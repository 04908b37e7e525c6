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
    /* The waiting room's step (waitroom/wr_queue.c's state machine; keys and layout in
     * waitroom/wr_store_redis.c): time passes (expiries, abandoned reservations and tickets,
     * grants while the gates allow — at most 128 per call, so one call stays short however
     * large a window's quota; the next calls grant the rest), then the op. The event's shuffle
     * costs nothing at start: a ticket issued in the pre-queue gets a uniformly random position
     * in (first pre-queue ticket - 1, first pre-queue ticket), so the pre-queued tickets sort
     * in a uniformly random order, before every later ticket and after every earlier one.
     * Adopt (j): a session a local room admitted while Redis was away joins the active set as a
     * new session while the set has room (not a new admission: the window does not count it),
     * else it arrives as a newcomer. */
    [REDIS_SCRIPT_WAITROOM] =
        "local M, W, L, G, R, A, C = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]\n"
        "local op, id = ARGV[1], ARGV[2]\n"
        "local maxa, quota, win = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])\n"
        "local sess, ab, mode = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])\n"
        "local event, pq, st, en = ARGV[9] == '1', tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12])\n"
        "local rng = tonumber(ARGV[13]) % 2147483646 + 1\n"
        "local function rand(n) rng = rng * 16807 % 2147483647 return rng % n end\n"
        "local tm = redis.call('TIME')\n"
        "local now = tonumber(tm[1]) * 1000 + math.floor(tonumber(tm[2]) / 1000)\n"
        "local mh = redis.call('HMGET', M, 'last', 'paused', 'x')\n"
        "local last = tonumber(mh[1] or '0')\n"
        "if now < last then now = last end\n"
        "redis.call('HSET', M, 'last', now)\n"
        "local ph = 0\n"
        "if event then\n"
        "  if now >= en then ph = 2 elseif now < st and now >= pq then ph = 1 end\n"
        "end\n"
        "local function cnt(f, n) if n > 0 then redis.call('HINCRBY', M, f, n) end end\n"
        "if op == 'z' or op == 'u' then redis.call('HSET', M, 'paused', op == 'z' and 1 or 0) return 1 end\n"
        "local paused = mh[2] == '1'\n"
        "cnt('expired', redis.call('ZREMRANGEBYSCORE', A, '-inf', now - sess))\n"
        "local gone = redis.call('ZRANGEBYSCORE', R, '-inf', now - ab, 'LIMIT', 0, 256)\n"
        "for _, s in ipairs(gone) do\n"
        "  local t = redis.call('HGET', G, 's' .. s)\n"
        "  if t then redis.call('HDEL', G, 't' .. t, 's' .. s) end\n"
        "  redis.call('ZREM', R, s)\n"
        "end\n"
        "cnt('abandoned', #gone)\n"
        "local stale = redis.call('ZRANGEBYSCORE', L, '-inf', '(' .. (now - ab), 'LIMIT', 0, 64)\n"
        "for _, t in ipairs(stale) do redis.call('ZREM', W, t) redis.call('ZREM', L, t) end\n"
        "cnt('abandoned', #stale)\n"
        "if ph == 1 and redis.call('HEXISTS', M, 'pq') == 0 then\n"
        "  redis.call('HSET', M, 'pq', (tonumber(redis.call('HGET', M, 'seq') or '0')) + 1)\n"
        "end\n"
        "local function wcount()\n"
        "  redis.call('ZREMRANGEBYSCORE', C, '-inf', now - win)\n"
        "  return redis.call('ZCARD', C)\n"
        "end\n"
        "local function gates()\n"
        "  if paused or ph ~= 0 then return false end\n"
        "  local nr = redis.call('ZCARD', R)\n"
        "  if redis.call('ZCARD', A) + nr >= maxa then return false end\n"
        "  return wcount() + nr < quota\n"
        "end\n"
        "local function grant_all()\n"
        "  local n = 0\n"
        "  while n < 128 and redis.call('ZCARD', W) > 0 and gates() do\n"
        "    n = n + 1\n"
        "    local t\n"
        "    if mode == 1 then local k = rand(redis.call('ZCARD', W)) t = redis.call('ZRANGE', W, k, k)[1]\n"
        "    else t = redis.call('ZRANGE', W, 0, 0)[1] end\n"
        "    local seen = tonumber(redis.call('ZSCORE', L, t) or '0')\n"
        "    redis.call('ZREM', W, t) redis.call('ZREM', L, t)\n"
        "    if seen < now - ab then cnt('abandoned', 1) else\n"
        "      local s = redis.call('HINCRBY', M, 'sid', 1)\n"
        "      redis.call('ZADD', R, now, s)\n"
        "      redis.call('HSET', G, 't' .. t, s, 's' .. s, t)\n"
        "    end\n"
        "  end\n"
        "end\n"
        "grant_all()\n"
        "local function arrive()\n"
        "  if ph == 2 or mode == 2 then return {3, 0, 1, 0, 0} end\n"
        "  if redis.call('ZCARD', W) == 0 and gates() then\n"
        "    local s = redis.call('HINCRBY', M, 'sid', 1)\n"
        "    redis.call('ZADD', A, now, s) redis.call('ZADD', C, now, s) cnt('admitted', 1)\n"
        "    return {0, 1, 1, s, 0}\n"
        "  end\n"
        "  if mode == 3 or redis.call('ZCARD', W) >= 4194304 then cnt('rejected', 1) return {2, 0, 1, 0, 0} end\n"
        "  local t = redis.call('HINCRBY', M, 'seq', 1)\n"
        "  local pos = t\n"
        "  if ph == 1 and mode ~= 1 then pos = tonumber(redis.call('HGET', M, 'pq')) - 1 + (rand(2147483646) + 1) / 2147483648 end\n"
        "  redis.call('ZADD', W, pos, t) redis.call('ZADD', L, now, t) cnt('issued', 1)\n"
        "  local ahead = redis.call('ZCARD', W) - 1\n"
        "  if mode ~= 1 then ahead = redis.call('ZRANK', W, t) end\n"
        "  return {1, 1, 1, t, ahead}\n"
        "end\n"
        "local res\n"
        "if op == 'a' then res = arrive()\n"
        "elseif op == 'p' then\n"
        "  local s = redis.call('HGET', G, 't' .. id)\n"
        "  local seen = redis.call('ZSCORE', L, id)\n"
        "  if ph == 2 or mode == 2 then res = arrive()\n"
        "  elseif s then\n"
        "    redis.call('HDEL', G, 't' .. id, 's' .. s) redis.call('ZREM', R, s)\n"
        "    redis.call('ZADD', A, now, s) redis.call('ZADD', C, now, s) cnt('admitted', 1)\n"
        "    res = {0, 1, 0, tonumber(s), 0}\n"
        "  elseif seen and tonumber(seen) < now - ab then\n"
        "    redis.call('ZREM', W, id) redis.call('ZREM', L, id) cnt('abandoned', 1)\n"
        "    res = arrive()\n"
        "  elseif seen then\n"
        "    redis.call('ZADD', L, now, id)\n"
        "    local ahead = redis.call('ZCARD', W) - 1\n"
        "    if mode ~= 1 then ahead = redis.call('ZRANK', W, id) end\n"
        "    res = {1, 0, 0, tonumber(id), ahead}\n"
        "  else res = arrive() end\n"
        "elseif op == 't' then\n"
        "  if redis.call('ZSCORE', A, id) then\n"
        "    redis.call('ZADD', A, now, id) res = {0, 0, 0, tonumber(id), 0}\n"
        "  else res = arrive() end\n"
        "elseif op == 'j' then\n"
        "  if ph ~= 2 and mode ~= 2 and redis.call('ZCARD', A) + redis.call('ZCARD', R) < maxa then\n"
        "    local s = redis.call('HINCRBY', M, 'sid', 1)\n"
        "    redis.call('ZADD', A, now, s) cnt('adopted', 1)\n"
        "    res = {0, 0, 0, s, 0}\n"
        "  else res = arrive() end\n"
        "elseif op == 'v' then\n"
        "  res = {3, 0, 0, 0, 0}\n"
        "  if redis.call('ZREM', A, id) == 1 then cnt('revoked', 1) grant_all() res[1] = 0 end\n"
        "end\n"
        "local ttl = 2 * math.max(sess, ab, win) + 3600000\n"
        "if event and en > now then ttl = ttl + math.min(en - now, 7 * 86400000) end\n"
        "if now - tonumber(mh[3] or '0') > 10000 then\n"
        "  redis.call('HSET', M, 'x', now)\n"
        "  for i = 1, 7 do redis.call('PEXPIRE', KEYS[i], ttl) end\n"
        "end\n"
        "local rate = math.floor(wcount() * 60000 / win)\n"
        "if op == 's' then\n"
        "  local f = redis.call('HMGET', M, 'issued', 'admitted', 'abandoned', 'expired', 'revoked', 'rejected')\n"
        "  for i = 1, 6 do f[i] = tonumber(f[i] or '0') end\n"
        "  return {redis.call('ZCARD', W), redis.call('ZCARD', A), redis.call('ZCARD', R), rate,\n"
        "          f[1], f[2], f[3], f[4], f[5], f[6], paused and 1 or 0, ph}\n"
        "end\n"
        "res[6] = redis.call('ZCARD', A) res[7] = redis.call('ZCARD', W) res[8] = rate\n"
        "return res\n",
    /* The token revocation list: a sorted set, member "j:<jti>" or "s:<sub>", score = until
     * (Unix seconds). Entries past their time are dropped on every call. */
    [REDIS_SCRIPT_REVOKE_ADD] =
        "local now = tonumber(redis.call('TIME')[1])\n"
        "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)\n"
        "redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])\n"
        "local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')\n"
        "redis.call('EXPIREAT', KEYS[1], math.floor(tonumber(last[2])) + 1)\n"
        "return 1\n",
    [REDIS_SCRIPT_REVOKE_LIST] =
        "local now = tonumber(redis.call('TIME')[1])\n"
        "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)\n"
        "return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf', 'WITHSCORES', 'LIMIT',"
        " 0, 65536)\n",
    /* A security lock (state/kv.h): a hash {u = locked until, s = strikes}, times on Redis'
     * clock (ms). Strikes are forgotten once the key was unlocked for longer than max. */
    [REDIS_SCRIPT_KV_LOCK] =
        "local tm = redis.call('TIME') local now = tm[1] * 1000 + math.floor(tm[2] / 1000)\n"
        "local base, max = tonumber(ARGV[1]), tonumber(ARGV[2])\n"
        "local h = redis.call('HMGET', KEYS[1], 'u', 's')\n"
        "local u, s = tonumber(h[1] or '0'), tonumber(h[2] or '0')\n"
        "if u > 0 and u < now and now - u > max then s = 0 end\n"
        "local ttl = base\n"
        "if ARGV[3] == '1' then ttl = base * 2 ^ math.min(s, 30) end\n"
        "if ttl > max then ttl = max end\n"
        "local nu = now + ttl if u > nu then nu = u end\n"
        "redis.call('HSET', KEYS[1], 'u', string.format('%.0f', nu), 's', s + 1)\n"
        "redis.call('PEXPIRE', KEYS[1], math.floor(nu - now + max) + 1000)\n"
        "return math.floor(ttl)\n",
    [REDIS_SCRIPT_KV_CHECK] =
        "local tm = redis.call('TIME') local now = tm[1] * 1000 + math.floor(tm[2] / 1000)\n"
        "local h = redis.call('HMGET', KEYS[1], 'u', 's')\n"
        "local left = tonumber(h[1] or '0') - now\n"
        "if left < 0 then left = 0 end\n"
        "return {math.floor(left), tonumber(h[2] or '0')}\n",
    [REDIS_SCRIPT_KV_UNLOCK] = "return redis.call('DEL', KEYS[1])\n",
    /* A failure counted in a fixed window (count, up to 8 members) and, over the rule, the
     * lock taken in the same call: failures through every instance add up. */
    [REDIS_SCRIPT_KV_HIT_LOCK] =
        "local tm = redis.call('TIME') local now = tm[1] * 1000 + math.floor(tm[2] / 1000)\n"
        "local member, win = ARGV[1], tonumber(ARGV[2])\n"
        "local h = redis.call('HMGET', KEYS[1], 'we', 'c', 'm', 'u')\n"
        "local we, c, m = tonumber(h[1] or '0'), tonumber(h[2] or '0'), h[3] or ''\n"
        "if we <= now then we, c, m = now + win, 0, '' end\n"
        "c = c + 1\n"
        "local d = 0\n"
        "if m ~= '' then d = select(2, string.gsub(m, ',', ',')) + 1 end\n"
        "if not string.find(',' .. m .. ',', ',' .. member .. ',', 1, true) and d < 8 then\n"
        "  if m == '' then m = member else m = m .. ',' .. member end\n"
        "  d = d + 1\n"
        "end\n"
        "local keep = math.max(we - now, tonumber(h[4] or '0') - now + tonumber(ARGV[6]), 0)\n"
        "local ttl = 0\n"
        "if c >= tonumber(ARGV[3]) and d >= tonumber(ARGV[4]) then\n"
        "  local base, max = tonumber(ARGV[5]), tonumber(ARGV[6])\n"
        "  local l = redis.call('HMGET', KEYS[2], 'u', 's')\n"
        "  local u, s = tonumber(l[1] or '0'), tonumber(l[2] or '0')\n"
        "  if u > 0 and u < now and now - u > max then s = 0 end\n"
        "  ttl = base\n"
        "  if ARGV[7] == '1' then ttl = base * 2 ^ math.min(s, 30) end\n"
        "  if ttl > max then ttl = max end\n"
        "  local nu = now + ttl if u > nu then nu = u end\n"
        "  c, m, we = 0, '', now\n"
        "  redis.call('HSET', KEYS[1], 'we', we, 'c', c, 'm', m)\n"
        "  redis.call('PEXPIRE', KEYS[1], math.floor(keep) + 1000)\n"
        "  redis.call('HSET', KEYS[2], 'u', string.format('%.0f', nu), 's', s + 1)\n"
        "  redis.call('PEXPIRE', KEYS[2], math.floor(nu - now + max) + 1000)\n"
        "else\n"
        "  redis.call('HSET', KEYS[1], 'we', we, 'c', c, 'm', m)\n"
        "  redis.call('PEXPIRE', KEYS[1], math.floor(keep) + 1000)\n"
        "end\n"
        "return {c, d, math.floor(ttl)}\n",
    [REDIS_SCRIPT_KV_RESET] = "return redis.call('HDEL', KEYS[1], 'we', 'c', 'm')\n",
};

size_t redis_key(char *out, size_t cap, const char *prefix, const char *feature,
                 const char *id, size_t idlen)
{
    return redis_key_tagged(out, cap, prefix, feature, id, idlen, idlen);
}

size_t redis_key_tagged(char *out, size_t cap, const char *prefix, const char *feature,
                        const char *id, size_t idlen, size_t tag_len)
{
    size_t pl = strlen(prefix), fl = strlen(feature);
    size_t n = 1 + pl + 1 + fl + 1 + idlen + 1;
    if (n + 1 > cap || tag_len > idlen)
        return 0;
    char *p = out;
    *p++ = '{';
    memcpy(p, prefix, pl);
    p += pl;
    *p++ = ':';
    memcpy(p, feature, fl);
    p += fl;
    *p++ = ':';
    memcpy(p, id, tag_len);
    p += tag_len;
    *p++ = '}';
    memcpy(p, id + tag_len, idlen - tag_len);
    p += idlen - tag_len;
    *p = '\0';
    return n;
}

struct redis_tag redis_key_tag(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len);
    if (open) {
        const char *close = memchr(open + 1, '}', len - (size_t)(open + 1 - key));
        if (close && close > open + 1)
            return (struct redis_tag){open + 1, (size_t)(close - open - 1)};
    }
    return (struct redis_tag){key, len};
}

bool redis_keys_one_tag(int n, const char *const *keys, const size_t *lens)
{
    if (n < 2)
        return true;
    struct redis_tag t0 = redis_key_tag(keys[0], lens[0]);
    for (int i = 1; i < n; i++) {
        struct redis_tag t = redis_key_tag(keys[i], lens[i]);
        if (t.len != t0.len || memcmp(t.ptr, t0.ptr, t.len) != 0)
            return false;
    }
    return true;
}
