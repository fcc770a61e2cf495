/* allhands: unit tests of the parameter checker (plugin/core/validate.c).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include <glib.h>
#include <jansson.h>

#include "allhands/validate.h"

static const ah_param spec[] = {
	AH_PARAM_ID("room", TRUE),
	AH_PARAM_STR("display", FALSE, 0, 8),
	AH_PARAM_STR("secret", FALSE, 2, 4),
	AH_PARAM_STR("anything", FALSE, 1, 0),
	AH_PARAM_UINT("max_attendees", FALSE, 0, 1000000),
	AH_PARAM_UINT("wave_size", FALSE, 1, 10),
	AH_PARAM_BOOLEAN("flag", FALSE),
	AH_PARAM_OBJ("meta", FALSE),
	AH_PARAM_ARR("list", FALSE),
	AH_PARAM_END
};

/* Check `text` (a JSON object) against `spec`; expect `want` and, if given, the message. */
static void expect(const char *text, ah_error want, const char *want_message)
{
	json_error_t error;
	json_t *object = json_loads(text, 0, &error);
	char *message = (char *)"untouched";
	ah_error err;
	g_assert_nonnull(object);
	err = ah_validate_params(object, spec, &message);
	g_assert_cmpstr(ah_error_name(err), ==, ah_error_name(want));
	if (want == AH_ERR_OK)
		g_assert_null(message);
	else
		g_assert_nonnull(message);
	if (want_message != NULL)
		g_assert_cmpstr(message, ==, want_message);
	g_free(message);
	json_decref(object);
}

static void test_ok(void)
{
	expect("{\"room\": \"all-hands_2024.q1\"}", AH_ERR_OK, NULL);
	expect("{\"room\": \"r\", \"display\": \"Ann\", \"max_attendees\": 0, \"wave_size\": 10, \"flag\": false,"
		" \"extra\": [1, 2], \"secret\": \"ab\", \"list\": [], \"meta\": {}}", AH_ERR_OK, NULL);
}

static void test_missing(void)
{
	expect("{}", AH_ERR_MISSING_ELEMENT, "missing element (room)");
	expect("{\"display\": \"x\"}", AH_ERR_MISSING_ELEMENT, "missing element (room)");
}

static void test_not_an_object(void)
{
	json_t *array = json_array();
	char *message = NULL;
	g_assert_cmpint(ah_validate_params(array, spec, &message), ==, AH_ERR_INVALID_ELEMENT);
	g_assert_nonnull(message);
	g_free(message);
	/* A NULL message pointer is allowed. */
	g_assert_cmpint(ah_validate_params(array, spec, NULL), ==, AH_ERR_INVALID_ELEMENT);
	json_decref(array);
}

static void test_identifier(void)
{
	const char *bad = "invalid element (room: must be 1 to 64 characters of A-Z a-z 0-9 _ - .)";
	char *long_id = g_strnfill(65, 'a'), *text;
	expect("{\"room\": \"\"}", AH_ERR_INVALID_ELEMENT, bad);
	expect("{\"room\": \"a b\"}", AH_ERR_INVALID_ELEMENT, bad);
	expect("{\"room\": \"a/b\"}", AH_ERR_INVALID_ELEMENT, bad);
	expect("{\"room\": \"caf\\u00e9\"}", AH_ERR_INVALID_ELEMENT, bad);
	expect("{\"room\": 12}", AH_ERR_INVALID_ELEMENT, bad);
	expect("{\"room\": null}", AH_ERR_INVALID_ELEMENT, bad);
	text = g_strdup_printf("{\"room\": \"%s\"}", long_id);
	expect(text, AH_ERR_INVALID_ELEMENT, bad);
	g_free(text);
	long_id[64] = '\0';
	text = g_strdup_printf("{\"room\": \"%s\"}", long_id);
	expect(text, AH_ERR_OK, NULL);
	g_free(text);
	g_free(long_id);
	g_assert_true(ah_validate_identifier("A-Z_a-z.0-9"));
	g_assert_false(ah_validate_identifier(NULL));
	g_assert_false(ah_validate_identifier(""));
	g_assert_false(ah_validate_identifier("x\n"));
}

static void test_string(void)
{
	expect("{\"room\": \"r\", \"display\": \"12345678\"}", AH_ERR_OK, NULL);
	expect("{\"room\": \"r\", \"display\": \"123456789\"}", AH_ERR_INVALID_ELEMENT,
		"invalid element (display: must be a string of at most 8 characters)");
	/* Length counts characters, not bytes: 8 two-byte characters fit. */
	expect("{\"room\": \"r\", \"display\": \"\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\"}",
		AH_ERR_OK, NULL);
	expect("{\"room\": \"r\", \"display\": 5}", AH_ERR_INVALID_ELEMENT, NULL);
	expect("{\"room\": \"r\", \"secret\": \"a\"}", AH_ERR_INVALID_ELEMENT,
		"invalid element (secret: must be a string of 2 to 4 characters)");
	expect("{\"room\": \"r\", \"secret\": \"abcde\"}", AH_ERR_INVALID_ELEMENT, NULL);
	expect("{\"room\": \"r\", \"anything\": \"\"}", AH_ERR_INVALID_ELEMENT,
		"invalid element (anything: must be a non-empty string)");
}

