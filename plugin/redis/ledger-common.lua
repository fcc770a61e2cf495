-- allhands cluster seat ledger: the helpers every ledger script shares. The build prepends this file to
-- each script (ledger-claim.lua, ledger-release.lua, ledger-sync.lua, ledger-reclaim.lua) and embeds the
-- result in plugin/redis/ledger.c; docs/cluster.md ("Seat ledger") documents keys, replies and errors.
-- Every script takes the same three keys of one tenant, checked here: KEYS[1] ah:{T}:caps, KEYS[2]
-- ah:{T}:seats, KEYS[3] ah:{T}:node:N. Every argument is checked before the first write, because Redis
-- does not roll a script back: an error reply changes nothing.
-- SPDX-License-Identifier: GPL-3.0-or-later

local CAP_MAX = 1000000              -- AH_CAP_MAX in include/allhands/validate.h
local TIME_MAX = 1000000000000000    -- now_ms: milliseconds since 1970, far beyond any real clock
local GRACE_MAX = 86400000           -- grace_ms: one day

-- An error reply whose first word is the code the C side maps (AH_LEDGER_ERROR_MAP).
local function fail(code, text)
	error({err = code .. ' ' .. text})
end

local function fmt(v)
	return string.format('%d', v)
end

-- A decimal integer in [lo, hi]; nothing else (no spaces, exponents, hex or fractions).
local function int(s, lo, hi, what)
	if type(s) ~= 'string' or #s > 17 or not string.match(s, '^%-?%d+$') or
			tonumber(s) < lo or tonumber(s) > hi then
		fail('AHBADARG', what .. ' must be an integer ' .. fmt(lo) .. '..' .. fmt(hi))
	end
	return tonumber(s)
end

-- The project's ids (plugin/core/validate.c): 1 to 64 of A-Z a-z 0-9 _ - . so they never hold the
-- braces of a hash tag or the colon of a key.
local function is_id(s)
	return type(s) == 'string' and #s >= 1 and #s <= 64 and string.match(s, '^[%w_%.%-]+$') ~= nil
end

-- A room's field, or 'stage' for '' (a seat counted against the tenant only: presenters, backstage).
local function room_field(s, stage_allowed)
	if s == '' and stage_allowed then
		return 'stage'
	end
	if not is_id(s) then
		fail('AHBADARG', 'room must be 1 to 64 characters of A-Z a-z 0-9 _ - .' ..
			(stage_allowed and ' (or empty for a tenant-only seat)' or ''))
	end
	return 'room:' .. s
end

-- The run_id of the server the caller talks to (INFO server): it tells a new server from the old one.
local function run_id(s)
	if type(s) ~= 'string' or #s < 1 or #s > 64 or not string.match(s, '^%w+$') then
		fail('AHBADARG', 'run_id must be 1 to 64 letters and digits')
	end
	return s
end

local function check_keys(nargs, usage)
	local prefix = string.match(KEYS[1] or '', '^(ah:{[%w_%.%-]+}:)caps$')
	local node = KEYS[3] and string.sub(KEYS[3], 1, #(prefix or '')) == prefix and
		string.sub(KEYS[3], #prefix + 1) or ''
	if #KEYS ~= 3 or prefix == nil or #prefix > 64 + 6 or KEYS[2] ~= prefix .. 'seats' or
			not is_id(string.match(node, '^node:(.*)$')) then
		fail('AHBADKEY', 'keys must be ah:{T}:caps ah:{T}:seats ah:{T}:node:N of one tenant T')
	end
	if #ARGV ~= nargs and (nargs >= 0 or #ARGV < -nargs or (#ARGV + nargs) % 2 ~= 0) then
		fail('AHBADARG', usage)
	end
end

-- A cap from ah:{T}:caps: a missing one refuses (the definition is not there yet, or was lost).
local function cap(v, what)
	if not v then
		fail('AHNOCAP', 'no cap for ' .. what)
	end
	local n = tonumber(v)
	if not string.match(v, '^%d+$') or n > CAP_MAX then
		fail('AHBADCAP', 'the cap for ' .. what .. ' is not an integer 0..' .. fmt(CAP_MAX))
	end
	return n
end

-- Adds d to a counter, never below 0; a counter at 0 is deleted, so a node's hash lists only what it holds.
local function add(key, field, d)
	if d == 0 then
		return tonumber(redis.call('HGET', key, field)) or 0
	end
	local v = redis.call('HINCRBY', key, field, d)
	if v <= 0 then
		redis.call('HDEL', key, field)
		return 0
	end
	return v
end

-- The rebuild marker, kept in the tenant's own seats hash so it is lost exactly when the counts are:
-- `run` is the run_id of the server the counts were built on. A missing marker (restart empty,
-- FLUSHALL, a new tenant) or another server's run_id (a failover or restart that may have lost
-- writes) starts a grace of grace_ms; claims are refused until it has passed while every node syncs.
local function marker(run, now, grace)
	local m = redis.call('HMGET', KEYS[2], 'run', 'ready_at')
	if m[1] ~= run then
		redis.call('HSET', KEYS[2], 'run', run, 'ready_at', fmt(now + grace))
		return now + grace
	end
	return tonumber(m[2]) or 0
end
