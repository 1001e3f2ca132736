// Starts a command with posix_spawn, which glibc makes with vfork semantics:
// the parent's memory is not copied. Node's child_process forks, which copies
// the page tables of the whole agent first; on a virtual machine that costs
// several milliseconds per command, the largest part of a command's round
// trip (bench/RESULTS.md). Used by src/exec/direct-spawn.ts, which falls back
// to Node's spawn when this module was not built.
//
// spawn(file, args, env, cwd, stdinPipe, onExit) -> { pid, stdin, stdout, stderr }
//   args is the whole argv (args[0] included); env a list of "KEY=value";
//   cwd a directory or null; stdin a socket when stdinPipe, else /dev/null;
//   stdout and stderr sockets (socketpairs, as Node's spawn gives). The child
//   leads a new session (setsid, as Node's `detached`), with every signal at
//   its default and none blocked, as Node's spawn leaves it. The program is
//   found as glibc's execvp finds it in a child of Node's spawn: on the PATH
//   of `env` (else /bin:/usr/bin), relative entries from `cwd`, a file that
//   exists but may not be run passed over, and a file the kernel cannot
//   execute (no #! line) run by /bin/sh. onExit(code, signal) is called once
//   the child has ended and has just been reaped, on the main thread: a
//   small thread of its own waits for it without reaping it (waitid, on
//   that pid only: Node's own children are left to libuv), so its pid is
//   not reused before JavaScript hears of the end. Throws an Error with
//   `code` (ENOENT...), `errno` (negative, as Node's) and `syscall` when
//   nothing was started; nothing is left running then.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef POSIX_SPAWN_SETSID
#error "posix_spawn without POSIX_SPAWN_SETSID (glibc before 2.26): Node's spawn is used instead"
#endif

static char *string_of(napi_env env, napi_value v) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *s = malloc(len + 1);
  if (!s) return NULL;
  if (napi_get_value_string_utf8(env, v, s, len + 1, &len) != napi_ok) {
    free(s);
    return NULL;
  }
  return s;
}

static void free_strings(char **v) {
  if (!v) return;
  for (char **p = v; *p; p++) free(*p);
  free(v);
}

static char **strings_of(napi_env env, napi_value arr) {
  uint32_t n;
  if (napi_get_array_length(env, arr, &n) != napi_ok) return NULL;
  char **v = calloc((size_t)n + 1, sizeof(char *));
  if (!v) return NULL;
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    if (napi_get_element(env, arr, i, &e) != napi_ok || !(v[i] = string_of(env, e))) {
      free_strings(v);
      return NULL;
    }
  }
  return v;
}

static const char *path_of(char **envp) {
  for (char **p = envp; *p; p++)
    if (strncmp(*p, "PATH=", 5) == 0) return *p + 5;
  // glibc's execvp when PATH is unset.
  return "/bin:/usr/bin";
}

// posix_spawn of `path`; a file the kernel cannot execute (ENOEXEC: a script
// without a #! line) is run by /bin/sh instead, as execvp does.
static int spawn_file(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                      const posix_spawnattr_t *at, char **argv, char **envp) {
  int rc = posix_spawn(pid, path, fa, at, argv, envp);
  if (rc != ENOEXEC) return rc;
  size_t n = 0;
  while (argv[n]) n++;
  char **shell = calloc(n + 2, sizeof(char *));
  if (!shell) return ENOMEM;
  shell[0] = "/bin/sh";
  shell[1] = (char *)path;
  for (size_t i = 1; i < n; i++) shell[i + 1] = argv[i];
  rc = posix_spawn(pid, "/bin/sh", fa, at, shell, envp);
  free(shell);
  return rc;
}

// An execve error after which execvp tries the next entry of PATH.
static int try_next(int e) {
  return e == ENOENT || e == ENOTDIR || e == ESTALE || e == ENODEV || e == ETIMEDOUT;
}

