/* allhands: the engine's state, shared by engine.c (participants, offers, slots, routes, time)
 * and requests.c (the request table and its handlers). Not a public header: nothing outside
 * plugin/core includes it. Control thread only, like the whole engine.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef ALLHANDS_ENGINE_PRIVATE_H
#define ALLHANDS_ENGINE_PRIVATE_H

#include "allhands/engine.h"
#include "allhands/validate.h"

/* Limits of the admission settings (set_capacity and the engine config). */
#define AH_WAVE_SIZE_MAX        100000
#define AH_WAVE_INTERVAL_MS_MAX 3600000
#define AH_ADMIT_TIMEOUT_MS_MIN 100
#define AH_ADMIT_TIMEOUT_MS_MAX 3600000

typedef struct ah_room ah_room;

typedef struct {
	char *id;
	char *name;             /* "" when unset */
	char *secret;
	guint max_participants;
	GHashTable *rooms;      /* room id -> ah_room* (owned) */
} ah_tenant;

struct ah_room {
	ah_tenant *tenant;
	char *id;
	char *description;      /* "" when unset */
	char *pin;              /* NULL: no pin */
	char *presenter_secret;
	guint max_attendees;
	GPtrArray *members;     /* ah_participant*, in join order (engine->conns owns them) */
};

typedef struct {
	guint64 id;             /* also the admission pid */
	guint64 conn;
	gboolean presenter;
	ah_room *room;
	char *display;          /* "" when unset */
	gboolean media;         /* the PeerConnection is up (media_up seen, no media_down since) */
	GArray *streams;        /* presenter: ah_stream_desc it publishes (empty: not publishing) */
	GArray *slots;          /* attendee: ah_slot as last offered (empty: never offered) */
	gboolean offer_pending; /* attendee: an offer is out, no answer yet */
	gboolean renegotiate;   /* attendee: presenters changed while the offer was out */
} ah_participant;

struct ah_engine {
	char *state_path;       /* NULL: nothing persists */
	char *admin_key;        /* NULL: no operator requests through plugin handles */
	ah_admission *adm;
	GHashTable *tenants;    /* id -> ah_tenant* (owned) */
	GHashTable *conns;      /* &conn -> ah_participant* (owned) */
	GHashTable *pids;       /* &id -> ah_participant* */
	guint64 next_pid;
	/* ROUTES owed at the end of the current entry point (see ah_engine_flush). */
	GPtrArray *dirty_rooms; /* ah_room*: every publishing presenter's fan-out may have changed */
	GArray *dirty_conns;    /* guint64: presenters that stopped publishing */
};

/* How a participant goes away; each row of engine.c's `exits` table says what it is told. */
typedef enum {
	AH_EXIT_LEAVE,          /* `leave` request (the handler replies) */
	AH_EXIT_HANGUP,         /* attendee PeerConnection went down */
	AH_EXIT_GONE,           /* handle detached */
	AH_EXIT_KICKED,
	AH_EXIT_TIMEOUT,        /* admission already forgot it */
	AH_EXIT_ROOM,           /* room destroyed (the caller removes the room from admission) */
	AH_EXIT_TENANT,         /* tenant destroyed (likewise) */
} ah_exit;

/* A request being processed (requests.c fills it, handlers read and answer it). */
typedef struct {
	ah_engine *engine;
	gboolean admin_api;     /* from ah_engine_admin_message: operator rights, no conn */
	guint64 conn;
	json_t *message;
	const char *jsep_type;
	const ah_stream_desc *streams;
	guint n_streams;
	gint64 now;
	const char *scope;      /* NULL: operator; else the one tenant the caller may touch */
	GPtrArray *outs;
	/* The handler's answer. */
	json_t *reply;          /* success body (complete, with "allhands") */
	ah_jsep_kind jsep;      /* JSEP to attach to the reply */
	char *error;            /* error message (g_free); NULL: the table's default */
} ah_req;

