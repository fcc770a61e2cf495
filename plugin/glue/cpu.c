/* allhands: what the process may use and has used of the CPUs, for adaptive waves (the control thread
 * samples it once a second): getrusage for every Janus thread; the CPUs are the process's affinity
 * mask, or a cgroup CPU limit when that is lower (a container's --cpus, systemd's CPUQuota=). Reads
 * /proc and the cgroup file system. Its one piece of state, the meter of ah_cpu_sample, belongs to
 * the control thread; the rest has none and runs on any thread.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "ah-config.h"

#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "glue.h"

gint64 ah_process_cpu_us(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return -1;
	return (gint64)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * G_USEC_PER_SEC + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

/* The CPUs a CFS bandwidth limit in `dir` (a cgroup folder) allows, 0 when it sets none. v2:
 * cpu.max "<quota> <period>" or "max <period>"; v1: cpu.cfs_quota_us (-1: none) / cpu.cfs_period_us. */
static double cgroup_dir_limit(const char *dir, gboolean v2)
{
	char *a = NULL, *b = NULL;
	double limit = 0;
	if (v2) {
		char *path = g_build_filename(dir, "cpu.max", NULL);
		if (g_file_get_contents(path, &a, NULL, NULL)) {
			long long quota = 0, period = 0;
			if (sscanf(a, "%lld %lld", &quota, &period) == 2 && quota > 0 && period > 0)
				limit = (double)quota / (double)period;
		}
		g_free(path);
	} else {
		char *qpath = g_build_filename(dir, "cpu.cfs_quota_us", NULL), *ppath = g_build_filename(dir, "cpu.cfs_period_us", NULL);
		if (g_file_get_contents(qpath, &a, NULL, NULL) && g_file_get_contents(ppath, &b, NULL, NULL)) {
			long long quota = g_ascii_strtoll(a, NULL, 10), period = g_ascii_strtoll(b, NULL, 10);
			if (quota > 0 && period > 0)
				limit = (double)quota / (double)period;
		}
		g_free(qpath);
		g_free(ppath);
	}
	g_free(a);
	g_free(b);
	return limit;
}

/* The CPUs the process's cgroup lets it use (a container's CPU limit, systemd's CPUQuota=): the
 * smallest CFS limit on its cgroup or an ancestor, 0 when there is none. Read from /proc/self/cgroup
 * and the cgroup file system (v2, or v1's cpu controller). */
static double cgroup_cpu_limit(void)
{
	char *self = NULL;
	if (!g_file_get_contents("/proc/self/cgroup", &self, NULL, NULL))
		return 0;
	double limit = 0;
	gchar **lines = g_strsplit(self, "\n", -1);
	for (gchar **line = lines; *line != NULL; line++) {
		gchar **f = g_strsplit(*line, ":", 3);
		if (g_strv_length(f) == 3 && f[2][0] == '/') {
			gboolean v2 = strcmp(f[0], "0") == 0 && f[1][0] == '\0';
			gchar **controllers = g_strsplit(f[1], ",", -1);
			gboolean cpu_v1 = !v2 && g_strv_contains((const gchar *const *)controllers, "cpu");
			g_strfreev(controllers);
			if (v2 || cpu_v1) {
				char *dir = g_build_filename(v2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/cpu", f[2], NULL);
				/* Walk up to the root: a parent's limit binds too. */
				for (;;) {
					double l = cgroup_dir_limit(dir, v2);
					if (l > 0 && (limit == 0 || l < limit))
						limit = l;
					char *up = g_path_get_dirname(dir);
					gboolean top = strcmp(up, dir) == 0 || strcmp(up, "/sys/fs") == 0 || strcmp(up, "/sys/fs/cgroup") == 0;
					g_free(dir);
					dir = up;
					if (top)
						break;
				}
				g_free(dir);
			}
		}
		g_strfreev(f);
	}
	g_strfreev(lines);
	g_free(self);
	return limit;
}

/* The CPUs the process may use: its affinity mask, or less under a cgroup CPU limit. */
double ah_usable_cpus(void)
{
	cpu_set_t set;
	int n = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 0;
	double cpus = n > 0 ? n : 1;
	double limit = cgroup_cpu_limit();
	return limit > 0 && limit < cpus ? limit : cpus;
}

#define CPU_PERIOD_US G_USEC_PER_SEC

static struct {
	gint64 at;       /* monotonic time of the last sample, 0: none */
	gint64 used_us;  /* user + system time then */
} meter;

double ah_cpu_sample(gint64 now)
{
	gint64 used;
	double fraction = -1;
	if (meter.at != 0 && now - meter.at < CPU_PERIOD_US)
		return -1;
	used = ah_process_cpu_us();
	if (used < 0)
		return -1;
	if (meter.at != 0)
		fraction = (double)(used - meter.used_us) / (double)(now - meter.at) / ah_usable_cpus();
	meter.at = now;
	meter.used_us = used;
	return fraction;
}
