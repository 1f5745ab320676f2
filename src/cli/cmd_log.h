/* Pieces shared by the `keel log` subcommands (cmd_log*.c). */
#ifndef KEEL_CLI_CMD_LOG_H
#define KEEL_CLI_CMD_LOG_H

#include <jansson.h>
#include <stdio.h>

#include "svc/log/log_verify.h"

#define LOG_EXIT_USAGE 4

int cmd_log_show(int argc, char **argv);
/* Hidden, for tests: write a small synthetic log (cmd_log_selftest.c). */
int cmd_log_selftest_write(int argc, char **argv);

void log_print_position(FILE *out, const char *label, const struct log_position *p);
json_t *log_position_json(const struct log_position *p);
json_t *log_report_json(const struct log_verify_report *rep);
/* Warn on stderr when the report's key was DIR/verify.key or missing. */
void log_warn_keys(const char *prog, const char *dir, const struct log_verify_report *rep);

#endif
