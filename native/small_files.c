/*
 * readSmallFiles(): several small files read whole on ONE libuv pool job
 * (lib/native.ts, used by FileStore.getWhole through lib/store/whole-batch.ts).
 *
 * Why this exists: reading 10,000 one-record archives, each file's open,
 * read (and the listing's stat) was a thread-pool round trip with its own JS
 * callback; those callbacks and the waits between them were about half the
 * main thread's time, where `cat` pays the same system calls in C. Here one
 * job does, for each path, open + fstat + one read + close, and the main
 * thread hears once for the batch.
 *
 * Nothing here decides what a failure means: a path that cannot be opened,
 * is not a regular file, is larger than the cap or has grown past the size
 * expected is reported as such (with the errno and the call where there is
 * one), and the caller reads that file as it otherwise would, which gives
 * the error or the stream it always gave.
 *
 * The bytes of the files read go into one allocation for the batch (at most
 * count x (cap + 1) bytes), handed over as one Buffer that owns it; each
 * file's bytes are a range of it.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include "addon.h"

#if defined(__unix__) || defined(__APPLE__)

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif

/* The most paths one call takes, and the largest cap: a batch holds at most MAX_PATHS x (cap + 1) bytes. */
#define MAX_PATHS 64
#define MAX_CAP (64 * 1024 * 1024)

/* What results[i * RESULT_STRIDE] says of path i (lib/native.ts, SmallFileOutcome). */
enum {
  READ_OK = 0,        /* [1] offset in bytes, [2] length, [3] fstat size, [4] mtime in ms */
  READ_FAILED = 1,    /* [1] errno, [2] the call: 1 open, 2 fstat, 3 read */
  NOT_A_FILE = 2,     /* not a regular file (a directory, FIFO, socket, device) */
  OVER_CAP = 3,       /* [3] fstat size, larger than the cap */
  GREW = 4,           /* more bytes than expected (the file grew since it was sized) */
  NOT_READ = 5        /* not tried: a path holding a NUL byte (it would name another file) */
};
#define RESULT_STRIDE 5

/* A path's bytes converted in one call when it fits (longer ones take two). */
#define PATH_BYTES 4096

typedef struct {
  char *path;          /* NULL: NOT_READ */
  double expected;     /* bytes expected (a listing's size), or < 0: fstat's */
} wanted_t;

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  size_t count;
  size_t cap;
  wanted_t wanted[MAX_PATHS];
  double results[MAX_PATHS * RESULT_STRIDE];
  unsigned char *bytes;
  size_t used;
  size_t room;
  int out_of_memory;
} batch_t;

static double mtime_ms (const struct stat *st) {
#if defined(__APPLE__)
  return (double)st->st_mtimespec.tv_sec * 1000.0 + (double)st->st_mtimespec.tv_nsec / 1e6;
#else
  return (double)st->st_mtim.tv_sec * 1000.0 + (double)st->st_mtim.tv_nsec / 1e6;
#endif
}

/* Room for `more` bytes after those used; 0 when there is no memory for it. */
static int make_room (batch_t *b, size_t more) {
  if (b->room - b->used >= more) return 1;
  size_t room = b->room == 0 ? 4096 : b->room;
  while (room - b->used < more) room *= 2;
  unsigned char *grown = realloc(b->bytes, room);
  if (grown == NULL) return 0;
  b->bytes = grown;
  b->room = room;
  return 1;
}

