/*
 * startWriteback(fd, offset, length): Promise<void>: Linux's
 * sync_file_range(SYNC_FILE_RANGE_WRITE) on the thread pool, for
 * lib/fs/writeback.ts.
 *
 * Why: the rolling sink pushes a growing file's bytes to the disk every few
 * MiB, so that the fsync at its seal has little left to wait for. With
 * fdatasync that push held one of libuv's four pool threads for 2-7 ms each
 * time (the journal commit), while the compressions held the others: the
 * next read of the input and the next write of the file waited behind it.
 * SYNC_FILE_RANGE_WRITE only queues the range's dirty pages for writing and
 * returns (~0.1 ms for 4 MiB here), and the seal's fsync after it took 2 ms
 * against 25 ms after nothing. It promises nothing about durability: the
 * seal's fsync still does that, and still reports a page that failed to
 * write.
 *
 * `length` 0 is the call's own "to the end of the file" (the one caller
 * passes the MiB written since the last push, never 0).
 *
 * Rejects with an Error carrying `errno` (positive) and `syscall`; a
 * platform without sync_file_range exports nothing (lib/fs/writeback.ts
 * then uses fdatasync).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "addon.h"

#ifdef __linux__

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  int fd;
  int64_t offset;
  int64_t length;
  int error; /* errno, 0 for none */
} writeback_job_t;

static void writeback_execute (napi_env env, void *data) {
  (void)env;
  writeback_job_t *job = data;
  job->error = sync_file_range(job->fd, job->offset, job->length, SYNC_FILE_RANGE_WRITE) == 0 ? 0 : errno;
}

static void writeback_complete (napi_env env, napi_status status, void *data) {
  writeback_job_t *job = data;
  napi_value result = NULL;
  int failed = status != napi_ok || job->error != 0;
  if (!failed) {
    napi_get_undefined(env, &result);
  } else {
    int code = job->error != 0 ? job->error : ECANCELED;
    napi_value message, number, syscall;
    if (napi_create_string_utf8(env, strerror(code), NAPI_AUTO_LENGTH, &message) == napi_ok &&
        napi_create_error(env, NULL, message, &result) == napi_ok &&
        napi_create_int32(env, code, &number) == napi_ok &&
        napi_create_string_utf8(env, "sync_file_range", NAPI_AUTO_LENGTH, &syscall) == napi_ok) {
      napi_set_named_property(env, result, "errno", number);
      napi_set_named_property(env, result, "syscall", syscall);
    }
  }
  if (result == NULL) napi_get_undefined(env, &result);
  if (failed) napi_reject_deferred(env, job->deferred, result);
  else napi_resolve_deferred(env, job->deferred, result);
  napi_delete_async_work(env, job->work);
  free(job);
}

/* A whole number from 0 to 2^53 - 1 (a file offset or length as JavaScript holds it), else throws. */
static int file_number (napi_env env, napi_value value, const char *what, int64_t *out) {
  double number;
  if (napi_get_value_double(env, value, &number) != napi_ok || !(number >= 0 && number <= 9007199254740991.0) || number != (double)(int64_t)number) {
    char message[96];
    snprintf(message, sizeof message, "startWriteback: %s must be a whole number from 0", what);
    napi_throw_range_error(env, NULL, message);
    return 0;
  }
  *out = (int64_t)number;
  return 1;
}

static napi_value start_writeback (napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc != 3) { napi_throw_type_error(env, NULL, "startWriteback(fd, offset, length)"); return NULL; }
  int64_t fd, offset, length;
  if (!file_number(env, argv[0], "fd", &fd) || !file_number(env, argv[1], "offset", &offset) || !file_number(env, argv[2], "length", &length)) return NULL;
  if (fd > INT32_MAX) { napi_throw_range_error(env, NULL, "startWriteback: fd is not a descriptor"); return NULL; }
  writeback_job_t *job = calloc(1, sizeof *job);
  if (job == NULL) { napi_throw_error(env, NULL, "out of memory"); return NULL; }
  job->fd = (int)fd;
  job->offset = offset;
  job->length = length;
  napi_value promise, name;
  if (napi_create_string_utf8(env, "shoebox:writeback", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_promise(env, &job->deferred, &promise) != napi_ok) {
    free(job);
    return NULL;
  }
  if (napi_create_async_work(env, NULL, name, writeback_execute, writeback_complete, job, &job->work) != napi_ok) {
    job->error = EAGAIN;
    writeback_complete(env, napi_generic_failure, job); /* rejects the promise and frees the job */
    return promise;
  }
  if (napi_queue_async_work(env, job->work) != napi_ok) {
    job->error = EAGAIN;
    writeback_complete(env, napi_generic_failure, job);
  }
  return promise;
}

napi_value writeback_export (napi_env env, napi_value exports) {
  napi_value fn;
  if (napi_create_function(env, "startWriteback", NAPI_AUTO_LENGTH, start_writeback, NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "startWriteback", fn) != napi_ok) return NULL;
  return exports;
}

#else

napi_value writeback_export (napi_env env, napi_value exports) {
  (void)env;
  return exports;
}

#endif
