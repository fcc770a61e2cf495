/* allhands: checking a recurring schedule's RRULE once, so that no query on it can stall the control
 * thread (plugin/core/schedule-private.h). Pure: no Janus, no clock, no logging. Control thread only.
 *
 * DESIGN. libical expands recurrences, and some of its loops are bounded only by its own limits:
 *   - a candidate that a BY part filters out (BYMONTH in a DAILY rule...) costs ~2.5 us and the filter
 *     runs until a candidate passes, the rule's UNTIL or the year 2582 (FREQ=HOURLY;BYMONTH=2;
 *     BYMONTHDAY=30: 5 million hours, 15 s);
 *   - MONTHLY and YEARLY rules expand one period (month, year) at a time, ~10 us each, and look for
 *     the next period with a day in it up to the year 20000, checking neither UNTIL nor 2582
 *     (FREQ=MONTHLY;BYDAY=-53MO: 216,000 months, 0.4-2.3 s inside icalrecur_iterator_new).
 * So every rule kept here has
 *   - a horizon: a query never looks further than it past its `from` (the UNTIL libical is given is
 *     clamped to it), chosen from the rule's shape so that at most ~WORK candidates, MONTHS months or YEARS years
 *     lie within it;
 *   - for MONTHLY and YEARLY, a proof that the periods it visits have days: every kind of period the
 *     series reaches (a month is known by its length and first weekday, a year by leap-ness and
 *     first weekday; the Gregorian calendar repeats every 400 years) is probed once with libical
 *     itself, with an INTERVAL so large that a probe costs a few periods; then the longest run of
 *     empty periods must be at most MAX_GAP;
 *   - a COUNT turned into the UNTIL of its last occurrence, found by one walk from DTSTART within the
 *     horizon, so that later queries can start near their `from` (libical cannot skip ahead with COUNT).
 * What cannot be made so is refused with the reason, before libical iterates anything unbounded.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <math.h>
#include <string.h>

#include "allhands/schedule.h"
#include "schedule-private.h"

/* Candidates a query may meet within the horizon (HOURLY, DAILY, WEEKLY): ~10 ms of libical. */
#define WORK 1500.0
/* Periods within the horizon of a MONTHLY or YEARLY rule (each expansion ~10-30 us). */
#define MONTHS 200
#define YEARS 200
/* Longest run of periods without a day that a MONTHLY or YEARLY rule may have. */
#define MAX_GAP 64
/* Start times a day may have (BYHOUR x BYMINUTE x BYSECOND; HOURLY: hours x BYMINUTE x BYSECOND). */
#define MAX_PER_DAY 96
/* The last year libical iterates to (its MAX_TIME_T_YEAR on 64-bit systems). */
#define LAST_YEAR 2582
#define MAX_HORIZON_S (G_GINT64_CONSTANT(600) * 366 * 86400)
#define NO_VALUE ICAL_RECURRENCE_ARRAY_MAX

static guint64 steps;

guint64 ah_schedule_steps(void)
{
	return steps;
}

icalrecur_iterator *ah_rule_iterator(const struct icalrecurrencetype *rule, struct icaltimetype dt)
{
	steps++;
	return icalrecur_iterator_new(*rule, dt);
}

void ah_rule_set_start(icalrecur_iterator *it, struct icaltimetype start)
{
	steps++;
	(void)icalrecur_iterator_set_start(it, start);
}

struct icaltimetype ah_rule_next(icalrecur_iterator *it)
{
	steps++;
	return icalrecur_iterator_next(it);
}