// posix_spawn of `file`, searched on PATH when it names no directory, with
// execvp's rules. Each candidate is looked at (stat, access) before it is
// tried, so that only one that can run costs a spawn; an entry relative to
// the working directory is looked up from `cwd`, where the child starts.
// Callers keep PATH to a few dozen entries: the search runs on this thread.
static int spawn_on_path(pid_t *pid, const char *file, const char *cwd,
                         const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *at,
                         char **argv, char **envp) {
  if (strchr(file, '/')) return spawn_file(pid, file, fa, at, argv, envp);
  if (*file == '\0') return ENOENT;
  const char *path = path_of(envp);
  size_t flen = strlen(file);
  size_t clen = cwd ? strlen(cwd) : 0;
  int seen_eacces = 0;
  for (const char *p = path;; p++) {
    const char *end = strchr(p, ':');
    size_t dlen = end ? (size_t)(end - p) : strlen(p);
    // What is run is what execvp runs: the entry and the name (the name
    // alone for an empty entry, the working directory), relative to the
    // working directory the child starts in. What is looked at here is the
    // same file seen from this process: from `cwd`, when the path is relative.
    size_t tlen = (dlen ? dlen + 1 : 0) + flen;
    char *tried = malloc(tlen + 1);
    if (!tried) return ENOMEM;
    if (dlen) {
      memcpy(tried, p, dlen);
      tried[dlen] = '/';
    }
    memcpy(tried + (dlen ? dlen + 1 : 0), file, flen + 1);
    int from_cwd = cwd && tried[0] != '/';
    char *candidate = tried;
    if (from_cwd) {
      candidate = malloc(clen + 1 + tlen + 1);
      if (!candidate) {
        free(tried);
        return ENOMEM;
      }
      memcpy(candidate, cwd, clen);
      candidate[clen] = '/';
      memcpy(candidate + clen + 1, tried, tlen + 1);
    }
    int rc;
    struct stat st;
    if (stat(candidate, &st) != 0) rc = errno;
    else if (!S_ISREG(st.st_mode) || faccessat(AT_FDCWD, candidate, X_OK, AT_EACCESS) != 0)
      rc = EACCES;
    else rc = spawn_file(pid, tried, fa, at, argv, envp);
    if (candidate != tried) free(candidate);
    free(tried);
    if (rc == 0) return 0;
    if (rc == EACCES) seen_eacces = 1;
    else if (!try_next(rc)) return rc;
    if (!end) break;
    p = end;
  }
  return seen_eacces ? EACCES : ENOENT;
}

static void throw_spawn_error(napi_env env, int rc, const char *file) {
  const char *code = strerrorname_np(rc);
  if (!code) code = "EUNKNOWN";
  size_t size = strlen(file) + strlen(code) + 16;
  char *message = malloc(size);
  if (!message) {
    napi_throw_error(env, "ENOMEM", "direct-spawn: out of memory");
    return;
  }
  napi_value err, msg, v, ccode;
  // "spawn <file> <CODE>", as Node's message; its first part is the syscall.
  int syscall_len = snprintf(message, size, "spawn %s", file);
  snprintf(message + syscall_len, size - (size_t)syscall_len, " %s", code);
  if (napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg) == napi_ok &&
      napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &ccode) == napi_ok &&
      napi_create_error(env, ccode, msg, &err) == napi_ok) {
    if (napi_create_int32(env, -rc, &v) == napi_ok) napi_set_named_property(env, err, "errno", v);
    if (napi_create_string_utf8(env, message, (size_t)syscall_len, &v) == napi_ok)
      napi_set_named_property(env, err, "syscall", v);
    if (napi_create_string_utf8(env, file, NAPI_AUTO_LENGTH, &v) == napi_ok)
      napi_set_named_property(env, err, "path", v);
    napi_throw(env, err);
  }
  free(message);
}

typedef struct {
  // Set once by arm(): the child to wait for, or 0 when none was started.
  pid_t pid;
  int armed;
  pthread_mutex_t lock;
  pthread_cond_t set;
  // From waitid: how it ended (CLD_EXITED...) and its code or signal; lost
  // when waitid failed (someone else reaped it).
  int how, status, lost;
  napi_threadsafe_function done;
} waiter;

static void free_waiter(waiter *w) {
  pthread_mutex_destroy(&w->lock);
  pthread_cond_destroy(&w->set);
  free(w);
}

