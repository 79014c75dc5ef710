#ifndef RUNCELL_OPS_H
#define RUNCELL_OPS_H

#include "plan.h"

/* Runs one init (i-) or user (u-) operation. Returns 0, or the errno of the failing call. */
int op_run(struct op *op);

/* The listener of the last filter loaded with SECCOMP_FILTER_FLAG_NEW_LISTENER, and the
 * connection to the seccomp agent (seccomp-agent PATH), or -1. */
extern int seccomp_listener;
extern int seccomp_agent;

#endif
