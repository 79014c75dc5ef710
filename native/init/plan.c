#include "plan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Reads one NUL-terminated token; returns a malloc'd string, or NULL at EOF/error. */
static char *read_token(int fd) {
  size_t cap = 64, len = 0;
  char *s = malloc(cap);
  if (s == NULL) return NULL;
  for (;;) {
    char c;
    ssize_t n = read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      free(s);
      if (n == 0) errno = EPIPE; /* the plan ended early */
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
  int cap = 32;
  plan->count = 0;
  plan->ops = calloc(cap, sizeof(struct op));
  if (plan->ops == NULL) return -1;
  for (;;) {
    char *count = read_token(fd);
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
      argv[i] = read_token(fd);
      if (argv[i] == NULL) return -1;
    }
    if (strcmp(argv[0], "end") == 0) return 0;
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