static void read_one (batch_t *b, size_t i) {
  double *r = &b->results[i * RESULT_STRIDE];
  const wanted_t *w = &b->wanted[i];
  if (w->path == NULL) { r[0] = NOT_READ; return; }
  /* Non-blocking: a FIFO opens at once instead of holding this pool thread until a writer comes (then refused). */
  int fd;
  do fd = open(w->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); while (fd < 0 && errno == EINTR);
  if (fd < 0) { r[0] = READ_FAILED; r[1] = errno; r[2] = 1; return; }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    r[0] = READ_FAILED; r[1] = errno; r[2] = 2;
  } else if (!S_ISREG(st.st_mode)) {
    r[0] = NOT_A_FILE;
  } else {
    double size = w->expected >= 0 ? w->expected : (double)st.st_size;
    if (size > (double)b->cap || (double)st.st_size > (double)b->cap) {
      r[0] = OVER_CAP; r[3] = (double)st.st_size;
    } else if (!make_room(b, (size_t)size + 1)) {
      b->out_of_memory = 1;
      r[0] = NOT_READ;
    } else {
      /* One byte more than expected: a short read is the end (a regular file reads short only there); a full one, growth. */
      ssize_t n;
      do n = pread(fd, b->bytes + b->used, (size_t)size + 1, 0); while (n < 0 && errno == EINTR);
      if (n < 0) {
        r[0] = READ_FAILED; r[1] = errno; r[2] = 3;
      } else if ((double)n > size) {
        r[0] = GREW;
      } else {
        r[0] = READ_OK; r[1] = (double)b->used; r[2] = (double)n; r[3] = (double)st.st_size; r[4] = mtime_ms(&st);
        b->used += (size_t)n;
      }
    }
  }
  close(fd); /* read-only, read to its end: nothing to keep from a failing close */
}

static void execute (napi_env env, void *data) {
  (void)env;
  batch_t *b = data;
  for (size_t i = 0; i < b->count; i++) read_one(b, i);
}

static void free_batch (batch_t *b) {
  for (size_t i = 0; i < b->count; i++) free(b->wanted[i].path);
  free(b->bytes);
  free(b);
}

static void free_bytes (napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

/* { bytes: Buffer, results: Float64Array }, or NULL (a JS exception may be pending). */
static napi_value outcome (napi_env env, batch_t *b) {
  napi_value bytes, results_buffer, results, out;
  if (b->used == 0) {
    if (napi_create_buffer(env, 0, NULL, &bytes) != napi_ok) return NULL;
  } else if (napi_create_external_buffer(env, b->used, b->bytes, free_bytes, NULL, &bytes) == napi_ok) {
    b->bytes = NULL; /* the Buffer owns them now */
  } else {
    /* A runtime without external buffers: one copy. */
    void *copy;
    if (napi_create_buffer_copy(env, b->used, b->bytes, &copy, &bytes) != napi_ok) return NULL;
  }
  void *slots;
  size_t length = b->count * RESULT_STRIDE;
  if (napi_create_arraybuffer(env, length * sizeof(double), &slots, &results_buffer) != napi_ok) return NULL;
  memcpy(slots, b->results, length * sizeof(double));
  if (napi_create_typedarray(env, napi_float64_array, length, results_buffer, 0, &results) != napi_ok ||
      napi_create_object(env, &out) != napi_ok ||
      napi_set_named_property(env, out, "bytes", bytes) != napi_ok ||
      napi_set_named_property(env, out, "results", results) != napi_ok) return NULL;
  return out;
}

static void reject_with (napi_env env, napi_deferred deferred, const char *text) {
  napi_value message, error;
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, NULL, message, &error);
  napi_reject_deferred(env, deferred, error);
}

static void complete (napi_env env, napi_status status, void *data) {
  batch_t *b = data;
  napi_value out = NULL;
  if (status == napi_cancelled) reject_with(env, b->deferred, "cancelled");
  else if (b->out_of_memory) reject_with(env, b->deferred, "out of memory (reading small files)");
  else if ((out = outcome(env, b)) == NULL) reject_with(env, b->deferred, "out of memory (no Buffer for the files read)");
  else napi_resolve_deferred(env, b->deferred, out);
  napi_delete_async_work(env, b->work);
  free_batch(b);
}