static void test_string_with_nul(void)
{
	json_t *object = json_pack("{s:s}", "room", "r");
	char *message = NULL;
	json_object_set_new(object, "display", json_stringn("a\0b", 3));
	g_assert_cmpint(ah_validate_params(object, spec, &message), ==, AH_ERR_INVALID_ELEMENT);
	g_assert_cmpstr(message, ==, "invalid element (display: must be a string of at most 8 characters)");
	g_free(message);
	json_object_set_new(object, "display", json_string("ok"));
	json_object_set_new(object, "room", json_stringn("r\0x", 3));
	g_assert_cmpint(ah_validate_params(object, spec, &message), ==, AH_ERR_INVALID_ELEMENT);
	g_free(message);
	json_decref(object);
}

static void test_uint(void)
{
	const char *bad = "invalid element (max_attendees: must be an integer 0..1000000)";
	expect("{\"room\": \"r\", \"max_attendees\": 1000000}", AH_ERR_OK, NULL);
	expect("{\"room\": \"r\", \"max_attendees\": 1000001}", AH_ERR_INVALID_ELEMENT, bad);
	expect("{\"room\": \"r\", \"max_attendees\": -1}", AH_ERR_INVALID_ELEMENT, bad);
	expect("{\"room\": \"r\", \"max_attendees\": 1.5}", AH_ERR_INVALID_ELEMENT, bad);
	expect("{\"room\": \"r\", \"max_attendees\": 2.0}", AH_ERR_INVALID_ELEMENT, bad);
	expect("{\"room\": \"r\", \"max_attendees\": \"5\"}", AH_ERR_INVALID_ELEMENT, bad);
	expect("{\"room\": \"r\", \"max_attendees\": true}", AH_ERR_INVALID_ELEMENT, bad);
	expect("{\"room\": \"r\", \"max_attendees\": -9223372036854775808}", AH_ERR_INVALID_ELEMENT, bad);
	expect("{\"room\": \"r\", \"wave_size\": 0}", AH_ERR_INVALID_ELEMENT,
		"invalid element (wave_size: must be an integer 1..10)");
	expect("{\"room\": \"r\", \"wave_size\": 1}", AH_ERR_OK, NULL);
	expect("{\"room\": \"r\", \"wave_size\": 11}", AH_ERR_INVALID_ELEMENT, NULL);
}

static void test_bool_object_array(void)
{
	expect("{\"room\": \"r\", \"flag\": true}", AH_ERR_OK, NULL);
	expect("{\"room\": \"r\", \"flag\": 1}", AH_ERR_INVALID_ELEMENT, "invalid element (flag: must be true or false)");
	expect("{\"room\": \"r\", \"meta\": {\"a\": 1}}", AH_ERR_OK, NULL);
	expect("{\"room\": \"r\", \"meta\": []}", AH_ERR_INVALID_ELEMENT, "invalid element (meta: must be an object)");
	expect("{\"room\": \"r\", \"list\": [1]}", AH_ERR_OK, NULL);
	expect("{\"room\": \"r\", \"list\": {}}", AH_ERR_INVALID_ELEMENT, "invalid element (list: must be an array)");
}

static void test_first_error_wins(void)
{
	/* Rows are checked in spec order: the message names the first bad element. */
	expect("{\"room\": \"r\", \"display\": 1, \"flag\": 1}", AH_ERR_INVALID_ELEMENT,
		"invalid element (display: must be a string of at most 8 characters)");
	expect("{\"display\": 1}", AH_ERR_MISSING_ELEMENT, "missing element (room)");
}

static void test_secret_equal(void)
{
	g_assert_true(ah_validate_secret_equal("s3cret", "s3cret"));
	g_assert_false(ah_validate_secret_equal("s3cre", "s3cret"));
	g_assert_false(ah_validate_secret_equal("s3crett", "s3cret"));
	g_assert_false(ah_validate_secret_equal("S3cret", "s3cret"));
	g_assert_false(ah_validate_secret_equal("", "s3cret"));
	g_assert_false(ah_validate_secret_equal(NULL, "s3cret"));
	g_assert_false(ah_validate_secret_equal("x", NULL));
	g_assert_true(ah_validate_secret_equal("", ""));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/validate/spec/accepts-valid", test_ok);
	g_test_add_func("/validate/spec/missing-required", test_missing);
	g_test_add_func("/validate/spec/not-an-object", test_not_an_object);
	g_test_add_func("/validate/spec/first-error-wins", test_first_error_wins);
	g_test_add_func("/validate/identifier/bounds-and-charset", test_identifier);
	g_test_add_func("/validate/string/length-bounds", test_string);
	g_test_add_func("/validate/string/embedded-nul", test_string_with_nul);
	g_test_add_func("/validate/uint/bounds-and-type", test_uint);
	g_test_add_func("/validate/bool-object-array/types", test_bool_object_array);
	g_test_add_func("/validate/secret/constant-time-equal", test_secret_equal);
	return g_test_run();
}
