/*
 * The launch plan: a flat list of operations that TypeScript built from config.json
 * (src/container/launch-plan.ts). Wire format, read from a descriptor: records of
 * NUL-terminated tokens, each record "<n>\0<op>\0<arg1>\0...<argn-1>\0" where n counts the op
 * and its arguments. A record "end" closes the plan.
 *
 * Each op carries its phase in its name's first letter (g: the gofer, i: the init before the
 * start gate, u: the user's process after it), so the interpreter never decides which step
 * runs where: the builder did.
 */
#ifndef RUNCELL_PLAN_H
#define RUNCELL_PLAN_H

#include <stddef.h>

struct op {
  int argc;     /* tokens, the op's name included */
  char **argv;  /* argv[0] is the op's name */
  int index;    /* position in the plan, reported with errors */
};

struct plan {
  struct op *ops;
  int count;
};

/* Reads the plan from fd until its "end" record. Returns 0, or -1 with errno set. */
int plan_read(int fd, struct plan *plan);

#endif
