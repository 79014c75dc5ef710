#include "plan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The plan is read a buffer at a time (a byte at a time cost create ~3700 read calls). The
 * CLI sends nothing after the plan before the gofer reports, so a read cannot take bytes of a
 * later message: any byte after the "end" record breaks the protocol (EPROTO). */
struct reader {
  int fd;
  size_t pos, len;
  char buf[16384];
};

/* Next byte, or -1 with errno (EPIPE at EOF: the plan ended early). */
static int next_byte(struct reader *r, char *c) {
  if (r->pos == r->len) {
    ssize_t n;
    do {
      n = read(r->fd, r->buf, sizeof r->buf);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
      if (n == 0) errno = EPIPE;
      return -1;
    }
    r->pos = 0;
    r->len = (size_t)n;
  }
  *c = r->buf[r->pos++];
  return 0;
}

/* Reads one NUL-terminated token; returns a malloc'd string, or NULL at EOF/error. */
static char *read_token(struct reader *r) {
  size_t cap = 64, len = 0;
  char *s = malloc(cap);
  if (s == NULL) return NULL;
  for (;;) {
    char c;
    if (next_byte(r, &c) != 0) {
      free(s);
      return NULL;
    }
    if (len + 1 == cap) {
      char *bigger = realloc(s, cap *= 2);
      if (bigger == NULL) {
        free(s);
        return NULL;
      }
      s = bigger;
    }
    s[len++] = c;
    if (c == '\0') return s;
  }
}

int plan_read(int fd, struct plan *plan) {
  static struct reader reader;
  struct reader *r = &reader;
  r->fd = fd;
  r->pos = r->len = 0;
  int cap = 32;
  plan->count = 0;
  plan->ops = calloc(cap, sizeof(struct op));
  if (plan->ops == NULL) return -1;
  for (;;) {
    char *count = read_token(r);
    if (count == NULL) return -1;
    int argc = atoi(count);
    free(count);
    if (argc < 1) {
      errno = EPROTO;
      return -1;
    }
    char **argv = calloc(argc + 1, sizeof(char *));
    if (argv == NULL) return -1;
    for (int i = 0; i < argc; i++) {
      argv[i] = read_token(r);
      if (argv[i] == NULL) return -1;
    }
    if (strcmp(argv[0], "end") == 0) {
      if (r->pos == r->len) return 0;
      errno = EPROTO;
      return -1;
    }
    if (plan->count == cap) {
      struct op *bigger = realloc(plan->ops, (cap *= 2) * sizeof(struct op));
      if (bigger == NULL) return -1;
      plan->ops = bigger;
    }
    plan->ops[plan->count].argc = argc;
    plan->ops[plan->count].argv = argv;
    plan->ops[plan->count].index = plan->count;
    plan->count++;
  }
}
