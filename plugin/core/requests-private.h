/* allhands: the requests layer's shared header: the request being processed (ah_req) and the
 * functions the request files offer each other. Not a public header: only the request files
 * (requests*.c) include it; the engine's files below them do not, so they cannot reach up.
 *
 * The request files call down only (tests/check-layering.sh checks it): requests.c (the table and
 * dispatch) -> requests-participant.c, requests-join.c, requests-tenants.c, requests-rooms.c,
 * requests-node.c -> requests-schedule.c -> requests-common.c -> the engine (engine-private.h).
 * Control thread only.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef ALLHANDS_REQUESTS_PRIVATE_H
#define ALLHANDS_REQUESTS_PRIVATE_H

#include "engine-private.h"
#include "allhands/token.h"

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
	json_t *error_extra;    /* fields added to the error body (owned), e.g. room_closed's next_start */
	guint kept;             /* outs below this index stand even if the request fails (others' events) */
	gboolean deferred;      /* answered later (cluster mode: a presenter waiting for a stage seat) */
	const ah_token_claims *token; /* join: the verified join token (its role decides); NULL: none */
	ah_token_claims claims;       /* join: where `token` points once verified */
} ah_req;

/* --- requests-common.c: what every request handler shares (the leaf of the request files) */
/* Fail with `err` and `message` (owned; NULL: the error table's default message). */
ah_error ah_req_fail(ah_req *req, ah_error err, char *message);
/* The request's string element `name` (NULL when absent), whether it has element `name`, and its
 * unsigned element `name` (0 when absent: the parameter spec checked it before). */
const char *ah_req_string(const ah_req *req, const char *name);
gboolean ah_req_has(const ah_req *req, const char *name);
guint ah_req_uint(const ah_req *req, const char *name);
/* {"allhands": "success"} and {"allhands": "event", "event": name}. */
json_t *ah_req_success(void);
json_t *ah_req_event(const char *name);
/* The counts object of a room, a tenant (room NULL) or the node (both NULL), and a room's object. */
json_t *ah_req_counts_json(const ah_engine *e, const ah_tenant *tenant, const ah_room *room);
json_t *ah_req_room_json(const ah_engine *e, const ah_room *r);
/* The simulcast layer element `name` ("low".."high"): *layer 0..2, or -1 when absent;
 * invalid_element when present and not a layer. */
ah_error ah_req_layer(ah_req *req, const char *name, int *layer);
/* A tenant caller may only name its own tenant. */
ah_error ah_req_in_scope(ah_req *req, const char *tenant);
ah_error ah_req_find_room(ah_req *req, ah_room **room);
/* Save the state file after a change; on failure the reply gets a persist_failed warning. */
void ah_req_save(ah_req *req);
/* Success reply {"room": ...}, NOTIFY `note`, and save when `save`. */
ah_error ah_req_room_reply(ah_req *req, const ah_room *room, const char *note, gboolean save);

/* The tenant a list or status is about: the one named, else the caller's own, else all (NULL). */
ah_error ah_req_filter_tenant(ah_req *req, ah_tenant **tenant);
/* A tenant's object; every tenant's (tenant NULL, sorted) or one's; the rooms of one or all, sorted. */
json_t *ah_req_tenant_json(const ah_engine *e, const ah_tenant *t);
json_t *ah_req_tenants_json(const ah_engine *e, const ah_tenant *tenant);
json_t *ah_req_rooms_json(const ah_engine *e, const ah_tenant *tenant);
/* The failure throttle (engine-credentials.c) around one credential check: guard before it
 * (too_many_failures with retry_after_ms and scope when the caller's session or `bucket` is over
 * its limit: then the credential must not be checked), failed after it failed. bucket NULL: the
 * session alone. */
ah_error ah_req_guard(ah_req *req, ah_fail_bucket *bucket, ah_fail_scope scope);
void ah_req_failed(ah_req *req, ah_fail_bucket *bucket, ah_fail_scope scope);
/* create_room, edit_room: a pin and a priority_secret, when set (not ""), are at least their minimum. */
ah_error ah_req_room_credentials(ah_req *req);

/* --- requests-schedule.c: schedules in requests, and the schedule requests */
/* The schedule and options a create_room/edit_room/set_schedule request carries (only those
 * present): parse checks them all (nothing changes on failure); apply sets them on the room,
 * syncs it (a change of phase acts at once) and clears the input. */
typedef struct {
	gboolean has_schedule;
	ah_schedule *schedule;  /* owned; NULL with has_schedule: "schedule": null clears it */
	gboolean has_lobby, has_warning, has_grace, has_order;
	guint lobby_minutes, ending_warning_s, grace_s;
	gboolean shuffle;
} ah_schedule_input;
ah_error ah_req_schedule_parse(ah_req *req, ah_schedule_input *in);
void ah_req_schedule_apply(ah_req *req, ah_room *room, ah_schedule_input *in);
void ah_schedule_input_clear(ah_schedule_input *in);
/* join: room_closed (with next_start in req->error_extra) while the room is closed. */
ah_error ah_req_join_allowed(ah_req *req, const ah_room *room);
ah_error ah_req_set_schedule(ah_req *req);
ah_error ah_req_occurrences(ah_req *req);
ah_error ah_req_start_now(ah_req *req);
ah_error ah_req_end_now(ah_req *req);

/* --- the request families, each dispatched from requests.c's table */
/* requests-participant.c */
ah_error ah_req_start(ah_req *req);
ah_error ah_req_publish(ah_req *req);
ah_error ah_req_unpublish(ah_req *req);
ah_error ah_req_room_counts(ah_req *req);
ah_error ah_req_leave(ah_req *req);
ah_error ah_req_set_layer(ah_req *req);
/* requests-join.c */
ah_error ah_req_join(ah_req *req);
/* requests-tenants.c */
ah_error ah_req_create_tenant(ah_req *req);
ah_error ah_req_edit_tenant(ah_req *req);
ah_error ah_req_destroy_tenant(ah_req *req);
ah_error ah_req_list_tenants(ah_req *req);
ah_error ah_req_get_signing_key(ah_req *req);
ah_error ah_req_rotate_signing_key(ah_req *req);
/* requests-rooms.c */
ah_error ah_req_create_room(ah_req *req);
ah_error ah_req_edit_room(ah_req *req);
ah_error ah_req_destroy_room(ah_req *req);
ah_error ah_req_list_rooms(ah_req *req);
ah_error ah_req_room_info(ah_req *req);
ah_error ah_req_kick(ah_req *req);
/* requests-node.c */
ah_error ah_req_status(ah_req *req);
ah_error ah_req_set_capacity(ah_req *req);
ah_error ah_req_pause(ah_req *req);
ah_error ah_req_resume(ah_req *req);
ah_error ah_req_drain(ah_req *req);
ah_error ah_req_sync(ah_req *req);

#endif
