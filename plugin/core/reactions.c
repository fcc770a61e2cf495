/* allhands: reactions in one room (include/allhands/reactions.h; docs/interaction.md).
 *
 * Owns one room's reaction counts and each reacting participant's rate-limit window. Must not read
 * the clock, log, lock or allocate after ah_reactions_new. Called by the room's control thread.
 *
 * DESIGN. The rate limit needs a per-participant state, found in O(1) without allocating: an
 * open-addressing table (linear probing, a power of two at least twice max_participants, so a
 * probe stays short), keyed by the participant id (0 marks an empty slot, so id 0 is refused).
 * Removal uses backward-shift deletion, so no tombstones pile up as attendees come and go. Each
 * slot is a fixed window: the window's start and the reactions counted in it. The emission is a
 * trailing batch: the first reaction (or drop) after an emission sets due_at = now + interval, and
 * everything until then rides in the same emission; so emissions are at least one interval apart
 * and a reaction waits at most one interval.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "allhands/reactions.h"

typedef struct {
	guint64 id;              /* 0: empty */
	gint64 window_start;
	guint32 in_window;
} slot;

struct ah_reactions {
	ah_reactions_config cfg;
	slot *slots;
	guint64 mask;            /* slot count - 1 */
	guint used;
	gboolean pending;
	gint64 due_at;
	guint64 seq;
	guint32 counts[AH_REACTION_KINDS];
	guint64 totals[AH_REACTION_KINDS];
	guint64 dropped;         /* since the last emission */
	ah_reactions_stats stats;
};

static const char *const names[AH_REACTION_KINDS] = { "like", "love", "laugh", "clap", "wow" };

const char *ah_reaction_name(int kind)
{
	return kind >= 0 && kind < AH_REACTION_KINDS ? names[kind] : NULL;
}

int ah_reaction_parse(const char *name)
{
	if (name == NULL)
		return -1;
	for (int i = 0; i < AH_REACTION_KINDS; i++)
		if (strcmp(name, names[i]) == 0)
			return i;
	return -1;
}

const char *ah_reactions_error_name(ah_reactions_error e)
{
	switch (e) {
#define AH_REACTIONS_NAME(en, n, name, msg) case en: return name;
	AH_REACTIONS_ERRORS(AH_REACTIONS_NAME)
#undef AH_REACTIONS_NAME
	}
	return "unknown";
}

const char *ah_reactions_error_message(ah_reactions_error e)
{
	switch (e) {
#define AH_REACTIONS_MSG(en, n, name, msg) case en: return msg;
	AH_REACTIONS_ERRORS(AH_REACTIONS_MSG)
#undef AH_REACTIONS_MSG
	}
	return "unknown error";
}

void ah_reactions_config_init(ah_reactions_config *cfg, guint max_participants)
{
	cfg->interval_us = AH_REACTIONS_DEFAULT_INTERVAL_US;
	cfg->per_window = AH_REACTIONS_DEFAULT_PER_WINDOW;
	cfg->window_us = AH_REACTIONS_DEFAULT_WINDOW_US;
	cfg->max_participants = max_participants;
}

static gboolean config_valid(const ah_reactions_config *c)
{
	return c != NULL &&
		c->interval_us >= AH_REACTIONS_MIN_INTERVAL_US && c->interval_us <= AH_REACTIONS_MAX_INTERVAL_US &&
		c->per_window >= 1 && c->per_window <= AH_REACTIONS_MAX_PER_WINDOW &&
		c->window_us >= AH_REACTIONS_MIN_WINDOW_US && c->window_us <= AH_REACTIONS_MAX_WINDOW_US &&
		c->max_participants >= 1 && c->max_participants <= AH_REACTIONS_MAX_PARTICIPANTS;
}

ah_reactions *ah_reactions_new(const ah_reactions_config *cfg, ah_reactions_error *error)
{
	if (!config_valid(cfg)) {
		if (error)
			*error = AH_REACTIONS_ERR_CONFIG;
		return NULL;
	}
	ah_reactions *r = g_new0(ah_reactions, 1);
	r->cfg = *cfg;
	guint64 size = 16;
	while (size < 2 * (guint64)cfg->max_participants)
		size <<= 1;
	r->slots = g_new0(slot, size);
	r->mask = size - 1;
	if (error)
		*error = AH_REACTIONS_OK;
	return r;
}

void ah_reactions_free(ah_reactions *r)
{
	if (r == NULL)
		return;
	g_free(r->slots);
	g_free(r);
}

/* A 64-bit mix (splitmix64's finaliser): participant ids are often sequential. */
static guint64 hash(guint64 x)
{
	x ^= x >> 30;
	x *= G_GUINT64_CONSTANT(0xbf58476d1ce4e5b9);
	x ^= x >> 27;
	x *= G_GUINT64_CONSTANT(0x94d049bb133111eb);
	x ^= x >> 31;
	return x;
}

/* The slot holding `id`, or the empty slot where it would go. The table is never full (at most
 * half its slots are used), so the probe ends. */
