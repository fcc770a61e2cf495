#!/bin/sh
# The layering rule: only plugin/glue may include a Janus header. Everything else (plugin/core,
# plugin/redis, include/allhands, the unit tests) must build and be tested without Janus. And only
# plugin/redis may include hiredis: the Redis client is confined like the Janus glue. TAP output.
# SPDX-License-Identifier: GPL-3.0-or-later
cd "${top_srcdir:-.}" || exit 1
# Janus's headers, as a plugin includes them (janus-dev: /usr/include/janus).
janus_headers=$(ls /usr/include/janus 2>/dev/null | sed -n 's/\.h$//p' | tr '\n' '|')
pattern="^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"](janus/|plugins/|${janus_headers}__none__)(\\.h)?"
echo "1..3"
bad=$(grep -rnE "$pattern" plugin/core plugin/redis include tests/unit 2>/dev/null | grep -vE '"allhands/' )
if [ -z "$bad" ]; then
	echo "ok 1 - no Janus header outside plugin/glue"
else
	echo "not ok 1 - Janus headers included outside plugin/glue:"
	echo "$bad" | sed 's/^/# /'
fi
# The glue must include project headers as "allhands/..." so they never shadow Janus's own.
shadow=$(ls include/allhands | sed -n 's/\.h$//p' | while read -r h; do
	[ -f "/usr/include/janus/$h.h" ] && echo "$h.h"
done)
if [ -z "$shadow" ]; then
	echo "ok 2 - no project header shares a name with a Janus header"
else
	echo "not ok 2 - project headers named like Janus headers: $shadow"
fi
# hiredis (and its adapters) only in plugin/redis; nothing else of the plugin sees a hiredis type. (The
# seat ledger's tests and benchmark use hiredis's synchronous API to look at Redis from outside, as
# redis-cli would: they are not the plugin.)
hiredis=$(grep -rnIE --include='*.[ch]' '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](hiredis/|hiredis\.h|async\.h|adapters/)' \
	plugin include 2>/dev/null | grep -v '^plugin/redis/')
if [ -z "$hiredis" ]; then
	echo "ok 3 - hiredis included only in plugin/redis"
else
	echo "not ok 3 - hiredis included outside plugin/redis:"
	echo "$hiredis" | sed 's/^/# /'
fi
