-- allhands: cluster mode's shared definitions (docs/cluster.md, "Definitions").
-- SPDX-License-Identifier: GPL-3.0-or-later
--
-- One script, so that a definition's write and its announcement are never half done.
--   load:            KEYS ah:tenants ah:defs:version ah:defs:seeded
--                    -> {seeded (0: no node ever wrote its definitions back into this Redis: it is new,
--                        or restarted empty), version, tenant ids...}
--   seeded:          KEYS ah:defs:seeded; ARGV seeded node -> 1 (a node has written back all it holds)
--   put, seed, del:  KEYS ah:{T}:defs ah:tenants ah:defs:version; ARGV op node T R row
--                    R "" is the tenant's own row (field "tenant"), else the room's (field "room:R");
--                    put writes the row, seed writes it only if the field is absent (a node writing
--                    back what it holds into an empty Redis), del removes it (a tenant: its whole
--                    hash). A room's row is written only while its tenant's is there. Each write
--                    increments ah:defs:version and publishes {node, tenant, room, version} on ah:defs.
--                    -> the new version, or 0 (seed: the field was there already).
-- The rows are the state file's (checked by every node that applies them, not here).
local function fail(code, message)
	return redis.error_reply(code .. ' ' .. message)
end

local function id_ok(s)
	return type(s) == 'string' and #s >= 1 and #s <= 64 and string.match(s, '^[%w_%.%-]+$') ~= nil
end

local op = ARGV[1]
if op == 'load' then
	if #KEYS ~= 3 or KEYS[1] ~= 'ah:tenants' or KEYS[2] ~= 'ah:defs:version' or KEYS[3] ~= 'ah:defs:seeded' then
		return fail('AHBADKEY', 'keys must be ah:tenants ah:defs:version ah:defs:seeded')
	end
	local out = { redis.call('EXISTS', KEYS[3]), tonumber(redis.call('GET', KEYS[2]) or '0') or 0 }
	for _, t in ipairs(redis.call('SMEMBERS', KEYS[1])) do
		out[#out + 1] = t
	end
	return out
end
if op == 'seeded' then
	if #KEYS ~= 1 or KEYS[1] ~= 'ah:defs:seeded' then
		return fail('AHBADKEY', 'keys must be ah:defs:seeded')
	end
	if not id_ok(ARGV[2]) then
		return fail('AHBADARG', 'node must be an id (1 to 64 of A-Z a-z 0-9 _ - .)')
	end
	redis.call('SET', KEYS[1], ARGV[2])
	return 1
end

local node, tenant, room, row = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if op ~= 'put' and op ~= 'seed' and op ~= 'del' then
	return fail('AHBADARG', 'op must be load, seeded, put, seed or del')
end
if not id_ok(node) or not id_ok(tenant) or (room ~= '' and not id_ok(room)) or type(row) ~= 'string' then
	return fail('AHBADARG', 'node, tenant and room must be ids (1 to 64 of A-Z a-z 0-9 _ - .)')
end
if #KEYS ~= 3 or KEYS[1] ~= 'ah:{' .. tenant .. '}:defs' or KEYS[2] ~= 'ah:tenants' or KEYS[3] ~= 'ah:defs:version' then
	return fail('AHBADKEY', 'keys must be ah:{T}:defs ah:tenants ah:defs:version')
end
local field = 'tenant'
if room ~= '' then
	field = 'room:' .. room
end
if op == 'del' then
	if room == '' then
		redis.call('DEL', KEYS[1])
		redis.call('SREM', KEYS[2], tenant)
	else
		redis.call('HDEL', KEYS[1], field)
	end
else
	if row == '' then
		return fail('AHBADARG', 'a row is needed')
	end
	if room ~= '' and redis.call('HEXISTS', KEYS[1], 'tenant') == 0 then
		return fail('AHNOTENANT', 'tenant ' .. tenant .. ' is not defined')
	end
	if op == 'seed' then
		if redis.call('HSETNX', KEYS[1], field, row) == 0 then
			return 0
		end
	else
		redis.call('HSET', KEYS[1], field, row)
	end
	if room == '' then
		redis.call('SADD', KEYS[2], tenant)
	end
end
local version = redis.call('INCR', KEYS[3])
local note = { node = node, tenant = tenant, version = version }
if room ~= '' then
	note.room = room
end
redis.call('PUBLISH', 'ah:defs', cjson.encode(note))
return version
