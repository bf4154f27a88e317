/* The gevo command line: every subcommand is one entry in tui/main.c's
 * table, implemented by the layer that owns it. Each returns the process
 * exit status (0 ok, 1 failure the user caused or a check that failed,
 * 2 usage error). */
#ifndef GEVO_TUI_COMMANDS_H
#define GEVO_TUI_COMMANDS_H

#include "core/cmd_run.h"
#include "engine/engine_cmd.h"
int core_cmd_new(int argc, char **argv);     /* core/cmd_session.c */
int core_cmd_log(int argc, char **argv);     /* core/cmd_session.c */
int core_cmd_show(int argc, char **argv);    /* core/cmd_session.c */
int core_cmd_export(int argc, char **argv);  /* core/cmd_session.c */
int core_cmd_propose(int argc, char **argv); /* core/cmd_propose.c */
int tui_cmd_open(int argc, char **argv);     /* tui/cmd_open.c; argc 0: a new session */

#endif
