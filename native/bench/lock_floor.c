/*
 * The physical floor of a state read under a lock, for `runcell bench locks --baseline`:
 * open(lock) + flock(LOCK_SH) + open(state) + read + close(state) + flock(LOCK_UN) + close(lock),
 * in a loop, with nothing else. Same files and the same start barrier as the Node workers, so
 * the ratio between the two is measured side by side.
 *
 *   runcell-lock-floor LOCK STATE SECONDS MAX_OPS LATENCY_FILE
 *
 * Prints "ready", waits for one byte on stdin (the barrier), runs until SECONDS have passed or
 * MAX_OPS (0: no limit) ops are done, writes each op's latency in microseconds as a
 * little-endian double to LATENCY_FILE, and prints one JSON line: ops, seconds, cpuUs, waitNs,
 * holdNs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void fail(const char *what, const char *path) {
  fprintf(stderr, "runcell-lock-floor: %s %s: %s\n", what, path, strerror(errno));
  exit(1);
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: runcell-lock-floor LOCK STATE SECONDS MAX_OPS LATENCY_FILE\n");
    return 2;
  }
  const char *lock_path = argv[1], *state_path = argv[2], *latency_path = argv[5];
  double seconds = atof(argv[3]);
  long max_ops = atol(argv[4]);
  size_t capacity = 1 << 16, count = 0;
  double *latencies = malloc(capacity * sizeof(double));
  static char buffer[1 << 16];
  if (latencies == NULL) return 1;

  printf("ready\n");
  fflush(stdout);
  char go;
  if (read(0, &go, 1) != 1) return 1;

  double wait_ns = 0, hold_ns = 0;
  double start = now_ns(), deadline = start + seconds * 1e9;
  for (;;) {
    double t0 = now_ns();
    if (t0 >= deadline || (max_ops > 0 && (long)count >= max_ops)) break;
    int fd = open(lock_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail("open", lock_path);
    while (flock(fd, LOCK_SH) != 0) {
      if (errno != EINTR) fail("flock", lock_path);
    }
    double t1 = now_ns();
    int state = open(state_path, O_RDONLY | O_CLOEXEC);
    if (state < 0) fail("open", state_path);
    ssize_t n;
    while ((n = read(state, buffer, sizeof buffer)) > 0) {
    }
    if (n < 0) fail("read", state_path);
    close(state);
    flock(fd, LOCK_UN);
    close(fd);
    double t2 = now_ns();
    wait_ns += t1 - t0;
    hold_ns += t2 - t1;
    if (count == capacity) {
      capacity *= 2;
      latencies = realloc(latencies, capacity * sizeof(double));
      if (latencies == NULL) return 1;
    }
    latencies[count++] = (t2 - t0) / 1e3;
  }
  double seconds_run = (now_ns() - start) / 1e9;
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  double cpu_us = usage.ru_utime.tv_sec * 1e6 + usage.ru_utime.tv_usec + usage.ru_stime.tv_sec * 1e6 + usage.ru_stime.tv_usec;
  FILE *out = fopen(latency_path, "wb");
  if (out == NULL) fail("open", latency_path);
  fwrite(latencies, sizeof(double), count, out);
  fclose(out);
  printf("{\"ops\":%zu,\"seconds\":%.6f,\"cpuUs\":%.0f,\"waitNs\":%.0f,\"holdNs\":%.0f}\n", count, seconds_run, cpu_us, wait_ns,
         hold_ns);
  return 0;
}