/* --- engine.c: outs and notifications */
void ah_engine_push(GPtrArray *outs, ah_out_kind kind, guint64 conn, json_t *body, ah_jsep_kind jsep);
/* Append an AH_OUT_NOTIFY {"event", "tenant"?, "room"?, "id"?} and return its body (borrowed) so
 * the caller can add fields. tenant/room NULL and id 0 are left out. */
json_t *ah_engine_notify(GPtrArray *outs, guint64 conn, const char *event, const char *tenant,
	const char *room, guint64 id);
/* Emit the ROUTES owed (dirty rooms and conns) and clear them. Every entry point ends with it. */
void ah_engine_flush(ah_engine *engine, GPtrArray *outs);

/* --- engine.c: tenants and rooms */
ah_tenant *ah_engine_tenant(const ah_engine *engine, const char *id);
ah_room *ah_engine_room(const ah_engine *engine, const char *tenant, const char *room);
ah_tenant *ah_engine_add_tenant(ah_engine *engine, const char *id, const char *name,
	guint max_participants, const char *secret);
ah_room *ah_engine_add_room(ah_engine *engine, ah_tenant *tenant, const char *id, const char *description,
	guint max_attendees, const char *pin, const char *presenter_secret);
/* Remove every participant ("removed" with the room's/tenant's reason), then the room/tenant. */
void ah_engine_destroy_room(ah_engine *engine, ah_room *room, gint64 now, GPtrArray *outs);
void ah_engine_destroy_tenant(ah_engine *engine, ah_tenant *tenant, gint64 now, GPtrArray *outs);
/* Sorted by id (GPtrArray of ah_tenant* / ah_room*, borrowed; caller unrefs the array). */
GPtrArray *ah_engine_sorted_tenants(const ah_engine *engine);
GPtrArray *ah_engine_sorted_rooms(const ah_tenant *tenant);
/* Write the state file; TRUE when there is none. */
gboolean ah_engine_save(const ah_engine *engine, char **message);

/* --- engine.c: participants */
ah_participant *ah_engine_participant(const ah_engine *engine, guint64 conn);
ah_participant *ah_engine_participant_by_id(const ah_engine *engine, guint64 id);
/* The id the next participant gets (ah_engine_add_participant takes it). */
guint64 ah_engine_next_id(const ah_engine *engine);
ah_participant *ah_engine_add_participant(ah_engine *engine, guint64 conn, ah_room *room,
	gboolean presenter, const char *display);
/* Holds a seat (CONNECTING or ACTIVE attendee). */
gboolean ah_engine_seated(const ah_engine *engine, const ah_participant *p);
/* Take a participant out (see ah_exit); p is freed. */
void ah_engine_remove(ah_engine *engine, ah_participant *p, ah_exit how, gint64 now, GPtrArray *outs);
/* Act on admission events (admitted, position, timed out); empties `events`. */
void ah_engine_adm_events(ah_engine *engine, GArray *events, gint64 now, GPtrArray *outs);

/* --- engine.c: media negotiation */
/* Recompute attendee a's slots and build the offer event `event` (with presenters) for it: the
 * caller sends it with AH_JSEP_OFFER (as the reply, or through ah_engine_offer as an event). */
json_t *ah_engine_offer_body(ah_engine *engine, ah_participant *a, const char *event);
void ah_engine_offer(ah_engine *engine, ah_participant *a, const char *event, GPtrArray *outs);
/* The room's presenters changed: offer "updated" to every seated attendee (or remember to, after
 * its pending answer). */
void ah_engine_renegotiate(ah_engine *engine, ah_room *room, GPtrArray *outs);
/* Presenter p stops publishing: streams cleared, attendees renegotiated, fan-outs rebuilt. */
void ah_engine_unpublish(ah_engine *engine, ah_participant *p, GPtrArray *outs);
/* KEYFRAME for every publishing presenter of the room. */
void ah_engine_keyframes(const ah_engine *engine, const ah_room *room, GPtrArray *outs);
/* [{"id","display","streams":[...]}] of the room's publishing presenters. */
json_t *ah_engine_presenters_json(const ah_engine *engine, const ah_room *room);
/* [{"kind","codec"}] */
json_t *ah_engine_streams_json(const GArray *streams);

#endif