static ah_error refuse(char **message, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static ah_error refuse(char **message, const char *fmt, ...)
{
	va_list ap;
	char *why;
	va_start(ap, fmt);
	why = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (message != NULL)
		*message = g_strdup_printf("invalid schedule (rrule: %s)", why);
	g_free(why);
	return AH_ERR_INVALID_SCHEDULE;
}

/* --- Calendar arithmetic (proleptic Gregorian, H. Hinnant's days_from_civil). */

gint64 ah_civil_days(int year, int month, int day)
{
	gint64 y = year - (month <= 2);
	gint64 era = (y >= 0 ? y : y - 399) / 400;
	gint64 yoe = y - era * 400;
	gint64 doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
	gint64 doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

gint64 ah_naive_seconds(struct icaltimetype t)
{
	return ah_civil_days(t.year, t.month, t.day) * 86400 + t.hour * 3600 + t.minute * 60 + t.second;
}

/* 0 = Sunday .. 6 = Saturday. */
static int weekday(int year, int month, int day)
{
	return (int)(((ah_civil_days(year, month, day) % 7) + 11) % 7);
}

static int leap(int year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int count_of(const short *values, int size)
{
	int n = 0;
	while (n < size && values[n] != NO_VALUE)
		n++;
	return n;
}

#define COUNT_OF(array) count_of(array, (int)G_N_ELEMENTS(array))

/* --- Shape: what is refused before libical runs. */

static int compare_shorts(const void *a, const void *b)
{
	return *(const short *)a - *(const short *)b;
}

/* libical walks BYHOUR, BYMINUTE and BYSECOND in the order written (BYMINUTE=30,0 would go back in
 * time) and repeats a value written twice: sort them and drop repeats, as the sets they are. BYDAY
 * comes sorted from libical's parser; repeats are dropped too. */
static void normalize(short *values, int size, gboolean sort)
{
	int n = count_of(values, size), kept = 0;
	if (sort)
		qsort(values, (size_t)n, sizeof(short), compare_shorts);
	for (int i = 0; i < n; i++) {
		gboolean seen = FALSE;
		for (int j = 0; j < kept && !seen; j++)
			seen = values[j] == values[i];
		if (!seen)
			values[kept++] = values[i];
	}
	for (int i = kept; i < n; i++)
		values[i] = NO_VALUE;
}

static ah_error check_shape(const struct icalrecurrencetype *r, double *per_day, char **message)
{
	int nh = MAX(COUNT_OF(r->by_hour), 1), nm = MAX(COUNT_OF(r->by_minute), 1);
	int ns = MAX(COUNT_OF(r->by_second), 1);
	if (r->rscale != NULL || r->skip != ICAL_SKIP_OMIT)
		return refuse(message, "RSCALE and SKIP are not supported");
	if (r->count > 0 && !icaltime_is_null_time(r->until))
		return refuse(message, "COUNT and UNTIL together");
	if (r->count < 0 || r->count > AH_SCHEDULE_MAX_COUNT)
		return refuse(message, "COUNT is at most %d, use UNTIL for a longer series", AH_SCHEDULE_MAX_COUNT);
	if (r->interval < 1)
		return refuse(message, "INTERVAL must be at least 1");
	*per_day = r->freq == ICAL_HOURLY_RECURRENCE ? ceil(24.0 / r->interval) * nm * ns : (double)nh * nm * ns;
	if (*per_day > MAX_PER_DAY)
		return refuse(message, "at most %d start times a day", MAX_PER_DAY);
	for (int i = 0; i < COUNT_OF(r->by_day); i++) {
		int pos = abs(icalrecurrencetype_day_position(r->by_day[i]));
		gboolean in_month = r->freq == ICAL_MONTHLY_RECURRENCE || r->by_month[0] != NO_VALUE;
		if (pos > (in_month ? 5 : 53))
			return refuse(message, "a BYDAY position beyond %d never occurs", in_month ? 5 : 53);
	}
	/* RFC 5545 3.3.10 (libical refuses them too, but only once it iterates). */
	if (r->by_week_no[0] != NO_VALUE && r->freq != ICAL_YEARLY_RECURRENCE)
		return refuse(message, "BYWEEKNO is only for FREQ=YEARLY");
	if (r->by_year_day[0] != NO_VALUE && r->freq >= ICAL_DAILY_RECURRENCE && r->freq <= ICAL_MONTHLY_RECURRENCE)
		return refuse(message, "BYYEARDAY is not for FREQ=DAILY, WEEKLY or MONTHLY");
	if (r->by_month_day[0] != NO_VALUE && r->freq == ICAL_WEEKLY_RECURRENCE)
		return refuse(message, "BYMONTHDAY is not for FREQ=WEEKLY");
	if (r->freq == ICAL_YEARLY_RECURRENCE && r->by_week_no[0] != NO_VALUE && r->by_day[0] == NO_VALUE)
		return refuse(message, "BYWEEKNO needs BYDAY");
	return AH_ERR_OK;
}

/* How far past `from` a query looks: WORK candidates, MONTHS months or YEARS years. */
static gint64 horizon_of(const struct icalrecurrencetype *r, double per_day)
{
	double days;
	switch (r->freq) {
	case ICAL_HOURLY_RECURRENCE:
	case ICAL_DAILY_RECURRENCE:
		days = WORK / per_day * (r->freq == ICAL_DAILY_RECURRENCE ? r->interval : 1);
		break;
	case ICAL_WEEKLY_RECURRENCE:
		days = 7 * WORK * r->interval / (per_day * MAX(COUNT_OF(r->by_day), 1));
		break;
	case ICAL_MONTHLY_RECURRENCE:
		/* libical expands only the months in BYMONTH. */
		days = MONTHS * 30.44 * r->interval * 12 / (r->by_month[0] != NO_VALUE ? COUNT_OF(r->by_month) : 12);
		break;
	default:
		days = YEARS * 365.25 * r->interval;
		break;
	}
	return (gint64)MIN(days * 86400, (double)MAX_HORIZON_S);
}

/* --- MONTHLY and YEARLY: the periods the series visits have days. */

static void set_one(short *values, int value)
{
	values[0] = (short)value;
	values[1] = NO_VALUE;
}

/* Whether libical's expansion of the month (MONTHLY) or year (YEARLY) `year`-`month` has a day.
 * The probe starts at the period's first day with the defaults libical takes from DTSTART made
 * explicit, and an INTERVAL that puts the next period past the year 20000, so it costs a few
 * expansions whatever the answer. */
static gboolean period_has_days(struct icalrecurrencetype r, struct icaltimetype dt, int year, int month)
{
	struct icaltimetype start = icaltime_null_time(), t;
	gboolean monthly = r.freq == ICAL_MONTHLY_RECURRENCE;
	icalrecur_iterator *it;
	r.count = 0;
	r.until = icaltime_null_time();
	r.interval = 30000;
	if (r.by_hour[0] == NO_VALUE)
		set_one(r.by_hour, dt.hour);
	if (r.by_minute[0] == NO_VALUE)
		set_one(r.by_minute, dt.minute);
	if (r.by_second[0] == NO_VALUE)
		set_one(r.by_second, dt.second);
	start.year = year, start.month = monthly ? month : 1, start.day = 1;
	if (monthly && r.by_month_day[0] == NO_VALUE && r.by_day[0] == NO_VALUE)
		set_one(r.by_month_day, dt.day);
	if (!monthly && r.by_year_day[0] == NO_VALUE && r.by_week_no[0] == NO_VALUE && r.by_day[0] == NO_VALUE) {
		if (r.by_month[0] == NO_VALUE)
			set_one(r.by_month, dt.month);
		if (r.by_month_day[0] == NO_VALUE)
			set_one(r.by_month_day, dt.day);
	}
	/* BYDAY and BYMONTHDAY without BYMONTH: the days are in DTSTART's month (libical's default). */
	if (!monthly && r.by_day[0] != NO_VALUE && r.by_month_day[0] != NO_VALUE && r.by_month[0] == NO_VALUE)
		start.month = dt.month;
	start.zone = dt.zone;
	if ((it = ah_rule_iterator(&r, start)) == NULL)
		return FALSE;
	t = ah_rule_next(it);
	icalrecur_iterator_free(it);
	return !icaltime_is_null_time(t) && (monthly ? t.year == year && t.month == month : t.year <= year + 1);
}

/* The kind of a period: all its expansion depends on (BYMONTH is applied by the walk). */
static int period_kind(gboolean monthly, int year, int month)
{
	if (!monthly)
		return leap(year) * 7 + weekday(year, 1, 1);
	return (icaltime_days_in_month(month, year) - 28) * 7 + weekday(year, month, 1);
}

static gboolean month_listed(const struct icalrecurrencetype *r, int month)
{
	if (r->by_month[0] == NO_VALUE)
		return TRUE;
	for (int i = 0; i < COUNT_OF(r->by_month); i++)
		if (r->by_month[i] == month)
			return TRUE;
	return FALSE;
}

/* Walk the periods the series reaches from DTSTART for two calendar cycles (the same days repeat
 * every 400 years), probing each kind of period once; refuse a series whose periods never have a
 * day, or that has more than MAX_GAP empty periods in a row. A MONTHLY series' months outside
 * BYMONTH are not expanded by libical (but DTSTART's own month is). */
static ah_error check_periods(const struct icalrecurrencetype *r, struct icaltimetype dt, char **message)
{
	gboolean monthly = r->freq == ICAL_MONTHLY_RECURRENCE;
	signed char known[4 * 7];
	gint64 index = monthly ? (gint64)dt.year * 12 + dt.month - 1 : dt.year, n = 2 * (monthly ? 4800 : 400);
	int gap = 0, worst = 0;
	gboolean any = FALSE;
	memset(known, -1, sizeof(known));
	for (gint64 k = 0; k < n && worst <= MAX_GAP; k++, index += r->interval) {
		int year = (int)(monthly ? index / 12 : index), month = monthly ? (int)(index % 12) + 1 : 1;
		int kind = period_kind(monthly, year, month);
		gboolean listed = !monthly || month_listed(r, month);
		if (!listed && k > 0)
			continue;
		if (listed && known[kind] < 0)
			known[kind] = (signed char)period_has_days(*r, dt, year - 400 * ((MAX(year, LAST_YEAR) - LAST_YEAR + 399) / 400), month);
		if (listed && known[kind]) {
			any = TRUE;
			gap = 0;
		} else {
			worst = MAX(worst, ++gap);
		}
	}
	if (worst > MAX_GAP)
		return refuse(message, "more than %d %s in a row without a meeting", MAX_GAP, monthly ? "months" : "years");
	return any ? AH_ERR_OK : refuse(message, "it never occurs");
}

/* --- COUNT: the UNTIL of the last occurrence. */

static ah_error resolve_count(ah_rule *out, struct icaltimetype dt, char **message)
{
	struct icalrecurrencetype r = out->rule;
	struct icaltimetype last = icaltime_null_time(), t;
	icalrecur_iterator *it;
	int got = 0;
	r.until = dt;
	icaltime_adjust(&r.until, (int)(out->horizon_s / 86400), 0, 0, 0);
	if ((it = ah_rule_iterator(&r, dt)) == NULL)
		return refuse(message, "libical cannot expand it");
	while (got < r.count && !icaltime_is_null_time(t = ah_rule_next(it))) {
		last = t;
		got++;
	}
	icalrecur_iterator_free(it);
	if (got < r.count && r.until.year <= LAST_YEAR)
		return refuse(message, "COUNT=%d reaches further than %" G_GINT64_FORMAT " days from DTSTART, use UNTIL",
			r.count, out->horizon_s / 86400);
	out->rule.count = 0;
	out->rule.until = got > 0 ? last : dt;
	return AH_ERR_OK;
}

ah_error ah_rule_parse(const char *text, struct icaltimetype dt, ah_rule *out, char **message)
{
	double per_day = 1;
	ah_error err;
	icalerror_clear_errno();
	out->rule = icalrecurrencetype_from_string(text);
	if (out->rule.rscale != NULL) {
		/* libical copies RSCALE's value; the caller owns it. */
		free(out->rule.rscale);
		out->rule.rscale = NULL;
		return refuse(message, "RSCALE and SKIP are not supported");
	}
	if (out->rule.freq == ICAL_NO_RECURRENCE || icalerrno != ICAL_NO_ERROR) {
		icalerror_clear_errno();
		return refuse(message, "cannot parse \"%s\"", text);
	}
	if (out->rule.freq == ICAL_SECONDLY_RECURRENCE || out->rule.freq == ICAL_MINUTELY_RECURRENCE)
		return refuse(message, "FREQ=SECONDLY and MINUTELY are not supported");
	normalize(out->rule.by_hour, (int)G_N_ELEMENTS(out->rule.by_hour), TRUE);
	normalize(out->rule.by_minute, (int)G_N_ELEMENTS(out->rule.by_minute), TRUE);
	normalize(out->rule.by_second, (int)G_N_ELEMENTS(out->rule.by_second), TRUE);
	normalize(out->rule.by_day, (int)G_N_ELEMENTS(out->rule.by_day), FALSE);
	if ((err = check_shape(&out->rule, &per_day, message)) != AH_ERR_OK)
		return err;
	out->horizon_s = horizon_of(&out->rule, per_day);
	if ((out->rule.freq == ICAL_MONTHLY_RECURRENCE || out->rule.freq == ICAL_YEARLY_RECURRENCE) &&
		(err = check_periods(&out->rule, dt, message)) != AH_ERR_OK)
		return err;
	if (out->rule.count > 0)
		return resolve_count(out, dt, message);
	return AH_ERR_OK;
}
