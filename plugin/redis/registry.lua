-- allhands cluster node registry: one node's heartbeat, embedded in plugin/redis/registry.c at build time
-- (docs/cluster.md, "Node registry"). It marks node N alive for expiry_ms, stores N's figures, and answers
-- with every registered node: whether its alive key exists, how long since its last heartbeat, and its
-- figures. A node whose alive key has been gone for more than forget_ms is removed. Every argument is
-- checked before the first write (Redis does not roll a script back: an error reply changed nothing).
-- Ages come from Redis's own clock (TIME), so the nodes' clocks need not agree.
--   KEYS: ah:node:{N}:alive  ah:nodes  ah:nodes:seen
--   ARGV: N  expiry_ms  figures (a JSON object)  forget_ms  [mode: "full" (the default) or "brief"]
--   reply: {now_ms, removed, then for each node: id, alive (1 or 0), age_ms, figures}
-- ah:nodes:seen holds, per node, "<ms of its last heartbeat> <its expiry_ms>" (Redis's clock), and the
-- sorted set ah:nodes:deadlines each node's deadline (its last heartbeat + its expiry_ms) as its score.
-- A "brief" heartbeat does not read every node (O(nodes) each, O(nodes^2) a period for a fleet): it
-- answers {now_ms, -1, then N itself and only the nodes past their deadline} (O(log nodes + late)),
-- which the caller merges into its last full view (docs/cluster.md, "Node registry", "Cost").
-- SPDX-License-Identifier: GPL-3.0-or-later

local FIGURES_MAX = 4096          -- AH_REGISTRY_FIGURES_MAX in include/allhands/registry.h
local EXPIRY_MAX = 3600000        -- AH_REGISTRY_EXPIRY_MAX
local FORGET_MAX = 604800000      -- AH_REGISTRY_FORGET_MAX

local function fail(code, text)
	error({err = code .. ' ' .. text})
end

-- The project's ids (plugin/core/validate.c): 1 to 64 of A-Z a-z 0-9 _ - .
local function is_id(s)
	return type(s) == 'string' and #s >= 1 and #s <= 64 and string.match(s, '^[%w_%.%-]+$') ~= nil
end

-- A decimal integer in [lo, hi]; nothing else.
local function int(s, lo, hi, what)
	if type(s) ~= 'string' or #s > 17 or not string.match(s, '^%d+$') or tonumber(s) < lo or tonumber(s) > hi then
		fail('AHBADARG', what .. ' must be an integer ' .. string.format('%d..%d', lo, hi))
	end
	return tonumber(s)
end

local function alive_key(id)
	return 'ah:node:{' .. id .. '}:alive'
end

if #KEYS ~= 3 or (#ARGV ~= 4 and #ARGV ~= 5) then
	fail('AHBADARG', 'heartbeat takes 3 keys and 4 or 5 arguments')
end
local brief = false
if #ARGV == 5 then
	if ARGV[5] == 'brief' then
		brief = true
	elseif ARGV[5] ~= 'full' then
		fail('AHBADARG', 'mode must be full or brief')
	end
end
local DEADLINES = 'ah:nodes:deadlines'
local me = ARGV[1]
if not is_id(me) then
	fail('AHBADARG', 'the node id must be 1 to 64 characters of A-Z a-z 0-9 _ - .')
end
if KEYS[1] ~= alive_key(me) or KEYS[2] ~= 'ah:nodes' or KEYS[3] ~= 'ah:nodes:seen' then
	fail('AHBADKEY', 'keys must be ah:node:{N}:alive ah:nodes ah:nodes:seen')
end
local expiry = int(ARGV[2], 1, EXPIRY_MAX, 'expiry_ms')
local figures = ARGV[3]
if #figures < 2 or #figures > FIGURES_MAX or string.sub(figures, 1, 1) ~= '{' or string.sub(figures, -1) ~= '}' then
	fail('AHBADARG', 'figures must be a JSON object of at most ' .. FIGURES_MAX .. ' bytes')
end
local forget = int(ARGV[4], 0, FORGET_MAX, 'forget_ms')

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('SET', KEYS[1], '1', 'PX', expiry)
redis.call('HSET', KEYS[2], me, figures)
redis.call('HSET', KEYS[3], me, string.format('%d %d', now, expiry))
redis.call('ZADD', DEADLINES, now + expiry, me)

-- One node as the reply lists it (its seen time, written by something else, counts from now).
local function entry(id)
	local seen, exp = string.match(redis.call('HGET', KEYS[3], id) or '', '^(%d+) (%d+)$')
	seen, exp = tonumber(seen), tonumber(exp)
	if not seen then
		seen, exp = now, 0
		redis.call('HSET', KEYS[3], id, string.format('%d 0', now))
	end
	local alive = id == me or (is_id(id) and redis.call('EXISTS', alive_key(id)) == 1)
	local age = math.max(now - seen, 0)
	return alive, age, exp
end

if brief then
	local out = {now, -1, me, 1, 0, figures}
	for _, id in ipairs(redis.call('ZRANGEBYSCORE', DEADLINES, '-inf', now, 'LIMIT', 0, 1000)) do
		local figs = redis.call('HGET', KEYS[2], id)
		if not figs then
			redis.call('ZREM', DEADLINES, id) -- forgotten by a full heartbeat
		elseif id ~= me then
			local alive, age = entry(id)
			out[#out + 1] = id
			out[#out + 1] = alive and 1 or 0
			out[#out + 1] = age
			out[#out + 1] = figs
		end
	end
	return out
end

local out = {now, 0}
local removed = 0
local flat = redis.call('HGETALL', KEYS[2])
for i = 1, #flat, 2 do
	local id = flat[i]
	local seen, exp = string.match(redis.call('HGET', KEYS[3], id) or '', '^(%d+) (%d+)$')
	seen, exp = tonumber(seen), tonumber(exp)
	if not seen then
		-- No heartbeat time (written by something else): start counting now.
		seen, exp = now, 0
		redis.call('HSET', KEYS[3], id, string.format('%d 0', now))
	end
	local alive = id == me or (is_id(id) and redis.call('EXISTS', alive_key(id)) == 1)
	local age = math.max(now - seen, 0)
	if not alive and age > exp + forget then
		redis.call('HDEL', KEYS[2], id)
		redis.call('HDEL', KEYS[3], id)
		redis.call('ZREM', DEADLINES, id)
		removed = removed + 1
	else
		out[#out + 1] = id
		out[#out + 1] = alive and 1 or 0
		out[#out + 1] = age
		out[#out + 1] = flat[i + 1]
	end
end
out[2] = removed
return out
