-- claim: ARGV room (or '' for a tenant-only seat), want, run_id, now_ms, grace_ms.
-- Grants min(want, tenant cap - tenant held, room cap - room held), never negative, and counts the
-- grant in the cluster's totals and in node N's share. Reply {granted, tenant_held, room_held, ready_at}:
-- granted -1 while the tenant's ledger is rebuilding (until ready_at), counting nothing.
-- SPDX-License-Identifier: GPL-3.0-or-later
check_keys(5, 'claim takes room, want, run_id, now_ms, grace_ms')
local field = room_field(ARGV[1], true)
local want = int(ARGV[2], 1, CAP_MAX, 'want')
local run = run_id(ARGV[3])
local now = int(ARGV[4], 1, TIME_MAX, 'now_ms')
local grace = int(ARGV[5], 0, GRACE_MAX, 'grace_ms')

local caps = redis.call('HMGET', KEYS[1], 'tenant', field)
local tenant_cap = cap(caps[1], 'the tenant')
local room_cap = field ~= 'stage' and cap(caps[2], field) or nil

local ready = marker(run, now, grace)
local held = redis.call('HMGET', KEYS[2], 'tenant', field)
local tenant_held = tonumber(held[1]) or 0
local room_held = tonumber(held[2]) or 0
if now < ready then
	return {-1, tenant_held, room_held, ready}
end

local granted = math.min(want, tenant_cap - tenant_held)
if room_cap then
	granted = math.min(granted, room_cap - room_held)
end
if granted <= 0 then
	return {0, tenant_held, room_held, ready}
end
add(KEYS[3], 'tenant', granted)
add(KEYS[3], field, granted)
return {granted, add(KEYS[2], 'tenant', granted), add(KEYS[2], field, granted), ready}
