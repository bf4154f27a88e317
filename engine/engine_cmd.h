/* The engine's subcommands (gevo check, gevo train, gevo eval); each
 * returns the process exit status. */
#ifndef GEVO_ENGINE_ENGINE_CMD_H
#define GEVO_ENGINE_ENGINE_CMD_H

int engine_cmd_check(int argc, char **argv);
int engine_cmd_train(int argc, char **argv);
int engine_cmd_eval(int argc, char **argv);

#endif