/* A path argument as a NUL-terminated copy: a string (UTF-8) or the bytes of a Uint8Array; NULL (and *nul set) if it holds a NUL byte. */
static int copy_path (napi_env env, napi_value value, char **out) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok) return 0;
  size_t length;
  char *copy;
  if (type == napi_string) {
    /* One conversion where the path fits PATH_BYTES (asking for the length first walked every string twice). */
    char text[PATH_BYTES];
    if (napi_get_value_string_utf8(env, value, text, sizeof text, &length) != napi_ok) return 0;
    /* The conversion stops before a character that does not fit whole (up to 4 bytes in UTF-8), so it may stop
     * 1-3 bytes short of the room: only with 4 bytes to spare is the string surely all there (else a path of
     * 4,097 bytes ending in a 3-byte character read as its first 4,094, which can name another file). */
    if (length + 4 < sizeof text) {
      if ((copy = malloc(length + 1)) == NULL) { napi_throw_error(env, NULL, "out of memory"); return 0; }
      memcpy(copy, text, length);
    } else {
      if (napi_get_value_string_utf8(env, value, NULL, 0, &length) != napi_ok) return 0;
      if ((copy = malloc(length + 1)) == NULL) { napi_throw_error(env, NULL, "out of memory"); return 0; }
      if (napi_get_value_string_utf8(env, value, copy, length + 1, &length) != napi_ok) { free(copy); return 0; }
    }
  } else {
    void *data;
    if (!typed_array(env, value, napi_uint8_array, "readSmallFiles(paths: Array<string | Uint8Array>, expected: Float64Array, cap: number)", &data, &length)) return 0;
    if ((copy = malloc(length + 1)) == NULL) { napi_throw_error(env, NULL, "out of memory"); return 0; }
    memcpy(copy, data, length);
  }
  copy[length] = '\0';
  if (strlen(copy) != length) { free(copy); copy = NULL; }
  *out = copy;
  return 1;
}

/*
 * readSmallFiles(paths: Array<string | Uint8Array>, expected: Float64Array, cap: number):
 *   Promise<{ bytes: Buffer, results: Float64Array }>
 * Each path read whole on one pool job; expected[i] is its size as listed
 * (< 0: unknown, fstat's). results holds RESULT_STRIDE numbers a path (the
 * enum above). At most MAX_PATHS paths; throws on bad arguments.
 */
static napi_value read_small_files (napi_env env, napi_callback_info info) {
  const char *usage = "readSmallFiles(paths: Array<string | Uint8Array>, expected: Float64Array, cap: number)";
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  bool is_array;
  uint32_t count;
  double *expected;
  size_t expected_length;
  double cap;
  const char *ranges = "readSmallFiles: at most 64 paths, one expected size each, and a cap of at most 64 MiB";
  if (argc != 3 || napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, argv[0], &count) != napi_ok) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  if (napi_get_value_double(env, argv[2], &cap) != napi_ok) { napi_throw_type_error(env, NULL, usage); return NULL; }
  if (count > MAX_PATHS || !(cap >= 0 && cap <= MAX_CAP)) { napi_throw_range_error(env, NULL, ranges); return NULL; }
  batch_t *b = calloc(1, sizeof *b);
  if (b == NULL) { napi_throw_error(env, NULL, "out of memory"); return NULL; }
  b->cap = (size_t)cap;
  for (uint32_t i = 0; i < count; i++) {
    napi_value path;
    if (napi_get_element(env, argv[0], i, &path) != napi_ok || !copy_path(env, path, &b->wanted[i].path)) {
      free_batch(b);
      return NULL;
    }
    b->count = i + 1;
  }
  /* `expected` is looked at only now: reading an element can run JavaScript (a getter), which could detach or
   * shrink its buffer under a pointer taken before; from here on none runs until its numbers are copied. */
  if (!typed_array(env, argv[1], napi_float64_array, usage, (void **)&expected, &expected_length)) { free_batch(b); return NULL; }
  if (expected_length != count) { free_batch(b); napi_throw_range_error(env, NULL, ranges); return NULL; }
  for (uint32_t i = 0; i < count; i++) b->wanted[i].expected = expected[i] > b->cap ? (double)b->cap + 1 : expected[i];
  napi_value promise, name;
  if (napi_create_string_utf8(env, "shoebox:smallFiles", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_promise(env, &b->deferred, &promise) != napi_ok) {
    free_batch(b);
    return NULL;
  }
  if (napi_create_async_work(env, NULL, name, execute, complete, b, &b->work) != napi_ok ||
      napi_queue_async_work(env, b->work) != napi_ok) {
    reject_with(env, b->deferred, "could not queue the work");
    free_batch(b);
  }
  return promise;
}

napi_value small_files_export (napi_env env, napi_value exports) {
  napi_value fn;
  if (napi_create_function(env, "readSmallFiles", NAPI_AUTO_LENGTH, read_small_files, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "readSmallFiles", fn) != napi_ok) return NULL;
  return exports;
}

#else

napi_value small_files_export (napi_env env, napi_value exports) {
  (void)env;
  return exports;
}

#endif
