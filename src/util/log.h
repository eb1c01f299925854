/*
 * log — structured logs: one JSON object per line (time, level, msg, and
 * controller / key when given), or a readable text line. Thread-safe; lines
 * are written whole. Defaults: info level, text, standard error.
 */
#ifndef MEMSHACK_UTIL_LOG_H
#define MEMSHACK_UTIL_LOG_H

#include <stdbool.h>
#include <stdio.h>

typedef enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR } log_level;

void log_configure(log_level min, bool json, FILE *out);
/* "debug", "info", "warn", "error" (or 0..3). Returns 0, or -1 if unknown. */
int log_parse_level(const char *s, log_level *ret);

/* controller and key may be NULL. */
void log_write(log_level level, const char *controller, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define log_debug(...) log_write(LOG_DEBUG, NULL, NULL, __VA_ARGS__)
#define log_info(...) log_write(LOG_INFO, NULL, NULL, __VA_ARGS__)
#define log_warn(...) log_write(LOG_WARN, NULL, NULL, __VA_ARGS__)
#define log_error(...) log_write(LOG_ERROR, NULL, NULL, __VA_ARGS__)

#endif
