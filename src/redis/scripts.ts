/**
 * Lua run inside Redis so that the stored state only ever moves forward, whatever order processes write in.
 * Each writes the hash field only when the new value wins, then publishes the message; returns 1 if it did.
 */

/**
 * KEYS[1] providers hash; ARGV: provider, record JSON, channel, message, now (the writer's epoch ms), cool-down
 * ms, clock skew ms. The rule is `incomingWins` (src/health/breaker.ts), which says it in words. A stored record
 * from the future (open-until past now + cool-down + skew, or checked after now + skew: corrupt or hostile) or
 * one that is not an object loses to any write; a NaN stamp (cjson reads one) counts as none.
 */
export const SET_PROVIDER = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then
  local ok, c = pcall(cjson.decode, cur)
  if ok and type(c) == 'table' then
    local n = cjson.decode(ARGV[2])
    -- cjson reads NaN, which no comparison favours: it would make every write lose.
    local function num(x) if type(x) == 'number' and x == x then return x end return 0 end
    local cu, ca, nu, na = num(c.openedUntil), num(c.lastCheckedAt), num(n.openedUntil), num(n.lastCheckedAt)
    local now, cool, skew = tonumber(ARGV[5]) or 0, tonumber(ARGV[6]) or 0, tonumber(ARGV[7]) or 0
    if cu > now + cool + skew or ca > now + skew then cu, ca = 0, 0 end
    local wins
    if nu > 0 then
      if cu > 0 then wins = nu > cu else wins = na >= ca end
    else
      wins = na > ca
    end
    if not wins then return 0 end
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
`;

/**
 * KEYS[1] targets hash; ARGV: target, until (epoch ms), channel, message, now (the writer's epoch ms), longest
 * cool-down ms. A cool-down keeps the later deadline; one already over is not written. Fields whose deadline is
 * over, past now + the longest cool-down, or NaN (Lua's tonumber reads 'nan') are deleted first, so the hash
 * holds only running cool-downs (it is small: one field per target).
 */
export const SET_COOLDOWN = `
local now = tonumber(ARGV[5])
local longest = now + (tonumber(ARGV[6]) or 0)
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local u = tonumber(all[i + 1]) or 0
  if u ~= u or u <= now or u > longest then redis.call('HDEL', KEYS[1], all[i]) end
end
local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0') or 0
local untilMs = tonumber(ARGV[2])
if untilMs <= now or untilMs <= cur then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
`;

/** KEYS[1] lease key; ARGV: owner id, ttl ms. Takes a free lease, or renews one this owner already holds. */
export const ACQUIRE_LEASE = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`;

/** KEYS[1] cached response; ARGV: the longest value wanted, in bytes. The value, or nil when longer (never sent). */
export const GET_CAPPED = `
if redis.call('STRLEN', KEYS[1]) > tonumber(ARGV[1]) then return false end
return redis.call('GET', KEYS[1])
`;

/**
 * KEYS[1] providers or targets hash; ARGV: longest field, longest value (bytes), most fields. The fields within the
 * caps and their values, as a flat list: a huge value planted in the hash is never sent.
 */
export const LOAD_CAPPED = `
local out, cursor = {}, '0'
local maxField, maxValue, most = tonumber(ARGV[1]), tonumber(ARGV[2]), 2 * tonumber(ARGV[3])
repeat
  local page = redis.call('HSCAN', KEYS[1], cursor, 'COUNT', 100)
  cursor = page[1]
  local kv = page[2]
  for i = 1, #kv, 2 do
    if #out < most and #kv[i] <= maxField and #kv[i + 1] <= maxValue then
      out[#out + 1] = kv[i]
      out[#out + 1] = kv[i + 1]
    end
  end
until cursor == '0' or #out >= most
return out
`;
