/* Scope-bound descriptors, as crun does: `cleanup_close int fd = open(...)` is closed on every
 * path out of its block, error returns included; take_fd() hands it on instead. */
#ifndef RUNCELL_CLEANUP_H
#define RUNCELL_CLEANUP_H

#include <unistd.h>

static inline void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
}

#define cleanup_close __attribute__((cleanup(close_fd)))

/* The descriptor, no longer closed at the end of its variable's scope. */
static inline int take_fd(int *fd) {
  int taken = *fd;
  *fd = -1;
  return taken;
}

#endif
