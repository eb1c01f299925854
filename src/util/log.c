#include "util/log.h"

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/sbuf.h"
#include "util/timefmt.h"

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static log_level log_min = LOG_INFO;
static bool log_json;
static FILE *log_out;

static const char *const names[] = { "debug", "info", "warn", "error" };

void log_configure(log_level min, bool json, FILE *out)
{
	pthread_mutex_lock(&log_mu);
	log_min = min;
	log_json = json;
	log_out = out;
	pthread_mutex_unlock(&log_mu);
}

int log_parse_level(const char *s, log_level *ret)
{
	for (int i = 0; i < 4; i++) {
		if (!strcmp(s, names[i]) || (s[0] == '0' + i && !s[1])) {
			*ret = (log_level)i;
			return 0;
		}
	}
	return -1;
}

void log_write(log_level level, const char *controller, const char *key, const char *fmt, ...)
{
	if (level < log_min)
		return;
	sbuf msg = SBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	int formatted = sbuf_vaddf(&msg, fmt, ap);
	va_end(ap);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	char when[40];
	int64_t us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	timefmt_rfc3339_micro(us, when, sizeof when);
	sbuf line = SBUF_INIT;
	if (log_json) {
		json_t *o = json_pack("{s:s, s:s, s:s}", "time", when, "level", names[level], "msg", msg.buf);
		if (o && controller)
			json_object_set_new(o, "controller", json_string(controller));
		if (o && key)
			json_object_set_new(o, "key", json_string(key));
		char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		if (!text || sbuf_addf(&line, "%s\n", text) < 0)
			formatted = -1;
		free(text);
		json_decref(o);
	} else {
		if (sbuf_addf(&line, "%s %-5s %s%s%s%s%s%s\n", when, names[level], controller ? controller : "",
			      controller ? ": " : "", key ? key : "", key ? ": " : "", msg.buf, "") < 0)
			formatted = -1;
	}
	/* A line that could not be built in full is not written in part: say what was lost. */
	static const char lost[] = "log line lost: out of memory\n";
	pthread_mutex_lock(&log_mu);
	FILE *out = log_out ? log_out : stderr;
	if (formatted < 0)
		fwrite(lost, 1, sizeof lost - 1, out);
	else
		fwrite(line.buf, 1, line.len, out);
	fflush(out);
	pthread_mutex_unlock(&log_mu);
	sbuf_release(&line);
	sbuf_release(&msg);
}
