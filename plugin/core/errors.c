/* allhands: error table lookups, generated from AH_ERROR_MAP (include/allhands/errors.h).
 * Pure; any thread.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "allhands/errors.h"

static const struct {
	int code;
	const char *name;
	const char *message;
} error_rows[] = {
#define AH_ERROR_ROW(sym, code, name, msg) { code, name, msg },
	AH_ERROR_MAP(AH_ERROR_ROW)
#undef AH_ERROR_ROW
};

static int in_range(ah_error err)
{
	return (int)err >= 0 && err < AH_ERR__COUNT;
}

int ah_error_code(ah_error err)
{
	return in_range(err) ? error_rows[err].code : error_rows[AH_ERR_INTERNAL].code;
}

const char *ah_error_name(ah_error err)
{
	return in_range(err) ? error_rows[err].name : error_rows[AH_ERR_INTERNAL].name;
}

const char *ah_error_message(ah_error err)
{
	return in_range(err) ? error_rows[err].message : error_rows[AH_ERR_INTERNAL].message;
}

ah_error ah_error_from_code(int code)
{
	for (int i = 0; i < AH_ERR__COUNT; i++)
		if (error_rows[i].code == code)
			return (ah_error)i;
	return AH_ERR__COUNT;
}
