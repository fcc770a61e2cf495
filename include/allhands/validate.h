/* allhands: table-driven checks of request parameters (and of the state file's rows).
 *
 * A spec is an array of ah_param rows ended by AH_PARAM_END. ah_validate_params() checks a JSON object
 * against it and returns AH_ERR_OK or the error with a message naming the element, e.g.
 * "missing element (room)" or "invalid element (max_attendees: must be an integer 0..1000000)".
 * Elements not in the spec are ignored. Pure; any thread.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef ALLHANDS_VALIDATE_H
#define ALLHANDS_VALIDATE_H

#include <glib.h>
#include <jansson.h>

#include "allhands/errors.h"

typedef enum {
	AH_PARAM_STRING,     /* UTF-8 string, length in characters within [min, max] (max 0: no limit) */
	AH_PARAM_IDENTIFIER, /* 1-64 characters of A-Z a-z 0-9 _ - . */
	AH_PARAM_UINT,       /* JSON integer within [min, max] */
	AH_PARAM_BOOL,
	AH_PARAM_OBJECT,
	AH_PARAM_ARRAY,
} ah_param_type;

typedef struct {
	const char *name;    /* NULL ends a spec */
	ah_param_type type;
	gboolean required;
	guint64 min;         /* UINT: smallest value; STRING: shortest length */
	guint64 max;         /* UINT: largest value; STRING: longest length (0: no limit) */
} ah_param;

#define AH_PARAM_ID(name, required)              { (name), AH_PARAM_IDENTIFIER, (required), 0, 0 }
#define AH_PARAM_STR(name, required, min, max)   { (name), AH_PARAM_STRING, (required), (min), (max) }
#define AH_PARAM_UINT(name, required, min, max)  { (name), AH_PARAM_UINT, (required), (min), (max) }
#define AH_PARAM_BOOLEAN(name, required)         { (name), AH_PARAM_BOOL, (required), 0, 0 }
#define AH_PARAM_OBJ(name, required)             { (name), AH_PARAM_OBJECT, (required), 0, 0 }
#define AH_PARAM_ARR(name, required)             { (name), AH_PARAM_ARRAY, (required), 0, 0 }
#define AH_PARAM_END                             { NULL, AH_PARAM_STRING, FALSE, 0, 0 }

/* Limits shared by the request table (requests.c) and the state file (persist.c). */
#define AH_ID_MAX_LEN          64
#define AH_CAP_MAX             1000000        /* max_participants, max_attendees, capacity */
#define AH_NAME_MAX_LEN        128            /* tenant name, display */
#define AH_DESCRIPTION_MAX_LEN 256
#define AH_PIN_MAX_LEN         64
#define AH_SECRET_MAX_LEN      256            /* tenant secret, presenter secret, admin_key */
#define AH_PID_MAX             G_GUINT64_CONSTANT(9007199254740991) /* 2^53 - 1: JSON-safe */
/* Minimum lengths of the credentials a request sets (issue 12; docs/security.md). The state file
 * still reads shorter ones written before, so an upgrade never locks anyone out. */
#define AH_TENANT_SECRET_MIN_LEN 16           /* the tenant's admin password */
#define AH_ROOM_SECRET_MIN_LEN   8            /* presenter_secret, priority_secret */
#define AH_PIN_MIN_LEN           4            /* a pin, when set ("" removes it) */

/* Check `object` against `spec`. On failure *message (g_free; may be NULL) names the element. */
ah_error ah_validate_params(const json_t *object, const ah_param *spec, char **message);

/* 1 to 64 characters of A-Z a-z 0-9 _ - . */
gboolean ah_validate_identifier(const char *s);

/* Compare a caller-given secret with the expected one in time that depends only on the expected
 * secret's length. NULL `given` never matches. */
gboolean ah_validate_secret_equal(const char *given, const char *expected);

#endif
