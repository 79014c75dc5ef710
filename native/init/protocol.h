/*
 * The messages of runcell-init: with the CLI (one line each, "\n"-terminated; the CLI's side is
 * src/container/protocol.ts: change both together), and among its own processes (one
 * SOCK_SEQPACKET message each, no newline).
 */
#ifndef RUNCELL_INIT_PROTOCOL_H
#define RUNCELL_INIT_PROTOCOL_H

#include <stdbool.h>
#include <string.h>

/* ---- with the CLI ------------------------------------------------------------------------ */

/* gofer -> CLI, REPORT_FD, during create. */
#define REPORT_CGROUP "cgroup %d\n" /* init pid: under a cgroup manager, it waits to be placed */
#define REPORT_HOOKS "hooks %d\n"   /* init pid: it waits for the runtime's hooks */
#define REPORT_READY "ready %d\n"   /* init pid: it waits at the start gate */
/* Any of ours, and the exec helper's (REPORT_FD). A step is the plan's op index, -1 for our own
 * setup, -2 for the clone. */
#define REPORT_ERROR "error %d %d\n" /* step, errno */
/* exec helper -> CLI, REPORT_FD. */
#define REPORT_STARTED_PID "started %d\n"      /* the process's pid */
#define REPORT_ERROR_CHILD "error %d %d %d\n"  /* step, errno, the exited child for the CLI to reap */
/* gofer -> CLI, the ready FIFO, on start (or REPORT_ERROR). */
#define REPLY_STARTED "started\n"

/* CLI -> gofer, PLAN_FD, after the plan. */
#define MSG_CGROUP_PLACED "cgroup" /* the cgroup manager has placed the init */
#define MSG_CONTINUE "continue "   /* + the state for createContainer hooks: the runtime's hooks ran */
#define MSG_COMMIT "commit"        /* the CLI saved the state: the container lives on */
/* CLI -> gofer, the gate FIFO: GATE_START and the state for startContainer hooks, one line. */
#define GATE_START 's'

/* <id>.exit, written by the gofer (to <id>.exittmp, then renamed): status, time, milliseconds. */
#define EXIT_RECORD_FORMAT "{\"exitStatus\":%d,\"exited\":\"%s.%03ldZ\"}"

/* ---- among runcell-init's processes ------------------------------------------------------ */

/* gofer -> init */
#define INIT_SETUP "setup" /* in its cgroup, its id maps written: run the init steps */
#define INIT_GO "go"       /* + optionally " <state>": the start gate opened */
/* init -> gofer (MSG_CONTINUE comes back relayed from the CLI) */
#define INIT_HOOKS "hooks"
#define INIT_PTY "pty"     /* with the terminal's master (SCM_RIGHTS) */
#define INIT_READY "ready"
#define INIT_ERROR "error " /* + "<step> <errno>" */
#define INIT_STARTED "started " /* + pid */
#define INIT_START_ERROR "start-error " /* + "<step> <errno>"; relayed as "error ..." */
#define INIT_EXIT "exit "  /* + status */
/* init -> user process: "step <index>" (it answers its errno), INIT_PTY with the terminal's
 * slave (it answers its errno), then INIT_GO. */
#define USER_STEP "step "
/* user process -> its parent, on its close-on-exec pipe (EOF: execve succeeded): step, errno. */
#define USER_EXEC_ERROR "%d %d"

/* msg is exactly name. */
static inline bool msg_is(const char *msg, const char *name) {
  return strcmp(msg, name) == 0;
}

/* msg starts with prefix. */
static inline bool msg_starts(const char *msg, const char *prefix) {
  return strncmp(msg, prefix, strlen(prefix)) == 0;
}

#endif
