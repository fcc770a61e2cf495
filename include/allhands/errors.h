/* allhands: the error table.
 *
 * Every error the plugin can answer with is one row here: its enum, its stable wire code, its
 * stable name and its default message. Nothing else in the project writes an error number.
 * The wire codes are part of the public API (docs/api.md): never renumber a row, only add.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef ALLHANDS_ERRORS_H
#define ALLHANDS_ERRORS_H

#define AH_ERROR_MAP(X) \
	X(OK,                 0, "ok",                  "Success") \
	X(NO_MESSAGE,       600, "no_message",          "Missing message body") \
	X(INVALID_JSON,     601, "invalid_json",        "The message is not a JSON object") \
	X(MISSING_REQUEST,  602, "missing_request",     "Missing \"request\"") \
	X(UNKNOWN_REQUEST,  603, "unknown_request",     "Unknown request") \
	X(MISSING_ELEMENT,  604, "missing_element",     "A required element is missing") \
	X(INVALID_ELEMENT,  605, "invalid_element",     "An element has the wrong type or value") \
	X(UNAUTHORIZED,     606, "unauthorized",        "Missing or wrong admin_key or tenant secret") \
	X(FORBIDDEN,        607, "forbidden",           "The credentials do not allow this request") \
	X(NO_SUCH_TENANT,   608, "no_such_tenant",      "No such tenant") \
	X(TENANT_EXISTS,    609, "tenant_exists",       "A tenant with this id already exists") \
	X(NO_SUCH_ROOM,     610, "no_such_room",        "No such room") \
	X(ROOM_EXISTS,      611, "room_exists",         "A room with this id already exists for this tenant") \
	X(WRONG_PIN,        612, "wrong_pin",           "Wrong or missing room pin") \
	X(WRONG_SECRET,     613, "wrong_secret",        "Wrong or missing presenter secret") \
	X(WRONG_STATE,      614, "wrong_state",         "The request is not valid in the participant's current state") \
	X(NO_SUCH_PARTICIPANT, 615, "no_such_participant", "No such participant") \
	X(INVALID_JSEP,     616, "invalid_jsep",        "Missing, unexpected or invalid JSEP/SDP") \
	X(TENANT_FULL,      617, "tenant_full",         "The tenant is at its participant cap") \
	X(NOT_PRESENTER,    618, "not_presenter",       "Only presenters can publish") \
	X(PERSIST_FAILED,   619, "persist_failed",      "The change was applied but could not be saved") \
	X(UNAVAILABLE,      620, "unavailable",         "The plugin is shutting down or not ready") \
	X(INVALID_SCHEDULE, 621, "invalid_schedule",    "Invalid schedule") \
	X(UNKNOWN_TIMEZONE, 622, "unknown_timezone",    "Unknown time zone") \
	X(ROOM_CLOSED,      623, "room_closed",         "The room is closed: it is outside its scheduled windows") \
	X(QUEUE_FULL,       624, "queue_full",          "The queue is full: try again after retry_after_ms") \
	X(DRAINING,         625, "draining",            "This node is draining: join another node") \
	X(TOKEN_REQUIRED,   626, "token_required",      "This room needs a join token") \
	X(TOKEN_MALFORMED,  627, "token_malformed",     "The join token is not a well-formed JWT") \
	X(TOKEN_TOO_LARGE,  628, "token_too_large",     "The join token is too large") \
	X(TOKEN_ALGORITHM,  629, "token_algorithm",     "The join token's algorithm is not accepted") \
	X(TOKEN_SIGNATURE,  630, "token_signature",     "The join token's signature does not verify") \
	X(TOKEN_EXPIRED,    631, "token_expired",       "The join token has expired") \
	X(TOKEN_NOT_YET_VALID, 632, "token_not_yet_valid", "The join token is not valid yet") \
	X(TOKEN_WRONG_TENANT, 633, "token_wrong_tenant", "The join token is for another tenant") \
	X(TOKEN_WRONG_ROOM, 634, "token_wrong_room",    "The join token is for another room") \
	X(TOKEN_CLAIMS,     635, "token_claims",        "The join token lacks a claim or has an invalid one") \
	X(REQUEST_TOO_LARGE, 636, "request_too_large",  "The request is too large") \
	X(RATE_LIMITED,     637, "rate_limited",        "Too many requests on this handle: slow down") \
	X(TOO_MANY_HANDLES, 638, "too_many_handles",    "Too many allhands handles in this Janus session") \
	X(TOO_MANY_FAILURES, 650, "too_many_failures", "Too many failed credential attempts: try again after retry_after_ms") \
	X(TOO_MANY_QUEUED,  651, "too_many_queued",     "This Janus session already holds the most queued joins allowed") \
	X(CLUSTER_UNAVAILABLE, 652, "cluster_unavailable", "The cluster's seat ledger (Redis) cannot be reached: try again after retry_after_ms") \
	X(TICKET_INVALID,   670, "ticket_invalid",      "The redirect ticket is malformed or its signature does not verify") \
	X(TICKET_EXPIRED,   671, "ticket_expired",      "The redirect ticket has expired: join again where you first joined") \
	X(TICKET_USED,      672, "ticket_used",         "The redirect ticket was used already") \
	X(TICKET_MISMATCH,  673, "ticket_mismatch",     "The redirect ticket is for another tenant, room, node or participant type") \
	X(HOME_UNAVAILABLE, 674, "home_unavailable",    "The room's home node is not reachable: try again after retry_after_ms") \
	X(NOT_CLUSTERED,    675, "not_clustered",       "This node is not in cluster mode") \
	X(TICKETS_FULL,     676, "tickets_full",        "This node holds too many unexpired redirect tickets: try again after retry_after_ms") \
	X(INTERNAL,         699, "internal",            "Internal error")

typedef enum {
#define AH_ERROR_ENUM(sym, code, name, msg) AH_ERR_##sym,
	AH_ERROR_MAP(AH_ERROR_ENUM)
#undef AH_ERROR_ENUM
	AH_ERR__COUNT
} ah_error;

/* The stable wire code of an error (0 for AH_ERR_OK). */
int ah_error_code(ah_error err);
/* The stable snake_case name, e.g. "no_such_room". */
const char *ah_error_name(ah_error err);
/* The default human-readable message. */
const char *ah_error_message(ah_error err);
/* Reverse lookup by wire code; returns AH_ERR__COUNT when unknown. */
ah_error ah_error_from_code(int code);

#endif
