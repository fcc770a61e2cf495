/* allhands: what admission's two files share (admission-private.h): list membership, seat counts,
 * the lookups of participants and rooms, whether a room's queue moves, and the waves' pace. The
 * leaf of admission: admission.c (seats, queues, waves) and admission-report.c (positions,
 * estimates, figures) both read through it, and it calls neither, so their arrows point down here.
 * Pure: no Janus header, no clock reads, no logging, no locks; control thread only.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "admission-private.h"

gboolean ah_adm_linked(const adm_list *l, const adm_link *x)
{
	return x->prev != NULL || l->head == x;
}

guint ah_adm_seats(const ah_adm_counts *c)
{
	return c->connecting + c->active + c->rejoining;
}

guint ah_adm_tenant_seats(const adm_tenant *t)
{
	return ah_adm_seats(&t->counts) + t->counts.presenters;
}

adm_participant *ah_adm_lookup(const ah_admission *adm, guint64 pid)
{
	return g_hash_table_lookup(adm->participants, &pid);
}

adm_room *ah_adm_find_room(const ah_admission *adm, const char *tenant, const char *room)
{
	adm_tenant *t;
	if (tenant == NULL || room == NULL)
		return NULL;
	t = g_hash_table_lookup(adm->tenants, tenant);
	return t != NULL ? g_hash_table_lookup(t->rooms, room) : NULL;
}

gboolean ah_adm_room_moving(const ah_admission *adm, const adm_room *r)
{
	return !r->closed && !r->paused && !adm->paused && !adm->draining;
}

/* The waves' pace: admissions per second the configuration allows, 0 when unbounded. */
double ah_adm_pace_per_s(const ah_admission *adm)
{
	const ah_admission_config *c = &adm->config;
	double pace = 0;
	if (c->wave_interval_us > 0 && c->wave_mode == AH_WAVES_ADAPTIVE) {
		/* L attendees connect at a time, each for the setup time, and a wave comes once per
		 * interval: L / max(interval, setup) per second (Little's law), with L where it is heading. */
		double turnover_us = MAX((double)c->wave_interval_us, ah_adaptive_setup_us(&adm->adaptive));
		pace = ah_adaptive_outlook(&adm->adaptive) * G_USEC_PER_SEC / turnover_us;
	} else if (c->wave_interval_us > 0) {
		pace = c->wave_size * (double)G_USEC_PER_SEC / (double)c->wave_interval_us;
	}
	if (c->join_rate > 0)
		pace = pace > 0 ? MIN(pace, c->join_rate) : c->join_rate;
	return pace;
}

double ah_adm_paced_rate(const ah_admission *adm, const adm_room *r, guint *free_seats)
{
	const adm_tenant *t = r->tenant;
	guint64 node_seats = (guint64)ah_adm_seats(&adm->counts) + adm->reserved_unused;
	guint rooms = t->ready[AH_ADM_PRIORITY].length + t->ready[AH_ADM_ORDINARY].length;
	double pace = ah_adm_pace_per_s(adm), share;
	guint node_free, room_free, tenant_free;
	*free_seats = 0;
	if (pace <= 0 || adm->ready_weight == 0 || rooms == 0 || !ah_adm_room_moving(adm, r) ||
		!ah_adm_linked(&adm->ready, &t->ready_link) ||
		(!ah_adm_linked(&t->ready[AH_ADM_PRIORITY], &r->ring[AH_ADM_PRIORITY]) &&
			!ah_adm_linked(&t->ready[AH_ADM_ORDINARY], &r->ring[AH_ADM_ORDINARY])) ||
		node_seats >= adm->config.capacity)
		return 0;
	share = (double)t->weight / (double)adm->ready_weight / rooms;
	/* The seats its share of the free ones, its room's and its tenant's caps leave for it. */
	node_free = (guint)((adm->config.capacity - node_seats) * share);
	room_free = r->max_attendees - ah_adm_seats(&r->counts);
	tenant_free = (guint)(t->max_participants -
		MIN((guint64)ah_adm_tenant_seats(t) + t->presenter_gap, t->max_participants));
	*free_seats = MIN(MIN(node_free, room_free), tenant_free);
	return pace * share;
}
