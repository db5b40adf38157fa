"""The Lua script the Redis state backend writes with, and the keys it keeps.

Keys (``P`` = ``key_prefix`` + ``v1:``, the schema version)::

    P seq                     batches applied (orders events against snapshots)
    P batch:<id>              applied batch ids (expire after a day)
    P until                   hash: ref -> end of its cooldown (clock seconds)
    P fails                   hash: ref -> consecutive failures, fleet-wide
    P pfx:<ref>               sorted set: prefix hash -> last sent (clock seconds); at most
                              ``prefixes_per_deployment`` members, entries older than the
                              provider's cache lifetime trimmed, the key expiring with it
    P refs                    set: refs with remembered prefixes
    P mean:<table>            hash: key -> mean (hit_rate, calibration, ...)
    P means, P tallies        sets: table names
    P tally:<table>           hash: key -> sum in picodollars (integer, exact)
    P ledger, P ledger:<id>   the budgets' spend ledger (``router.state.redis_ledger``)
    P events                  the pub/sub channel

Every op of a batch is a JSON array; ``f`` (failed), ``s`` (succeeded), ``h`` (hold),
``p`` (prefixes sent), ``m`` (a mean: hit rates, calibration, others), ``t`` (a tally),
``ls`` / ``lr`` (a spend ledger reservation settled / released: ``redis_ledger``).
Numbers travel as strings where cjson would cut them (it keeps 14 digits).
"""

from __future__ import annotations

__all__ = ["APPLY"]

# One batch of updates, applied atomically and exactly once; publishes what changed.
# KEYS[1]: the versioned prefix; ARGV: batch id, origin, ops (JSON).
APPLY = """
local P = KEYS[1]
if not redis.call('SET', P .. 'batch:' .. ARGV[1], '1', 'NX', 'EX', 86400) then
  return {0, tonumber(redis.call('GET', P .. 'seq') or '0')}
end
local seq = redis.call('INCR', P .. 'seq')
local events = {}
local latest = {}
-- numbers travel as strings: cjson would cut them to 14 digits
local function num(x) return string.format('%.17g', x) end
local function later(hash, ref, t)
  local old = tonumber(redis.call('HGET', hash, ref) or '0')
  if old > t then return num(old) end
  redis.call('HSET', hash, ref, num(t))
  return num(t)
end
for _, op in ipairs(cjson.decode(ARGV[3])) do
  local kind = op[1]
  if kind == 'f' then -- failed: ref, after, seconds, now
    local fails = redis.call('HINCRBY', P .. 'fails', op[2], 1)
    if fails >= op[3] and op[4] > 0 then
      redis.call('HDEL', P .. 'fails', op[2])
      events[#events + 1] = {'c', op[2], later(P .. 'until', op[2], op[5] + op[4])}
    end
  elseif kind == 's' then -- succeeded: ref
    redis.call('HDEL', P .. 'fails', op[2])
  elseif kind == 'h' then -- hold: ref, until
    events[#events + 1] = {'c', op[2], later(P .. 'until', op[2], op[3])}
  elseif kind == 'p' then -- prefixes sent: ref, at, lifetime, bound, digests...
    local key = P .. 'pfx:' .. op[2]
    local at = num(op[3])
    local args = {}
    for i = 5, #op do
      args[#args + 1] = at
      args[#args + 1] = op[i]
      if #args >= 1000 or i == #op then
        redis.call('ZADD', key, 'GT', unpack(args))
        args = {}
      end
    end
    redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. num(op[3] - op[4]))
    local extra = redis.call('ZCARD', key) - op[5]
    if extra > 0 then redis.call('ZREMRANGEBYRANK', key, 0, extra - 1) end
    redis.call('PEXPIRE', key, math.ceil(op[4] * 1000))
    redis.call('SADD', P .. 'refs', op[2])
    op[3] = at
    events[#events + 1] = op
  elseif kind == 'm' then -- mean: table, key, value, alpha, prior ('' = none)[, first alpha]
    local hash = P .. 'mean:' .. op[2]
    local cur = tonumber(redis.call('HGET', hash, op[3]) or '')
    local a = op[5]
    if not cur then
      cur = tonumber(op[6])
      if op[7] then a = op[7] end
    end
    local new = op[4]
    if cur then new = cur + a * (op[4] - cur) end
    redis.call('HSET', hash, op[3], num(new))
    redis.call('SADD', P .. 'means', op[2])
    local id = op[2] .. '\0' .. op[3] -- one event per mean: its last value
    if not latest[id] then
      events[#events + 1] = false
      latest[id] = #events
    end
    events[latest[id]] = {'m', op[2], op[3], num(new)}
  elseif kind == 'ls' or kind == 'lr' then -- settle / release: bucket id, [cost,] -amount
    local key = P .. 'ledger:' .. op[2]
    if kind == 'ls' then redis.call('HINCRBY', key, 's', op[3]) end
    if redis.call('HINCRBY', key, 'r', op[#op]) < 0 then redis.call('HSET', key, 'r', 0) end
    redis.call('SADD', P .. 'ledger', op[2])
  elseif kind == 't' then -- tally: table, key, picodollars (a decimal string)
    redis.call('HINCRBY', P .. 'tally:' .. op[2], op[3], op[4])
    redis.call('SADD', P .. 'tallies', op[2])
    events[#events + 1] = op
  end
end
if #events > 0 then
  redis.call('PUBLISH', P .. 'events', cjson.encode({o = ARGV[2], q = seq, e = events}))
end
return {1, seq}
"""
