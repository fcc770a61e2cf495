/* allhands: temporary folders for the state file tests (test-persist*.c).
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef AH_TEST_TMPDIR_FIXTURE_H
#define AH_TEST_TMPDIR_FIXTURE_H

#include <glib.h>
#include <glib/gstdio.h>

/* A fresh folder under the system's temporary folder (g_free). */
static G_GNUC_UNUSED char *tmpdir_new(const char *tmpl)
{
	GError *error = NULL;
	char *dir = g_dir_make_tmp(tmpl, &error);
	g_assert_no_error(error);
	return dir;
}

/* Remove a folder and everything in it (links are removed, never followed). */
static G_GNUC_UNUSED void tmpdir_remove(const char *path)
{
	GDir *dir = g_dir_open(path, 0, NULL);
	const char *name;
	while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
		char *file = g_build_filename(path, name, NULL);
		if (g_file_test(file, G_FILE_TEST_IS_DIR) && !g_file_test(file, G_FILE_TEST_IS_SYMLINK))
			tmpdir_remove(file);
		else
			g_unlink(file);
		g_free(file);
	}
	if (dir != NULL)
		g_dir_close(dir);
	g_rmdir(path);
}

/* How many entries a folder has (a failed or killed save must leave no temporary file). */
static G_GNUC_UNUSED guint tmpdir_count(const char *folder)
{
	GDir *dir = g_dir_open(folder, 0, NULL);
	guint n = 0;
	while (g_dir_read_name(dir) != NULL)
		n++;
	g_dir_close(dir);
	return n;
}

#endif
