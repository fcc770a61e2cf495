/* allhands: the participant requests of a plugin handle (docs/api.md) but join (requests-join.c):
 * start (the answer to our offer), publish and unpublish (presenters), room_counts, leave and
 * set_layer. requests.c's table dispatches here; the handlers call requests-common.c and the engine
 * (engine-participants.c, engine-media.c).
 *
 * Pure: no Janus header, no clock, no logging. Control thread only.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "requests-private.h"

ah_error ah_req_start(ah_req *req)
{
	ah_participant *p = ah_engine_participant(req->engine, req->conn);
	if (p == NULL || p->presenter || !p->offer_pending)
		return ah_req_fail(req, AH_ERR_WRONG_STATE, g_strdup("wrong state (no offer is waiting for an answer)"));
	if (g_strcmp0(req->jsep_type, "answer") != 0)
		return ah_req_fail(req, AH_ERR_INVALID_JSEP, g_strdup("invalid jsep (start needs the answer to our offer)"));
	p->offer_pending = FALSE;
	req->reply = ah_req_event("started");
	ah_engine_keyframes(req->engine, p->room, req->outs);
	if (p->renegotiate)
		ah_engine_offer(req->engine, p, "updated", req->outs);
	return AH_ERR_OK;
}


static gboolean stream_valid(const ah_stream_desc *s)
{
	return (s->kind == AH_MEDIA_AUDIO || s->kind == AH_MEDIA_VIDEO) && s->mindex >= 0 &&
		memchr(s->codec, '\0', sizeof(s->codec)) != NULL && s->codec[0] != '\0' &&
		g_utf8_validate(s->codec, -1, NULL) && memchr(s->fmtp, '\0', sizeof(s->fmtp)) != NULL;
}

ah_error ah_req_publish(ah_req *req)
{
	ah_participant *p = ah_engine_participant(req->engine, req->conn);
	if (p == NULL)
		return ah_req_fail(req, AH_ERR_WRONG_STATE, g_strdup("wrong state (join as a presenter first)"));
	if (!p->presenter)
		return AH_ERR_NOT_PRESENTER;
	if (g_strcmp0(req->jsep_type, "offer") != 0)
		return ah_req_fail(req, AH_ERR_INVALID_JSEP, g_strdup("invalid jsep (publish needs an offer)"));
	if (req->n_streams == 0 || req->n_streams > AH_MAX_STREAMS || req->streams == NULL)
		return ah_req_fail(req, AH_ERR_INVALID_JSEP, g_strdup("invalid jsep (no usable audio or video stream)"));
	for (guint i = 0; i < req->n_streams; i++)
		if (!stream_valid(&req->streams[i]))
			return ah_req_fail(req, AH_ERR_INVALID_JSEP, g_strdup("invalid jsep (unusable stream)"));
	g_array_set_size(p->streams, 0);
	g_array_append_vals(p->streams, req->streams, req->n_streams);
	req->reply = ah_req_event("published");
	json_object_set_new(req->reply, "streams", ah_engine_streams_json(p->streams));
	req->jsep = AH_JSEP_ANSWER;
	ah_engine_renegotiate(req->engine, p->room, req->outs);
	ah_engine_notify(req->outs, p->conn, "published", p->room->tenant->id, p->room->id, p->id);
	return AH_ERR_OK;
}

ah_error ah_req_unpublish(ah_req *req)
{
	ah_participant *p = ah_engine_participant(req->engine, req->conn);
	if (p == NULL)
		return ah_req_fail(req, AH_ERR_WRONG_STATE, g_strdup("wrong state (not joined)"));
	if (!p->presenter)
		return AH_ERR_NOT_PRESENTER;
	if (p->streams->len == 0)
		return ah_req_fail(req, AH_ERR_WRONG_STATE, g_strdup("wrong state (not publishing)"));
	req->reply = ah_req_event("unpublished");
	/* The PeerConnection goes with the streams; publishing again starts a new one. */
	ah_engine_push(req->outs, AH_OUT_CLOSE_PC, p->conn, NULL, AH_JSEP_NONE);
	p->media = FALSE;
	ah_engine_unpublish(req->engine, p, req->outs);
	return AH_ERR_OK;
}

/* A presenter's or backstage monitor's view of its room: how many are in, connecting, queued. */
ah_error ah_req_room_counts(ah_req *req)
{
	ah_participant *p = ah_engine_participant(req->engine, req->conn);
	if (p == NULL)
		return ah_req_fail(req, AH_ERR_WRONG_STATE, g_strdup("wrong state (join as a presenter first)"));
	if (!p->presenter && !p->backstage)
		return AH_ERR_NOT_PRESENTER;
	req->reply = ah_req_event("room_counts");
	json_object_set_new(req->reply, "tenant", json_string(p->room->tenant->id));
	json_object_set_new(req->reply, "room", json_string(p->room->id));
	json_object_set_new(req->reply, "counts", ah_req_counts_json(req->engine, p->room->tenant, p->room));
	return AH_ERR_OK;
}

ah_error ah_req_leave(ah_req *req)
{
	ah_participant *p = ah_engine_participant(req->engine, req->conn);
	if (p == NULL)
		return ah_req_fail(req, AH_ERR_WRONG_STATE, g_strdup("wrong state (not joined)"));
	req->reply = ah_req_event("left");
	ah_engine_remove(req->engine, p, AH_EXIT_LEAVE, req->now, req->outs);
	return AH_ERR_OK;
}

/* A receiver asks for a lower simulcast layer than its room's (or for the room's again). */
ah_error ah_req_set_layer(ah_req *req)
{
	ah_participant *p = ah_engine_participant(req->engine, req->conn);
	int layer, before;
	ah_error err;
	if (p == NULL || !ah_engine_receiving(req->engine, p))
		return ah_req_fail(req, AH_ERR_WRONG_STATE,
			g_strdup("wrong state (only a seated attendee or a backstage monitor receives video)"));
	if ((err = ah_req_layer(req, "layer", &layer)) != AH_ERR_OK)
		return err;
	before = ah_engine_max_layer(p);
	p->layer = layer;
	if (ah_engine_max_layer(p) != before)
		ah_engine_receiver_changed(req->engine, p->conn);
	req->reply = ah_req_event("layer");
	json_object_set_new(req->reply, "layer", json_string(ah_sim_layer_name(ah_engine_max_layer(p))));
	return AH_ERR_OK;
}
