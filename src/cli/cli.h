/* Subcommands of the keel executable. */
#ifndef KEEL_CLI_CLI_H
#define KEEL_CLI_CLI_H

int cmd_run(int argc, char **argv);
int cmd_ctl(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_record(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_disk(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_analyze(int argc, char **argv);
int cmd_analyze_taint(int argc, char **argv); /* keel analyze LOG --taint PATH */

#endif
