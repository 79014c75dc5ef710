#ifndef RUNCELL_OPS_H
#define RUNCELL_OPS_H

#include "plan.h"

/* Runs one init (i-) or user (u-) operation. Returns 0, or the errno of the failing call. */
int op_run(struct op *op);

#endif
