-- reclaim: no ARGV. Takes node N's whole share in the tenant out of the totals and deletes it, when N's
-- heartbeat has expired; idempotent (a second reclaim finds nothing). Reply {released, rooms}: the
-- seats taken back and the counters (rooms, and the tenant-only seats) they were in.
-- SPDX-License-Identifier: GPL-3.0-or-later
check_keys(0, 'reclaim takes no arguments')
local flat = redis.call('HGETALL', KEYS[3])
local released = 0
local counters = 0
for i = 1, #flat, 2 do
	local v = tonumber(flat[i + 1]) or 0
	if flat[i] == 'tenant' then
		released = v
	else
		add(KEYS[2], flat[i], -v)
		counters = counters + 1
	end
end
add(KEYS[2], 'tenant', -released)
redis.call('DEL', KEYS[3])
return {released, counters}
