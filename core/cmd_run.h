/* The core's subcommands: gevo run. */
#ifndef GEVO_CORE_CMD_RUN_H
#define GEVO_CORE_CMD_RUN_H

int core_cmd_run(int argc, char **argv);

#endif
