/* allhands: admission's side of cluster mode: allowances (include/allhands/admission.h, "Cluster
 * mode"; docs/cluster.md, "How admission uses it: allowances").
 *
 * In cluster mode a room may seat no more attendees here than its allowance, the seats this node holds
 * for it in the cluster's seat ledger (Redis), and a tenant no more presenters and backstage monitors
 * than its stage allowance. Admission treats an allowance exactly like a cap (admission.c's
 * room_seat_free and add_presenter read it); this file only moves it: up by what a claim was granted,
 * down to the seats in use when they are given back. admission.c keeps the two lists of what needs the
 * ledger (refresh_room, refresh_tenant), so finding it never walks every room.
 *
 * Pure: no Janus, no clock, no I/O. Control thread only, through the engine.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "admission-private.h"

void ah_admission_set_limited(ah_admission *adm, gboolean limited)
{
	GHashTableIter ti, ri;
	gpointer tv, rv;
	if (adm->limited == limited)
		return;
	adm->limited = limited;
	/* Every room and tenant starts at what it holds now (seats already taken stay taken: the ledger
	 * learns of them with the first sync). */
	g_hash_table_iter_init(&ti, adm->tenants);
	while (g_hash_table_iter_next(&ti, NULL, &tv)) {
		adm_tenant *t = tv;
		t->stage_allowance = limited ? t->counts.presenters : G_MAXUINT;
		g_hash_table_iter_init(&ri, t->rooms);
		while (g_hash_table_iter_next(&ri, NULL, &rv)) {
			adm_room *r = rv;
			r->allowance = limited ? ah_adm_seats(&r->counts) : G_MAXUINT;
			ah_adm_refresh_room(adm, r);
		}
		ah_adm_refresh_tenant(adm, t);
	}
}

gboolean ah_admission_limited(const ah_admission *adm)
{
	return adm->limited;
}

void ah_admission_room_grant(ah_admission *adm, ah_adm_room *r, guint n)
{
	if (r == NULL || r->allowance == G_MAXUINT || n == 0)
		return;
	r->allowance = (guint)MIN((guint64)r->allowance + n, (guint64)G_MAXUINT - 1);
	ah_adm_refresh_room(adm, r);
}

guint ah_admission_room_trim(ah_admission *adm, ah_adm_room *r)
{
	guint target, n;
	if (r == NULL || r->allowance == G_MAXUINT)
		return 0;
	target = ah_adm_room_ledger_target(adm, r);
	if (r->allowance <= target)
		return 0;
	n = r->allowance - target;
	r->allowance = target;
	ah_adm_refresh_room(adm, r);
	return n;
}

ah_adm_room_ledger ah_admission_room_ledger(const ah_admission *adm, const ah_adm_room *r)
{
	ah_adm_room_ledger out = { 0 };
	if (r == NULL)
		return out;
	out.tenant = r->tenant->id;
	out.room = r->id;
	out.allowance = r->allowance;
	out.seats = ah_adm_seats(&r->counts);
	out.queued = r->queue[0].length + r->queue[1].length;
	out.max_attendees = r->max_attendees;
	/* The tenant's seats an attendee may take here (free presenter seats are not for attendees). */
	guint64 tenant_held = (guint64)ah_adm_tenant_seats(r->tenant) + r->tenant->presenter_gap;
	out.tenant_free = tenant_held < r->tenant->max_participants ? (guint)(r->tenant->max_participants - tenant_held) : 0;
	out.waiting = out.queued > 0 && !r->closed && !r->paused;
	guint target = ah_adm_room_ledger_target(adm, r);
	out.want = out.waiting && r->allowance != G_MAXUINT && target > r->allowance ? target - r->allowance : 0;
	return out;
}

gboolean ah_admission_stage_grant(ah_admission *adm, const char *tenant, guint n)
{
	adm_tenant *t = ah_adm_tenant(adm, tenant);
	if (t == NULL || t->stage_allowance == G_MAXUINT)
		return FALSE;
	t->stage_allowance = (guint)MIN((guint64)t->stage_allowance + n, (guint64)G_MAXUINT - 1);
	ah_adm_refresh_tenant(adm, t);
	return TRUE;
}

/* What the ledger should hold for a tenant's stage: its presenters and its rooms' free presenter
 * seats (attendees never take those, so they are claimed before any presenter comes). */
static guint stage_target(const adm_tenant *t)
{
	return t->counts.presenters + t->presenter_gap;
}

guint ah_admission_stage_trim(ah_admission *adm, const char *tenant)
{
	adm_tenant *t = ah_adm_tenant(adm, tenant);
	guint n;
	if (t == NULL || t->stage_allowance == G_MAXUINT || t->stage_allowance <= stage_target(t))
		return 0;
	n = t->stage_allowance - stage_target(t);
	t->stage_allowance = stage_target(t);
	ah_adm_refresh_tenant(adm, t);
	return n;
}

guint ah_admission_stage_short(const ah_admission *adm, const char *tenant)
{
	const adm_tenant *t = ah_adm_tenant(adm, tenant);
	if (t == NULL || t->stage_allowance == G_MAXUINT || t->stage_allowance >= stage_target(t))
		return 0;
	return stage_target(t) - t->stage_allowance;
}

gboolean ah_admission_stage_free(const ah_admission *adm, const char *tenant)
{
	const adm_tenant *t = ah_adm_tenant(adm, tenant);
	return t != NULL && t->counts.presenters < t->stage_allowance;
}

void ah_admission_ledger_due(const ah_admission *adm, GPtrArray *rooms, GPtrArray *tenants)
{
	for (const adm_link *l = adm->ledger_rooms.head; rooms != NULL && l != NULL; l = l->next)
		g_ptr_array_add(rooms, ADM_OF(l, adm_room, ledger_link));
	for (const adm_link *l = adm->stage_tenants.head; tenants != NULL && l != NULL; l = l->next)
		g_ptr_array_add(tenants, ADM_OF(l, adm_tenant, stage_link)->id);
}

guint ah_admission_stage_allowance(const ah_admission *adm, const char *tenant)
{
	const adm_tenant *t = ah_adm_tenant(adm, tenant);
	return t == NULL || t->stage_allowance == G_MAXUINT ? 0 : t->stage_allowance;
}
