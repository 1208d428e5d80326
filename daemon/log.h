/*
 * vpcfwd's log: levels and one line per message on stderr. When stderr is
 * the journal (systemd sets JOURNAL_STREAM), each line carries the "<N>"
 * syslog priority prefix journald understands, and no program name (the
 * journal records it); otherwise "vpcfwd: level: message". Not for the
 * packet path, which counts instead of logging (STYLE.md).
 */
#ifndef VPCFW_LOG_H
#define VPCFW_LOG_H

enum log_level { LOG_LVL_ERR = 3, LOG_LVL_WARN = 4, LOG_LVL_INFO = 6, LOG_LVL_DEBUG = 7 };

/* Reads JOURNAL_STREAM and compares it with stderr's device and inode, as
 * sd_journal_stream_fd's documentation asks. Call once at start; messages
 * above max_level are dropped. */
void log_init(const char *progname, enum log_level max_level);
void log_set_level(enum log_level max_level);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