// On the main thread: reaps the child, then tells JavaScript how it ended.
static void call_back(napi_env env, napi_value callback, void *context, void *data) {
  (void)context;
  waiter *w = data;
  if (!w->lost) {
    while (waitpid(w->pid, NULL, WNOHANG) < 0 && errno == EINTR) {
    }
  }
  if (env != NULL && callback != NULL) {
    napi_value args[2], undefined;
    if (!w->lost && w->how == CLD_EXITED) {
      napi_create_int32(env, w->status, &args[0]);
      napi_get_null(env, &args[1]);
    } else if (!w->lost) {
      napi_get_null(env, &args[0]);
      napi_create_int32(env, w->status, &args[1]);
    } else {
      napi_get_null(env, &args[0]);
      napi_get_null(env, &args[1]);
    }
    napi_get_undefined(env, &undefined);
    napi_call_function(env, undefined, callback, 2, args, NULL);
  }
  free_waiter(w);
}

// The waiting thread: waits to be given a child, then for the child to end,
// without reaping it.
static void *wait_for_end(void *arg) {
  waiter *w = arg;
  pthread_mutex_lock(&w->lock);
  while (!w->armed) pthread_cond_wait(&w->set, &w->lock);
  pthread_mutex_unlock(&w->lock);
  napi_threadsafe_function done = w->done;
  if (w->pid <= 0) {
    napi_release_threadsafe_function(done, napi_tsfn_release);
    free_waiter(w);
    return NULL;
  }
  siginfo_t info;
  memset(&info, 0, sizeof info);
  int rc;
  while ((rc = waitid(P_PID, (id_t)w->pid, &info, WEXITED | WNOWAIT)) < 0 && errno == EINTR) {
  }
  w->lost = rc < 0;
  w->how = info.si_code;
  w->status = info.si_status;
  // Fails only while the environment is being torn down (the process or
  // its thread ending): nobody is left to tell, and nothing to supervise.
  if (napi_call_threadsafe_function(done, w, napi_tsfn_blocking) != napi_ok) free_waiter(w);
  napi_release_threadsafe_function(done, napi_tsfn_release);
  return NULL;
}

// Gives the waiting thread its child (0: none); the thread owns `w` from here.
static void arm(waiter *w, pid_t pid) {
  pthread_mutex_lock(&w->lock);
  w->pid = pid;
  w->armed = 1;
  pthread_cond_signal(&w->set);
  pthread_mutex_unlock(&w->lock);
}

// Starts the thread that will wait for the child, before the child exists:
// a command is never started that nothing could wait for. Null when it
// cannot (errno in *rc).
static waiter *start_waiter(napi_env env, napi_value callback, int *rc) {
  waiter *w = calloc(1, sizeof *w);
  if (!w) {
    *rc = ENOMEM;
    return NULL;
  }
  pthread_mutex_init(&w->lock, NULL);
  pthread_cond_init(&w->set, NULL);
  napi_value name;
  if (napi_create_string_utf8(env, "direct-spawn wait", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_threadsafe_function(env, callback, NULL, name, 0, 1, NULL, NULL, NULL, call_back,
                                      &w->done) != napi_ok) {
    free_waiter(w);
    *rc = EINVAL;
    return NULL;
  }
  // The thread takes no signal meant for the process (it inherits this mask).
  sigset_t all, before;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &before);
  pthread_attr_t attr;
  pthread_t thread;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  *rc = pthread_create(&thread, &attr, wait_for_end, w);
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &before, NULL);
  if (*rc != 0) {
    napi_release_threadsafe_function(w->done, napi_tsfn_release);
    free_waiter(w);
    return NULL;
  }
  return w;
}

