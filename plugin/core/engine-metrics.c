/* allhands: the engine's part of the Prometheus metrics: gathers the node's counts, admission
 * figures and the engine's counters (engine-private.h: ah_engine_counters) into an
 * ah_metrics_input (include/allhands/metrics.h), which the glue completes with its own figures and
 * renders. Reads only; nothing in the engine calls it. Control thread only, like the whole engine.
 *
 * Cost: O(rooms) for the counts plus O(tenants log tenants) for the per-tenant rows (never a walk
 * over the participants); the glue calls it about once a second, and only while someone scrapes.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "engine-private.h"

/* Label values of the ways out (allhands_exits_total{reason}): engine-participants.c's reasons, made distinct. */
static const char *const exit_names[] = {
	[AH_EXIT_LEAVE] = "leave",
	[AH_EXIT_HANGUP] = "hangup",
	[AH_EXIT_GONE] = "gone",
	[AH_EXIT_KICKED] = "kicked",
	[AH_EXIT_TIMEOUT] = "admit_timeout",
	[AH_EXIT_ROOM] = "room_destroyed",
	[AH_EXIT_TENANT] = "tenant_destroyed",
	[AH_EXIT_ENDED] = "ended",
	[AH_EXIT_ENDED_QUEUED] = "ended_queued",
	[AH_EXIT_ENDED_PRESENTER] = "ended_presenter",
	[AH_EXIT_DRAINED] = "draining",
	[AH_EXIT_REPLACED] = "replaced",
	[AH_EXIT_PLACED] = "placed",
};
G_STATIC_ASSERT(G_N_ELEMENTS(exit_names) == AH_EXIT__COUNT);

static void node_figures(const ah_engine *engine, gint64 now, ah_metrics_input *in)
{
	const ah_admission_config *config = ah_admission_get_config(engine->adm);
	ah_adm_stats st;
	GHashTableIter iter;
	gpointer value;
	guint seated = 0;
	ah_admission_stats(engine->adm, NULL, NULL, now, &st);
	in->capacity = ah_engine_own_capacity(engine);
	in->adaptive = config->wave_mode == AH_WAVES_ADAPTIVE;
	in->active = st.counts.active;
	in->connecting = st.counts.connecting;
	in->rejoining = st.counts.rejoining;
	in->queued = st.counts.queued;
	in->seats_held = st.counts.active + st.counts.connecting + st.counts.rejoining;
	in->wave_limit = st.wave_size;
	in->waves = st.waves;
	in->paused = st.paused;
	in->draining = st.draining;
	in->cpu = st.cpu;
	in->admitted_per_s = st.admitted_per_s;
	in->tenants = g_hash_table_size(engine->tenants);
	/* Presenters hold no node seat, so admission's node counts have none: each tenant's count has
	 * its presenters and backstage monitors (a tenant seat each); the engine keeps the rooms and the
	 * presenters in their lists as they come and go (no walk over 100,000 rooms every second). */
	in->rooms = engine->n_rooms;
	in->presenters = engine->n_presenters;
	g_hash_table_iter_init(&iter, engine->tenants);
	while (g_hash_table_iter_next(&iter, NULL, &value))
		seated += ah_admission_counts(engine->adm, ((const ah_tenant *)value)->id, NULL).presenters;
	in->backstage = seated >= in->presenters ? seated - in->presenters : 0;
}

static void counters(const ah_engine *engine, ah_metrics_input *in)
{
	const ah_engine_counters *c = engine->counters;
	const ah_adm_metrics *m = ah_admission_metrics(engine->adm);
	in->joins = c->joins;
	in->admit_timeouts = c->admit_timeouts;
	in->grace_expired = c->grace_expired;
	in->admitted_queue = m->admitted_queue;
	in->admitted_at_once = m->admitted_at_once;
	in->range_held = m->range_held;
	in->range_missed = m->range_missed;
	in->setup = &m->setup;
	in->wait = &m->wait;
	in->estimate_error = &m->error;
	/* Only the errors that happened: some fifty codes, most of which a join never gets. */
	for (int e = AH_ERR_OK + 1; e < AH_ERR__COUNT; e++) {
		if (c->join_refusals[e] == 0)
			continue;
		char *code = g_strdup_printf("%d", ah_error_code((ah_error)e));
		/* Interned: a bounded set of strings that stays valid after this call. */
		ah_metrics_sample s = { ah_error_name((ah_error)e), g_intern_string(code), (double)c->join_refusals[e] };
		g_free(code);
		g_array_append_val(in->refusals, s);
	}
	for (int x = 0; x < AH_EXIT__COUNT; x++) {
		ah_metrics_sample s = { exit_names[x], NULL, (double)c->exits[x] };
		g_array_append_val(in->exits, s);
	}
}

static void add_placed(gpointer node, gpointer total, gpointer array)
{
	ah_metrics_sample s = { node, NULL, (double)*(guint64 *)total };
	g_array_append_val(array, s);
}

void ah_engine_metrics(const ah_engine *engine, gint64 now, guint max_tenants, ah_metrics_input *in)
{
	GPtrArray *tenants = ah_engine_sorted_tenants(engine);
	node_figures(engine, now, in);
	counters(engine, in);
	if (in->placed != NULL)
		ah_engine_edges_foreach_node(engine, add_placed, in->placed);
	in->edge_seats = ah_engine_spill(engine);
	for (guint i = 0; i < tenants->len && i < max_tenants; i++) {
		const ah_tenant *t = g_ptr_array_index(tenants, i);
		ah_adm_counts n = ah_admission_counts(engine->adm, t->id, NULL);
		/* Admission counts backstage monitors among the presenters: each holds a tenant seat. */
		ah_metrics_tenant row = { t->id, n.active + n.connecting + n.rejoining + n.presenters, n.queued,
			t->max_participants };
		g_array_append_val(in->tenant_rows, row);
	}
	in->tenants_omitted = tenants->len > max_tenants ? tenants->len - max_tenants : 0;
	g_ptr_array_unref(tenants);
}
