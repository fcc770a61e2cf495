-- release: ARGV room (or '' for a tenant-only seat), n.
-- Gives back min(n, node N's seats in that room): never below 0, never another node's seats. The rest
-- of n is ignored and counted. Reply {released, ignored, tenant_held, room_held}.
-- SPDX-License-Identifier: GPL-3.0-or-later
check_keys(2, 'release takes room, n')
local field = room_field(ARGV[1], true)
local n = int(ARGV[2], 1, CAP_MAX, 'n')

local mine = tonumber(redis.call('HGET', KEYS[3], field)) or 0
local released = math.min(n, mine)
if released > 0 then
	add(KEYS[3], field, -released)
	add(KEYS[3], 'tenant', -released)
end
return {released, n - released, add(KEYS[2], 'tenant', -released), add(KEYS[2], field, -released)}
