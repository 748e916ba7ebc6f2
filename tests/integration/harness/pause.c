/* A stand-in for the Kubernetes pause image's /pause, built statically by containerd.sh so the
 * integration tests need no registry. PID 1 of a sandbox or container: reaps children, exits 0 on
 * SIGTERM/SIGINT. `/pause --hog MIB` first allocates and touches MIB mebibytes and keeps them, so a
 * container has a known working set for stats tests. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stop_requested;
static volatile char *held;

static void on_stop(int sig) {
  (void)sig;
  stop_requested = 1;
}

static void on_child(int sig) {
  (void)sig;
  int saved = errno;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
  errno = saved;
}

static int hog(const char *mib_text) {
  char *end = NULL;
  long mib = strtol(mib_text, &end, 10);
  if (end == mib_text || *end != '\0' || mib < 0 || mib > 1L << 20) {
    fprintf(stderr, "pause: --hog wants a MiB count, got \"%s\"\n", mib_text);
    return -1;
  }
  size_t bytes = (size_t)mib << 20;
  /* volatile: the compiler may otherwise drop stores to memory nobody reads, and the malloc with them. */
  volatile char *block = malloc(bytes ? bytes : 1);
  if (block == NULL) {
    fprintf(stderr, "pause: cannot allocate %ld MiB\n", mib);
    return -1;
  }
  /* Touch every page so it counts in the working set. */
  for (size_t i = 0; i < bytes; i += 4096) block[i] = (char)i;
  held = block; /* kept until exit on purpose */
  return 0;
}

int main(int argc, char **argv) {
  struct sigaction stop = {0}, child = {0};
  stop.sa_handler = on_stop;
  child.sa_handler = on_child;
  child.sa_flags = SA_NOCLDSTOP | SA_RESTART;
  sigaction(SIGTERM, &stop, NULL);
  sigaction(SIGINT, &stop, NULL);
  sigaction(SIGCHLD, &child, NULL);

  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--hog") == 0 && i + 1 < argc) {
      if (hog(argv[++i]) != 0) return 2;
    } else {
      fprintf(stderr, "usage: pause [--hog MIB]\n");
      return 2;
    }
  }
  while (!stop_requested) pause();
  return 0;
}
