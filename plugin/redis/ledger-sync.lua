-- sync: ARGV run_id, now_ms, grace_ms, stage, then room, count pairs: node N's whole share in the tenant.
-- Makes N's share exactly these counts (rooms not listed: 0) and moves the totals by the differences,
-- so it is idempotent. It records what N really holds even above a cap, and says so.
-- Reply {tenant_held, tenant_change, corrected, tenant_over, rooms_over, ready_at}: corrected is the sum
-- of the differences per room (0 when the ledger already agreed), tenant_over the seats above the
-- tenant cap, rooms_over the rooms listed that are above theirs (a missing cap counts as 0 here).
-- SPDX-License-Identifier: GPL-3.0-or-later
check_keys(-4, 'sync takes run_id, now_ms, grace_ms, stage, then room, count pairs')
local run = run_id(ARGV[1])
local now = int(ARGV[2], 1, TIME_MAX, 'now_ms')
local grace = int(ARGV[3], 0, GRACE_MAX, 'grace_ms')
local want = {stage = int(ARGV[4], 0, CAP_MAX, 'stage')}
local total = want.stage
local rooms = {}
for i = 5, #ARGV, 2 do
	local field = room_field(ARGV[i], false)
	if want[field] then
		fail('AHBADARG', 'room ' .. ARGV[i] .. ' is listed twice')
	end
	want[field] = int(ARGV[i + 1], 0, CAP_MAX, 'count')
	total = total + want[field]
	if want[field] > 0 then
		rooms[#rooms + 1] = field
	end
end

local ready = marker(run, now, grace)
local old = {}
local flat = redis.call('HGETALL', KEYS[3])
for i = 1, #flat, 2 do
	old[flat[i]] = tonumber(flat[i + 1]) or 0
end
local old_total = old.tenant or 0
old.tenant = nil
for field in pairs(old) do
	if want[field] == nil then
		want[field] = 0
	end
end
local corrected = 0
local held = {}
for field, count in pairs(want) do
	local d = count - (old[field] or 0)
	if d ~= 0 then
		if count > 0 then
			redis.call('HSET', KEYS[3], field, count)
		else
			redis.call('HDEL', KEYS[3], field)
		end
		corrected = corrected + math.abs(d)
	end
	held[field] = add(KEYS[2], field, d)
end
if total > 0 then
	redis.call('HSET', KEYS[3], 'tenant', total)
else
	redis.call('HDEL', KEYS[3], 'tenant')
end
local tenant_held = add(KEYS[2], 'tenant', total - old_total)

-- One HGET per room rather than one HMGET: unpack() of a long list would fail after the writes above.
local rooms_over = 0
for _, field in ipairs(rooms) do
	if held[field] > (tonumber(redis.call('HGET', KEYS[1], field)) or 0) then
		rooms_over = rooms_over + 1
	end
end
local tenant_over = math.max(0, tenant_held - (tonumber(redis.call('HGET', KEYS[1], 'tenant')) or 0))
return {tenant_held, total - old_total, corrected, tenant_over, rooms_over, ready}
