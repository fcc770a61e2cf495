/* allhands: request parameter checks (include/allhands/validate.h).
 *
 * Owns the rules for element types and bounds, and the constant-time secret compare. Used by the
 * request table (requests.c) and the state file loader (persist.c) so both accept exactly the same
 * values. Pure: no Janus, no clock, no logging, no global state; any thread.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "allhands/validate.h"

typedef gboolean (*type_check)(const json_t *value, const ah_param *param);
typedef char *(*type_describe)(const ah_param *param);

static gboolean check_string(const json_t *value, const ah_param *param)
{
	const char *s;
	glong len;
	if (!json_is_string(value))
		return FALSE;
	s = json_string_value(value);
	/* jansson allows embedded NULs in strings it builds: refuse them, C code cuts at the first. */
	if (strlen(s) != json_string_length(value) || !g_utf8_validate(s, -1, NULL))
		return FALSE;
	len = g_utf8_strlen(s, -1);
	return (guint64)len >= param->min && (param->max == 0 || (guint64)len <= param->max);
}

static gboolean check_identifier(const json_t *value, const ah_param *param)
{
	return json_is_string(value) && strlen(json_string_value(value)) == json_string_length(value) &&
		ah_validate_identifier(json_string_value(value));
}

static gboolean check_uint(const json_t *value, const ah_param *param)
{
	json_int_t v;
	if (!json_is_integer(value))
		return FALSE;
	v = json_integer_value(value);
	return v >= 0 && (guint64)v >= param->min && (guint64)v <= param->max;
}

static gboolean check_bool(const json_t *value, const ah_param *param)
{
	return json_is_boolean(value);
}

static gboolean check_object(const json_t *value, const ah_param *param)
{
	return json_is_object(value);
}

static gboolean check_array(const json_t *value, const ah_param *param)
{
	return json_is_array(value);
}

static char *describe_string(const ah_param *param)
{
	if (param->max == 0 && param->min <= 1)
		return g_strdup(param->min == 1 ? "must be a non-empty string" : "must be a string");
	if (param->max == 0)
		return g_strdup_printf("must be a string of at least %" G_GUINT64_FORMAT " characters", param->min);
	if (param->min == 0)
		return g_strdup_printf("must be a string of at most %" G_GUINT64_FORMAT " characters", param->max);
	return g_strdup_printf("must be a string of %" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT " characters",
		param->min, param->max);
}

static char *describe_identifier(const ah_param *param)
{
	return g_strdup_printf("must be 1 to %d characters of A-Z a-z 0-9 _ - .", AH_ID_MAX_LEN);
}

static char *describe_uint(const ah_param *param)
{
	return g_strdup_printf("must be an integer %" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT, param->min, param->max);
}

static char *describe_bool(const ah_param *param)
{
	return g_strdup("must be true or false");
}

static char *describe_object(const ah_param *param)
{
	return g_strdup("must be an object");
}

static char *describe_array(const ah_param *param)
{
	return g_strdup("must be an array");
}

static const struct {
	type_check check;
	type_describe describe;
} types[] = {
	[AH_PARAM_STRING] = { check_string, describe_string },
	[AH_PARAM_IDENTIFIER] = { check_identifier, describe_identifier },
	[AH_PARAM_UINT] = { check_uint, describe_uint },
	[AH_PARAM_BOOL] = { check_bool, describe_bool },
	[AH_PARAM_OBJECT] = { check_object, describe_object },
	[AH_PARAM_ARRAY] = { check_array, describe_array },
};

static ah_error fail(char **message, ah_error err, char *text)
{
	if (message != NULL)
		*message = text;
	else
		g_free(text);
	return err;
}

ah_error ah_validate_params(const json_t *object, const ah_param *spec, char **message)
{
	if (message != NULL)
		*message = NULL;
	if (!json_is_object(object))
		return fail(message, AH_ERR_INVALID_ELEMENT, g_strdup("invalid element (the message must be a JSON object)"));
	for (const ah_param *p = spec; p->name != NULL; p++) {
		const json_t *value = json_object_get(object, p->name);
		char *why;
		if (value == NULL) {
			if (p->required)
				return fail(message, AH_ERR_MISSING_ELEMENT, g_strdup_printf("missing element (%s)", p->name));
			continue;
		}
		if ((guint)p->type >= G_N_ELEMENTS(types) || types[p->type].check == NULL)
			return fail(message, AH_ERR_INVALID_ELEMENT,
				g_strdup_printf("invalid element (%s: unknown type in spec)", p->name));
		if (types[p->type].check(value, p))
			continue;
		why = types[p->type].describe(p);
		fail(message, AH_ERR_INVALID_ELEMENT, g_strdup_printf("invalid element (%s: %s)", p->name, why));
		g_free(why);
		return AH_ERR_INVALID_ELEMENT;
	}
	return AH_ERR_OK;
}

gboolean ah_validate_identifier(const char *s)
{
	size_t len;
	if (s == NULL)
		return FALSE;
	len = strlen(s);
	if (len < 1 || len > AH_ID_MAX_LEN)
		return FALSE;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.") == len;
}

gboolean ah_validate_secret_equal(const char *given, const char *expected)
{
	size_t glen, elen;
	volatile unsigned char diff;
	if (given == NULL || expected == NULL)
		return FALSE;
	glen = strlen(given);
	elen = strlen(expected);
	diff = glen != elen;
	/* Walk the expected secret whole whatever the given one is, so time tells nothing of where
	 * they differ; reads of `given` stop at its terminator. */
	for (size_t i = 0; i < elen; i++)
		diff |= (unsigned char)expected[i] ^ (unsigned char)(i < glen ? given[i] : 0);
	return diff == 0;
}
