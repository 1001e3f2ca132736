// Starts a command with posix_spawn, which glibc makes with vfork semantics:
// the parent's memory is not copied. Node's child_process forks, which copies
// the page tables of the whole agent first; on a virtual machine that costs
// several milliseconds per command, the largest part of a command's round
// trip (bench/RESULTS.md). Used by src/exec/direct-spawn.ts, which falls back
// to Node's spawn when this module was not built.
//
// spawn(file, args, env, cwd, stdinPipe) -> { pid, stdin, stdout, stderr }
//   args is the whole argv (args[0] included); env a list of "KEY=value";
//   cwd a directory or null; stdin a pipe when stdinPipe, else /dev/null.
//   The child leads a new session (setsid, as Node's `detached`), with every
//   signal at its default and none blocked, as Node's spawn leaves it. The
//   program is looked up on the PATH of `env` (else /usr/bin:/bin), as
//   libuv does. Throws an Error with `code` (ENOENT...), `errno` (negative,
//   as Node's) and `syscall` when nothing started.
// wait(pid, callback(code, signal)) calls back once the child has ended,
//   from a small thread of its own that reaps it (waitpid on that pid only:
//   Node's own children are left to libuv).
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
#include <sys/wait.h>
#include <unistd.h>

#ifndef POSIX_SPAWN_SETSID
#error "posix_spawn without POSIX_SPAWN_SETSID (glibc before 2.26): Node's spawn is used instead"
#endif

#define CHECK(call)                                                                     \
  do {                                                                                  \
    if ((call) != napi_ok) {                                                            \
      napi_throw_error(env, NULL, "direct-spawn: a Node-API call failed: " #call);      \
      goto fail;                                                                        \
    }                                                                                   \
  } while (0)

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
  return "/usr/bin:/bin";
}

// posix_spawn for `file`, searched on PATH when it names no directory, with
// execvp's rules: a candidate that exists but may not be run is passed over
// (EACCES is reported only when nothing else ran); ENOENT when none exists.
static int spawn_on_path(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                         const posix_spawnattr_t *at, char **argv, char **envp) {
  if (strchr(file, '/')) return posix_spawn(pid, file, fa, at, argv, envp);
  if (*file == '\0') return ENOENT;
  const char *path = path_of(envp);
  size_t flen = strlen(file);
  int seen_eacces = 0;
  for (const char *p = path;; p++) {
    const char *end = strchr(p, ':');
    size_t dlen = end ? (size_t)(end - p) : strlen(p);
    char *candidate = malloc(dlen + flen + 3);
    if (!candidate) return ENOMEM;
    if (dlen == 0) {
      // An empty entry is the working directory.
      snprintf(candidate, flen + 3, "./%s", file);
    } else {
      memcpy(candidate, p, dlen);
      candidate[dlen] = '/';
      memcpy(candidate + dlen + 1, file, flen + 1);
    }
    int rc = ENOENT;
    // Skipping what is not there costs a stat, not a vfork.
    if (access(candidate, F_OK) == 0) rc = posix_spawn(pid, candidate, fa, at, argv, envp);
    free(candidate);
    if (rc == 0) return 0;
    if (rc == EACCES) seen_eacces = 1;
    else if (rc != ENOENT && rc != ENOTDIR) return rc;
    if (!end) break;
    p = end;
  }
  return seen_eacces ? EACCES : ENOENT;
}

static void throw_spawn_error(napi_env env, int rc, const char *file) {
  const char *code = strerrorname_np(rc);
  char message[512];
  snprintf(message, sizeof message, "spawn %s %s", file, code ? code : "EUNKNOWN");
  napi_value err, msg, v, ccode;
  if (napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg) != napi_ok) return;
  if (napi_create_string_utf8(env, code ? code : "EUNKNOWN", NAPI_AUTO_LENGTH, &ccode) != napi_ok)
    return;
  if (napi_create_error(env, ccode, msg, &err) != napi_ok) return;
  if (napi_create_int32(env, -rc, &v) == napi_ok) napi_set_named_property(env, err, "errno", v);
  char syscall[300];
  snprintf(syscall, sizeof syscall, "spawn %s", file);
  if (napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &v) == napi_ok)
    napi_set_named_property(env, err, "syscall", v);
  if (napi_create_string_utf8(env, file, NAPI_AUTO_LENGTH, &v) == napi_ok)
    napi_set_named_property(env, err, "path", v);
  napi_throw(env, err);
}

