/* allhands: unit tests of the error table (include/allhands/errors.h, plugin/core/errors.c).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include <glib.h>

#include "allhands/errors.h"

static void test_codes_unique(void)
{
	for (int i = 0; i < AH_ERR__COUNT; i++)
		for (int j = i + 1; j < AH_ERR__COUNT; j++)
			g_assert_cmpint(ah_error_code(i), !=, ah_error_code(j));
}

static void test_names_unique(void)
{
	for (int i = 0; i < AH_ERR__COUNT; i++)
		for (int j = i + 1; j < AH_ERR__COUNT; j++)
			g_assert_cmpstr(ah_error_name(i), !=, ah_error_name(j));
}

static void test_rows_well_formed(void)
{
	for (int i = 0; i < AH_ERR__COUNT; i++) {
		const char *name = ah_error_name(i);
		g_assert_nonnull(name);
		g_assert_nonnull(ah_error_message(i));
		g_assert_cmpuint(strlen(ah_error_message(i)), >, 0);
		/* snake_case: the wire names are part of the API */
		g_assert_cmpuint(strspn(name, "abcdefghijklmnopqrstuvwxyz_"), ==, strlen(name));
		g_assert_cmpuint(strlen(name), >, 0);
		/* application errors live in 600..699, OK is 0 */
		if (i == AH_ERR_OK)
			g_assert_cmpint(ah_error_code(i), ==, 0);
		else
			g_assert_cmpint(ah_error_code(i), >=, 600);
		g_assert_cmpint(ah_error_code(i), <=, 699);
	}
}

static void test_codes_increase(void)
{
	/* Rows are only ever added at the end (before INTERNAL): codes grow down the table. */
	for (int i = 1; i < AH_ERR__COUNT; i++)
		g_assert_cmpint(ah_error_code(i - 1), <, ah_error_code(i));
}

static void test_lookups(void)
{
	g_assert_cmpint(ah_error_code(AH_ERR_NO_SUCH_ROOM), ==, 610);
	g_assert_cmpstr(ah_error_name(AH_ERR_NO_SUCH_ROOM), ==, "no_such_room");
	g_assert_cmpint(ah_error_code(AH_ERR_UNAUTHORIZED), ==, 606);
	g_assert_cmpint(ah_error_code(AH_ERR_FORBIDDEN), ==, 607);
	g_assert_cmpint(ah_error_code(AH_ERR_PERSIST_FAILED), ==, 619);
	g_assert_cmpint(ah_error_code(AH_ERR_INTERNAL), ==, 699);
	g_assert_cmpstr(ah_error_name(AH_ERR_OK), ==, "ok");
	for (int i = 0; i < AH_ERR__COUNT; i++)
		g_assert_cmpint(ah_error_from_code(ah_error_code(i)), ==, i);
}

static void test_unknown(void)
{
	g_assert_cmpint(ah_error_from_code(1), ==, AH_ERR__COUNT);
	g_assert_cmpint(ah_error_from_code(-600), ==, AH_ERR__COUNT);
	g_assert_cmpint(ah_error_from_code(698), ==, AH_ERR__COUNT);
	/* Out-of-range enums fall back to INTERNAL rather than reading past the table. */
	g_assert_cmpint(ah_error_code(AH_ERR__COUNT), ==, 699);
	g_assert_cmpint(ah_error_code((ah_error)-1), ==, 699);
	g_assert_cmpstr(ah_error_name(AH_ERR__COUNT + 5), ==, "internal");
	g_assert_cmpstr(ah_error_message(AH_ERR__COUNT), ==, ah_error_message(AH_ERR_INTERNAL));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/errors/table/codes-unique", test_codes_unique);
	g_test_add_func("/errors/table/names-unique", test_names_unique);
	g_test_add_func("/errors/table/rows-well-formed", test_rows_well_formed);
	g_test_add_func("/errors/table/codes-increase", test_codes_increase);
	g_test_add_func("/errors/lookup/by-enum-and-code", test_lookups);
	g_test_add_func("/errors/lookup/unknown", test_unknown);
	return g_test_run();
}