static napi_value Spawn(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value a[6];
  char *file = NULL, *cwd = NULL, **argv = NULL, **envp = NULL;
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  int have_fa = 0, have_at = 0;
  pid_t pid = 0;
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  napi_value result = NULL;
  napi_valuetype cwd_type, callback_type;
  bool stdin_pipe;
  if (napi_get_cb_info(env, info, &argc, a, NULL, NULL) != napi_ok || argc < 6 ||
      napi_typeof(env, a[3], &cwd_type) != napi_ok ||
      napi_typeof(env, a[5], &callback_type) != napi_ok || callback_type != napi_function ||
      napi_get_value_bool(env, a[4], &stdin_pipe) != napi_ok) {
    napi_throw_type_error(env, NULL,
                          "direct-spawn: spawn(file, args, env, cwd, stdinPipe, onExit)");
    return NULL;
  }
  file = string_of(env, a[0]);
  argv = strings_of(env, a[1]);
  envp = strings_of(env, a[2]);
  if (cwd_type == napi_string) cwd = string_of(env, a[3]);
  if (!file || !argv || !envp || (cwd_type == napi_string && !cwd)) {
    napi_throw_type_error(env, NULL, "direct-spawn: file, args and env must be strings");
    goto done;
  }
  // Sockets, as Node's spawn gives its children; close-on-exec here, the
  // child's ends made its 0, 1 and 2 by dup2, which clears the flag.
  if ((stdin_pipe && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) != 0) ||
      socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, out) != 0 ||
      socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, err) != 0) {
    throw_spawn_error(env, errno, file);
    goto done;
  }
  int rc = posix_spawn_file_actions_init(&fa);
  if (rc == 0) {
    have_fa = 1;
    rc = stdin_pipe ? posix_spawn_file_actions_adddup2(&fa, in[1], 0)
                    : posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  }
  if (rc == 0) rc = posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  if (rc == 0) rc = posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  if (rc == 0 && cwd) rc = posix_spawn_file_actions_addchdir_np(&fa, cwd);
  if (rc == 0) {
    rc = posix_spawnattr_init(&at);
    if (rc == 0) have_at = 1;
  }
  if (rc == 0) {
    sigset_t all, none;
    sigfillset(&all);
    // sigfillset leaves out the signals glibc keeps for itself (32 and 33),
    // which posix_spawn's child would then ignore, and ignoring survives
    // exec: set by hand, they are reset to the default, as in a child of
    // Node's spawn.
    for (int sig = __SIGRTMIN; sig < SIGRTMIN; sig++) {
      unsigned long *words = (unsigned long *)&all;
      size_t bits = 8 * sizeof(unsigned long);
      words[(sig - 1) / bits] |= 1UL << ((sig - 1) % bits);
    }
    sigemptyset(&none);
    rc = posix_spawnattr_setsigdefault(&at, &all);
    if (rc == 0) rc = posix_spawnattr_setsigmask(&at, &none);
    if (rc == 0)
      rc = posix_spawnattr_setflags(
          &at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  }
  waiter *w = NULL;
  if (rc == 0) w = start_waiter(env, a[5], &rc);
  if (rc == 0) rc = spawn_on_path(&pid, file, cwd, &fa, &at, argv, envp);
  if (w) arm(w, rc == 0 ? pid : 0);
  if (rc != 0) {
    pid = -1;
    throw_spawn_error(env, rc, file);
    goto done;
  }
  napi_value v;
  if (napi_create_object(env, &result) != napi_ok ||
      napi_create_int32(env, pid, &v) != napi_ok ||
      napi_set_named_property(env, result, "pid", v) != napi_ok ||
      napi_create_int32(env, stdin_pipe ? in[0] : -1, &v) != napi_ok ||
      napi_set_named_property(env, result, "stdin", v) != napi_ok ||
      napi_create_int32(env, out[0], &v) != napi_ok ||
      napi_set_named_property(env, result, "stdout", v) != napi_ok ||
      napi_create_int32(env, err[0], &v) != napi_ok ||
      napi_set_named_property(env, result, "stderr", v) != napi_ok) {
    // Watched: the waiting thread reaps it once it is killed.
    kill(pid, SIGKILL);
    pid = -1;
    result = NULL;
    napi_throw_error(env, NULL, "direct-spawn: a Node-API call failed");
    goto done;
  }
  // The parent's ends now belong to the caller; the child's are closed below.
  in[0] = out[0] = err[0] = -1;
done:
  if (have_fa) posix_spawn_file_actions_destroy(&fa);
  if (have_at) posix_spawnattr_destroy(&at);
  for (int i = 0; i < 2; i++) {
    if (in[i] >= 0) close(in[i]);
    if (out[i] >= 0) close(out[i]);
    if (err[i] >= 0) close(err[i]);
  }
  free(file);
  free(cwd);
  free_strings(argv);
  free_strings(envp);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value f;
  if (napi_create_function(env, "spawn", NAPI_AUTO_LENGTH, Spawn, NULL, &f) != napi_ok ||
      napi_set_named_property(env, exports, "spawn", f) != napi_ok)
    return NULL;
  return exports;
}