static napi_value Spawn(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value a[5];
  char *file = NULL, *cwd = NULL, **argv = NULL, **envp = NULL;
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  int have_fa = 0, have_at = 0;
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  napi_value result = NULL;
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  if (argc < 5) {
    napi_throw_type_error(env, NULL, "direct-spawn: spawn(file, args, env, cwd, stdinPipe)");
    return NULL;
  }
  napi_valuetype cwd_type;
  bool stdin_pipe;
  CHECK(napi_typeof(env, a[3], &cwd_type));
  CHECK(napi_get_value_bool(env, a[4], &stdin_pipe));
  file = string_of(env, a[0]);
  argv = strings_of(env, a[1]);
  envp = strings_of(env, a[2]);
  if (cwd_type == napi_string) cwd = string_of(env, a[3]);
  if (!file || !argv || !envp || (cwd_type == napi_string && !cwd)) {
    napi_throw_type_error(env, NULL, "direct-spawn: file, args and env must be strings");
    goto fail;
  }
  if ((stdin_pipe && pipe2(in, O_CLOEXEC) != 0) || pipe2(out, O_CLOEXEC) != 0 ||
      pipe2(err, O_CLOEXEC) != 0) {
    throw_spawn_error(env, errno, file);
    goto fail;
  }
  posix_spawn_file_actions_init(&fa);
  have_fa = 1;
  if (stdin_pipe) posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  else posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  if (cwd) posix_spawn_file_actions_addchdir_np(&fa, cwd);
  posix_spawnattr_init(&at);
  have_at = 1;
  sigset_t all, none;
  sigfillset(&all);
  // sigfillset leaves out the signals glibc keeps for itself (32 and 33),
  // which posix_spawn's child would then ignore, and ignoring survives exec:
  // set by hand, they are reset to the default, as in a child of Node's spawn.
  for (int sig = __SIGRTMIN; sig < SIGRTMIN; sig++) {
    unsigned long *words = (unsigned long *)&all;
    size_t bits = 8 * sizeof(unsigned long);
    words[(sig - 1) / bits] |= 1UL << ((sig - 1) % bits);
  }
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&at, &all);
  posix_spawnattr_setsigmask(&at, &none);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
  pid_t pid;
  int rc = spawn_on_path(&pid, file, &fa, &at, argv, envp);
  if (rc != 0) {
    throw_spawn_error(env, rc, file);
    goto fail;
  }
  napi_value v;
  CHECK(napi_create_object(env, &result));
  CHECK(napi_create_int32(env, pid, &v));
  CHECK(napi_set_named_property(env, result, "pid", v));
  CHECK(napi_create_int32(env, stdin_pipe ? in[1] : -1, &v));
  CHECK(napi_set_named_property(env, result, "stdin", v));
  CHECK(napi_create_int32(env, out[0], &v));
  CHECK(napi_set_named_property(env, result, "stdout", v));
  CHECK(napi_create_int32(env, err[0], &v));
  CHECK(napi_set_named_property(env, result, "stderr", v));
  // The parent's ends now belong to the caller; the child's are closed below.
  in[1] = out[0] = err[0] = -1;
fail:
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

typedef struct {
  pid_t pid;
  int status;
  napi_threadsafe_function done;
} waiter;

static void call_back(napi_env env, napi_value callback, void *context, void *data) {
  (void)context;
  waiter *w = data;
  if (env != NULL && callback != NULL) {
    napi_value args[2], undefined;
    if (WIFEXITED(w->status)) {
      napi_create_int32(env, WEXITSTATUS(w->status), &args[0]);
      napi_get_null(env, &args[1]);
    } else {
      napi_get_null(env, &args[0]);
      napi_create_int32(env, WIFSIGNALED(w->status) ? WTERMSIG(w->status) : 0, &args[1]);
    }
    napi_get_undefined(env, &undefined);
    napi_call_function(env, undefined, callback, 2, args, NULL);
  }
  free(w);
}

static void *reap(void *arg) {
  waiter *w = arg;
  int status = 0;
  while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR) {
  }
  w->status = status;
  napi_threadsafe_function done = w->done;
  if (napi_call_threadsafe_function(done, w, napi_tsfn_blocking) != napi_ok) free(w);
  napi_release_threadsafe_function(done, napi_tsfn_release);
  return NULL;
}

static napi_value Wait(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value a[2], name;
  waiter *w = NULL;
  CHECK(napi_get_cb_info(env, info, &argc, a, NULL, NULL));
  w = calloc(1, sizeof *w);
  if (!w) {
    napi_throw_error(env, "ENOMEM", "direct-spawn: out of memory");
    return NULL;
  }
  CHECK(napi_get_value_int32(env, a[0], &w->pid));
  CHECK(napi_create_string_utf8(env, "direct-spawn wait", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_create_threadsafe_function(env, a[1], NULL, name, 0, 1, NULL, NULL, NULL, call_back,
                                        &w->done));
  pthread_attr_t attr;
  pthread_t thread;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  int rc = pthread_create(&thread, &attr, reap, w);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    napi_release_threadsafe_function(w->done, napi_tsfn_release);
    free(w);
    napi_throw_error(env, "EAGAIN", "direct-spawn: could not start a thread to wait for the child");
    return NULL;
  }
  return NULL;
fail:
  free(w);
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_value f;
  if (napi_create_function(env, "spawn", NAPI_AUTO_LENGTH, Spawn, NULL, &f) != napi_ok ||
      napi_set_named_property(env, exports, "spawn", f) != napi_ok ||
      napi_create_function(env, "wait", NAPI_AUTO_LENGTH, Wait, NULL, &f) != napi_ok ||
      napi_set_named_property(env, exports, "wait", f) != napi_ok)
    return NULL;
  return exports;
}