static slot *lookup(ah_reactions *r, guint64 id)
{
	guint64 i = hash(id) & r->mask;
	while (r->slots[i].id != 0 && r->slots[i].id != id)
		i = (i + 1) & r->mask;
	return &r->slots[i];
}

static void mark_pending(ah_reactions *r, gint64 now_us)
{
	if (!r->pending) {
		r->pending = TRUE;
		/* Saturating: a time near the end of gint64 must not wrap around to the past. */
		r->due_at = now_us > G_MAXINT64 - r->cfg.interval_us ? G_MAXINT64 : now_us + r->cfg.interval_us;
	}
}

static ah_reactions_error drop(ah_reactions *r, ah_reactions_error why, gint64 now_us)
{
	if (why == AH_REACTIONS_ERR_RATE)
		r->stats.dropped_rate++;
	else
		r->stats.dropped_full++;
	r->dropped++;
	mark_pending(r, now_us);
	return why;
}

ah_reactions_error ah_reactions_add(ah_reactions *r, guint64 participant, int kind, gint64 now_us)
{
	if (kind < 0 || kind >= AH_REACTION_KINDS) {
		r->stats.invalid++;
		return AH_REACTIONS_ERR_KIND;
	}
	if (participant == 0) {
		r->stats.invalid++;
		return AH_REACTIONS_ERR_PARTICIPANT;
	}
	slot *s = lookup(r, participant);
	if (s->id == 0) {
		if (r->used >= r->cfg.max_participants)
			return drop(r, AH_REACTIONS_ERR_FULL, now_us);
		s->id = participant;
		s->window_start = now_us;
		s->in_window = 0;
		r->used++;
	} else if (now_us < s->window_start ||
			(guint64)now_us - (guint64)s->window_start >= (guint64)r->cfg.window_us) {
		/* A new window (a clock stepping back starts one too, rather than locking out). */
		s->window_start = now_us;
		s->in_window = 0;
	}
	if (s->in_window >= r->cfg.per_window)
		return drop(r, AH_REACTIONS_ERR_RATE, now_us);
	s->in_window++;
	if (r->counts[kind] < G_MAXUINT32)
		r->counts[kind]++;
	r->totals[kind]++;
	r->stats.counted++;
	mark_pending(r, now_us);
	return AH_REACTIONS_OK;
}

void ah_reactions_forget(ah_reactions *r, guint64 participant)
{
	if (participant == 0)
		return;
	slot *s = lookup(r, participant);
	if (s->id == 0)
		return;
	/* Backward-shift deletion: move up every later entry of the run that may sit at the hole. */
	guint64 hole = (guint64)(s - r->slots);
	guint64 i = hole;
	for (;;) {
		i = (i + 1) & r->mask;
		if (r->slots[i].id == 0)
			break;
		guint64 home = hash(r->slots[i].id) & r->mask;
		/* The entry at i may move to the hole when its home is not cyclically in (hole, i]. */
		gboolean stays = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
		if (!stays) {
			r->slots[hole] = r->slots[i];
			hole = i;
		}
	}
	memset(&r->slots[hole], 0, sizeof(slot));
	r->used--;
}

gboolean ah_reactions_due(const ah_reactions *r, gint64 now_us)
{
	return r->pending && now_us >= r->due_at;
}

gint64 ah_reactions_due_at(const ah_reactions *r)
{
	return r->pending ? r->due_at : -1;
}

gboolean ah_reactions_take(ah_reactions *r, gint64 now_us, ah_reactions_totals *out)
{
	if (!ah_reactions_due(r, now_us))
		return FALSE;
	out->seq = ++r->seq;
	out->at_us = now_us;
	memcpy(out->counts, r->counts, sizeof(out->counts));
	memcpy(out->totals, r->totals, sizeof(out->totals));
	out->dropped = r->dropped;
	memset(r->counts, 0, sizeof(r->counts));
	r->dropped = 0;
	r->pending = FALSE;
	r->stats.emissions++;
	return TRUE;
}

static void format_map(GString *out, const char *key, const guint64 *v)
{
	g_string_append_printf(out, "\"%s\":{", key);
	for (int i = 0; i < AH_REACTION_KINDS; i++)
		g_string_append_printf(out, "%s\"%s\":%" G_GUINT64_FORMAT, i ? "," : "", names[i], v[i]);
	g_string_append_c(out, '}');
}

gsize ah_reactions_format(const ah_reactions_totals *t, GString *out)
{
	gsize before = out->len;
	guint64 counts[AH_REACTION_KINDS];
	for (int i = 0; i < AH_REACTION_KINDS; i++)
		counts[i] = t->counts[i];
	g_string_append_printf(out, "{\"seq\":%" G_GUINT64_FORMAT ",", t->seq);
	format_map(out, "reactions", counts);
	g_string_append_c(out, ',');
	format_map(out, "totals", t->totals);
	g_string_append_c(out, '}');
	return out->len - before;
}

void ah_reactions_get_stats(const ah_reactions *r, ah_reactions_stats *out)
{
	*out = r->stats;
	out->participants = r->used;
	out->memory = sizeof(*r) + (gsize)(r->mask + 1) * sizeof(slot);
}
