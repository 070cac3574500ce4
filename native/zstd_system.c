/*
 * zstd through the system's libzstd (see lib/compress/zstd-loader.ts, the
 * 'libzstd' backend): compress one block into one frame, decompress frames,
 * on libuv's thread pool; and a streaming decoder for text input (below).
 *
 * Why this exists: on Node 20 shoebox otherwise compresses through
 * @mongodb-js/zstd, whose binding (Rust, napi-rs) makes a new compression
 * context for every call and copies every input block before compressing
 * it; over 200 MB of event NDJSON in 1 MiB blocks at level 1, one call at
 * a time, that costs 0.48-0.52 CPU-seconds against 0.44-0.47 here, and a
 * whole `shoebox write --zstd` of it 0.055-0.09 more (bench/RESULTS.md).
 * Here each pool thread
 * keeps its own contexts (thread-local, made on its first job, reused for
 * the life of the process), compresses straight from the caller's buffer
 * (a reference keeps it alive; nothing is copied in), and the frame goes
 * out in a Buffer of its own size (its room shrunk in place), or into a
 * room the caller gives and uses again (zstdCompressInto).
 *
 * The library is opened at run time (dlopen by soname: libzstd.so.1, or
 * libzstd.1.dylib), not linked: users' machines have the library far more
 * often than its header, and a machine without it must still load this
 * addon (the record functions live in it too). So the few functions used
 * are declared here by hand: all of zstd's stable API, whose ABI has not
 * changed since 1.4.0 (ZSTD_compress2 and the parameters are from 1.4.0), and the library is refused below that version. No
 * Windows: nothing is exported there, as on a failed open, and shoebox uses
 * the next backend.
 */
/* RTLD_DEEPBIND and RTLD_DEFAULT (glibc declares them only so). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#define NAPI_VERSION 8
#include <node_api.h>
#include "addon.h"

#if defined(__unix__) || defined(__APPLE__)

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The stable API's types, as zstd.h (>= 1.4.0) declares them. */
typedef struct { const void *src; size_t size; size_t pos; } zstd_in_buffer;
typedef struct { void *dst; size_t size; size_t pos; } zstd_out_buffer;
#define ZSTD_CONTENTSIZE_UNKNOWN (0ULL - 1)
#define ZSTD_CONTENTSIZE_ERROR (0ULL - 2)
#define ZSTD_RESET_SESSION_ONLY 1
#define ZSTD_RESET_SESSION_AND_PARAMETERS 3
#define ZSTD_C_COMPRESSION_LEVEL 100
#define ZSTD_C_CONTENT_SIZE_FLAG 200
#define ZSTD_D_WINDOW_LOG_MAX 100

/* The library's functions, resolved once by zstd_open(). */
static struct {
  unsigned (*versionNumber) (void);
  int (*minCLevel) (void);
  int (*maxCLevel) (void);
  size_t (*compressBound) (size_t);
  unsigned (*isError) (size_t);
  const char *(*getErrorName) (size_t);
  void *(*createCCtx) (void);
  size_t (*CCtx_reset) (void *cctx, int directive);
  size_t (*CCtx_setParameter) (void *cctx, int parameter, int value);
  size_t (*compress2) (void *cctx, void *dst, size_t capacity, const void *src, size_t size);
  void *(*createDCtx) (void);
  size_t (*DCtx_reset) (void *dctx, int directive);
  size_t (*decompressDCtx) (void *dctx, void *dst, size_t capacity, const void *src, size_t size);
  unsigned long long (*getFrameContentSize) (const void *src, size_t size);
  size_t (*findFrameCompressedSize) (const void *src, size_t size);
  size_t (*decompressStream) (void *dctx, zstd_out_buffer *out, zstd_in_buffer *in);
  size_t (*DCtx_setParameter) (void *dctx, int parameter, int value);
  size_t (*freeDCtx) (void *dctx);
} lib;

/* One library per process, opened by the first zstdOpen() that succeeds (worker threads load this addon too). */
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static int opened = 0;
static int level_min, level_max;

/* Each pool thread's contexts: a thread runs one job at a time, so no lock, and no context made per call. */
static __thread void *thread_cctx = NULL;
static __thread void *thread_dctx = NULL;

/* The most content one decompress() returns: a Buffer's limit on 64-bit Node (4 GiB), far past maxFrameSize. */
#define CONTENT_MAX ((size_t)1 << 32)

#if defined(__APPLE__)
#define DEFAULT_LIBRARY "libzstd.1.dylib"
#else
#define DEFAULT_LIBRARY "libzstd.so.1"
#endif

/* Resolve every function or none; on failure `why` says which is missing. */
static int resolve (void *handle, char *why, size_t why_size) {
  struct { const char *name; void **slot; } table[] = {
    { "ZSTD_versionNumber", (void **)&lib.versionNumber },
    { "ZSTD_minCLevel", (void **)&lib.minCLevel },
    { "ZSTD_maxCLevel", (void **)&lib.maxCLevel },
    { "ZSTD_compressBound", (void **)&lib.compressBound },
    { "ZSTD_isError", (void **)&lib.isError },
    { "ZSTD_getErrorName", (void **)&lib.getErrorName },
    { "ZSTD_createCCtx", (void **)&lib.createCCtx },
    { "ZSTD_CCtx_reset", (void **)&lib.CCtx_reset },
    { "ZSTD_CCtx_setParameter", (void **)&lib.CCtx_setParameter },
    { "ZSTD_compress2", (void **)&lib.compress2 },
    { "ZSTD_createDCtx", (void **)&lib.createDCtx },
    { "ZSTD_DCtx_reset", (void **)&lib.DCtx_reset },
    { "ZSTD_decompressDCtx", (void **)&lib.decompressDCtx },
    { "ZSTD_getFrameContentSize", (void **)&lib.getFrameContentSize },
    { "ZSTD_findFrameCompressedSize", (void **)&lib.findFrameCompressedSize },
    { "ZSTD_decompressStream", (void **)&lib.decompressStream },
    { "ZSTD_DCtx_setParameter", (void **)&lib.DCtx_setParameter },
    { "ZSTD_freeDCtx", (void **)&lib.freeDCtx }
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    *table[i].slot = dlsym(handle, table[i].name);
    if (*table[i].slot == NULL) {
      snprintf(why, why_size, "it has no %s", table[i].name);
      memset(&lib, 0, sizeof lib);
      return 0;
    }
  }
  return 1;
}

/*
 * How the library is opened. Node 22.15 and later carry zstd of their own
 * and export its symbols (ZSTD_freeCDict, ...) from the executable, which
 * comes first in the global lookup scope: the system library's calls to
 * its own functions then bound to Node's, another version with other
 * structures, and the first compression crashed (SIGSEGV in ZSTD_CCtx_reset
 * -> Node's ZSTD_freeCDict, Node 22.23 and 24.22 over libzstd 1.5.4).
 * RTLD_DEEPBIND puts the library's own definitions first. Only then: it is
 * a glibc extension that AddressSanitizer refuses (the fuzz runs, on Node
 * 20, where no zstd is in the global scope). Where it does not exist
 * (musl) and zstd is already there, the library is not opened (below). On
 * macOS a library's calls to itself are bound within it (two-level
 * namespace): nothing to do.
 */
static int zstd_in_global_scope (void) {
  return dlsym(RTLD_DEFAULT, "ZSTD_versionNumber") != NULL;
}

static int open_flags (void) {
#ifdef RTLD_DEEPBIND
  if (zstd_in_global_scope()) return RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND;
#endif
  return RTLD_NOW | RTLD_LOCAL;
}

/*
 * zstdOpen(library?: string): number
 * Open the system's libzstd (`library`: a file name or path, default the
 * platform's soname) and return its ZSTD_versionNumber(); throws why not
 * (not found, not zstd, older than 1.4.0). Once one has opened, later calls
 * return its version whatever they name: the contexts of the pool threads
 * belong to it.
 */
static napi_value zstd_open (napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  char name[4096] = DEFAULT_LIBRARY;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  napi_valuetype type = napi_undefined;
  if (argc >= 1 && napi_typeof(env, argv[0], &type) != napi_ok) return NULL;
  if (type == napi_string) {
    size_t length;
    if (napi_get_value_string_utf8(env, argv[0], name, sizeof name, &length) != napi_ok) return NULL;
    if (length >= sizeof name - 1) { napi_throw_range_error(env, NULL, "zstdOpen: the library's path is too long"); return NULL; }
  } else if (type != napi_undefined) {
    napi_throw_type_error(env, NULL, "zstdOpen(library?: string)");
    return NULL;
  }
  char why[4352] = "";
  pthread_mutex_lock(&open_lock);
  if (!opened) {
#if !defined(RTLD_DEEPBIND) && !defined(__APPLE__)
    if (zstd_in_global_scope()) {
      snprintf(why, sizeof why, "%s: not opened, as this process already has zstd functions of its own (Node's), which would take the place of the library's", name);
      pthread_mutex_unlock(&open_lock);
      napi_throw_error(env, NULL, why);
      return NULL;
    }
#endif
    void *handle = dlopen(name, open_flags());
    /* What a missing function is said after: the library's name. */
    size_t named = (size_t)snprintf(why, sizeof why, "%s: ", name);
    if (named >= sizeof why) named = sizeof why - 1;
    if (handle == NULL) {
      const char *error = dlerror();
      snprintf(why, sizeof why, "%s", error != NULL ? error : name);
    } else if (!resolve(handle, why + named, sizeof why - named)) {
      dlclose(handle);
    } else if (lib.versionNumber() < 10400) {
      unsigned v = lib.versionNumber();
      snprintf(why, sizeof why, "%s: zstd %u.%u.%u is older than 1.4.0", name, v / 10000, v / 100 % 100, v % 100);
      memset(&lib, 0, sizeof lib);
      dlclose(handle);
    } else {
      level_min = lib.minCLevel();
      level_max = lib.maxCLevel();
      opened = 1; /* the handle stays open for the life of the process */
    }
  }
  int ok = opened;
  pthread_mutex_unlock(&open_lock);
  if (!ok) { napi_throw_error(env, NULL, why); return NULL; }
  napi_value version;
  if (napi_create_uint32(env, lib.versionNumber(), &version) != napi_ok) return NULL;
  return version;
}

/* One compression or decompression on the pool, from its call to its promise. */
typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref input; /* keeps the caller's buffer alive while the pool reads it */
  const uint8_t *src;
  size_t size;
  int level;
  size_t bound; /* decompress: the room for one pass (NO_BOUND: none given) */
  uint8_t *out; /* malloc'd; handed to the Buffer, which frees it */
  size_t out_size;
  /* zstdCompressInto: the caller's room, kept alive by `room` while the pool writes into it (out stays NULL) */
  napi_ref room;
  uint8_t *dst;
  size_t dst_capacity;
  const char *error; /* a static string (ours, or ZSTD_getErrorName's) */
} job_t;

static const uint8_t nothing[1] = { 0 };

static void fail (job_t *job, const char *error) {
  free(job->out);
  job->out = NULL;
  job->out_size = 0;
  job->error = error;
}

/* Shrink `job->out` to its content, in place (realloc of a smaller size does not move it in practice). */
static void shrink (job_t *job) {
  if (job->out_size == 0) {
    free(job->out);
    job->out = NULL;
    return;
  }
  uint8_t *smaller = realloc(job->out, job->out_size);
  if (smaller != NULL) job->out = smaller;
}

static void compress_execute (napi_env env, void *data) {
  (void)env;
  job_t *job = data;
  if (thread_cctx == NULL) thread_cctx = lib.createCCtx();
  if (thread_cctx == NULL) { fail(job, "out of memory (ZSTD_createCCtx)"); return; }
  /* zstdCompressInto: the caller's room (a room smaller than the frame fails, "Destination buffer is too small"). */
  size_t capacity = job->dst != NULL ? job->dst_capacity : lib.compressBound(job->size);
  uint8_t *out = job->dst;
  if (out == NULL) {
    job->out = out = malloc(capacity);
    if (out == NULL) { fail(job, "out of memory"); return; }
  }
  /* No content size in the frame header, as @mongodb-js/zstd writes them (see zstdCompress below). */
  size_t written = lib.CCtx_reset(thread_cctx, ZSTD_RESET_SESSION_AND_PARAMETERS);
  if (!lib.isError(written)) written = lib.CCtx_setParameter(thread_cctx, ZSTD_C_COMPRESSION_LEVEL, job->level);
  if (!lib.isError(written)) written = lib.CCtx_setParameter(thread_cctx, ZSTD_C_CONTENT_SIZE_FLAG, 0);
  if (!lib.isError(written)) written = lib.compress2(thread_cctx, out, capacity, job->size > 0 ? job->src : nothing, job->size);
  if (lib.isError(written)) { fail(job, lib.getErrorName(written)); return; }
  job->out_size = written;
  if (job->dst != NULL) return;
  /*
   * Right-sized: a frame is about a fifth of its room, and frames wait in
   * the sink's queue. (A per-thread room, the frame copied out, made fewer
   * page faults but no measurable CPU difference, and ~10 MB more RSS.)
   */
  shrink(job);
}

/* Room for `more` bytes past job->out_size in job->out (of *capacity), within `limit`; 0 when there is none to be had. */
static int reserve (job_t *job, size_t *capacity, size_t more, int exactly, size_t limit) {
  if (more > limit - job->out_size) {
    fail(job, limit == CONTENT_MAX ? "the content is larger than a Buffer can hold" : "the frames hold more than the bound their headers give");
    return 0;
  }
  size_t need = job->out_size + more;
  if (need <= *capacity && *capacity > 0) return 1;
  size_t grown = exactly ? need : (*capacity * 2 > need ? *capacity * 2 : need);
  if (grown > limit) grown = need;
  if (grown == 0) grown = 1;
  uint8_t *out = realloc(job->out, grown);
  if (out == NULL) { fail(job, "out of memory"); return 0; }
  job->out = out;
  *capacity = grown;
  return 1;
}

#define NO_BOUND SIZE_MAX

/*
 * The frames in job->src decompressed into job->bound bytes of room, in one
 * call: straight into the output, where a frame without a content size
 * would otherwise stream through the library's window and be copied out of
 * it. 0 when that fails (damage: the frame-by-frame path below then says
 * what the library says of it, in the package's words).
 */
static int decompress_in_one_pass (job_t *job) {
  job->out = malloc(job->bound > 0 ? job->bound : 1);
  if (job->out == NULL) return 0;
  size_t got = lib.decompressDCtx(thread_dctx, job->out, job->bound, job->src, job->size);
  if (lib.isError(got)) {
    free(job->out);
    job->out = NULL;
    return 0;
  }
  job->out_size = got;
  /*
   * Shrunk only when much of the room is left over (a bound far above the
   * content: blocks of little content each). Shrinking a frame's few KB of
   * slack cost more than it saved: glibc serves a 1 MiB allocation by mmap,
   * and once the smaller chunk is freed its threshold follows that size, so
   * the next frame's room is a fresh mapping again, its pages faulted in
   * anew (reading the 200 MB benchmark: ~60k page faults against ~40k, and
   * a median 0.92 CPU-s against 0.86 over 6 interleaved pairs).
   */
  if (job->bound - got > got / 4) shrink(job);
  return 1;
}

/*
 * The content of the frames in job->src, one frame at a time. A frame whose
 * header gives its content size is decompressed in one call into exactly
 * that much room, so a frame whose blocks hold more fails rather than
 * growing (the bound lib/compress/zstd-frame.ts relies on). A frame without
 * one (other encoders', and the frames of a salvage) is streamed into a
 * buffer that grows: its blocks bound it, and the reader has checked that
 * bound against maxFrameSize before handing the frame here. Given a bound,
 * the content never grows past it: a frame that would is an error.
 */
static void decompress_execute (napi_env env, void *data) {
  (void)env;
  job_t *job = data;
  if (job->size == 0) { fail(job, "incomplete frame"); return; } /* as @mongodb-js/zstd says */
  if (thread_dctx == NULL) thread_dctx = lib.createDCtx();
  if (thread_dctx == NULL) { fail(job, "out of memory (ZSTD_createDCtx)"); return; }
  if (job->bound != NO_BOUND && decompress_in_one_pass(job)) return;
  const size_t limit = job->bound != NO_BOUND ? job->bound : CONTENT_MAX;
  size_t capacity = 0;
  size_t at = 0;
  while (at < job->size) {
    const uint8_t *frame = job->src + at;
    size_t left = job->size - at;
    size_t length = lib.findFrameCompressedSize(frame, left);
    unsigned long long content = lib.isError(length) ? ZSTD_CONTENTSIZE_ERROR : lib.getFrameContentSize(frame, left);
    if (content != ZSTD_CONTENTSIZE_UNKNOWN && content != ZSTD_CONTENTSIZE_ERROR) {
      if (content > CONTENT_MAX) { fail(job, "the content is larger than a Buffer can hold"); return; }
      if (!reserve(job, &capacity, (size_t)content, 1, limit)) return;
      size_t got = lib.decompressDCtx(thread_dctx, job->out + job->out_size, (size_t)content, frame, length);
      if (lib.isError(got)) { fail(job, lib.getErrorName(got)); return; }
      job->out_size += got;
      at += length;
      continue;
    }
    /* Streamed: an unknown size, or a header or length the library could not read (its error comes from here). */
    lib.DCtx_reset(thread_dctx, ZSTD_RESET_SESSION_ONLY);
    zstd_in_buffer in = { frame, left, 0 };
    for (;;) {
      if (job->out_size == capacity) {
        /* 8x the compressed bytes, from 128 KiB to 64 MiB, then doubled as needed. */
        size_t guess = left < ((size_t)16 << 10) ? ((size_t)128 << 10) : left < ((size_t)8 << 20) ? left * 8 : ((size_t)64 << 20);
        size_t more = capacity == 0 ? guess : capacity;
        /* At the bound: no room, and the frame must end without more content (below). */
        if (more > limit - job->out_size) more = limit - job->out_size;
        if (!reserve(job, &capacity, more, 0, limit)) return;
      }
      /* (A bound of 0 still has 1 byte allocated: the room given is the bound's.) */
      zstd_out_buffer out = { job->out + job->out_size, (capacity < limit ? capacity : limit) - job->out_size, 0 };
      size_t before = in.pos;
      size_t hint = lib.decompressStream(thread_dctx, &out, &in);
      job->out_size += out.pos;
      if (lib.isError(hint)) {
        lib.DCtx_reset(thread_dctx, ZSTD_RESET_SESSION_ONLY);
        fail(job, lib.getErrorName(hint));
        return;
      }
      if (hint == 0) break; /* the frame is decoded and flushed */
      if (out.size == 0 && in.pos == before) {
        lib.DCtx_reset(thread_dctx, ZSTD_RESET_SESSION_ONLY);
        fail(job, "the frames hold more than the bound their headers give");
        return;
      }
      if (in.pos == in.size && out.pos < out.size) {
        lib.DCtx_reset(thread_dctx, ZSTD_RESET_SESSION_ONLY);
        fail(job, "incomplete frame");
        return;
      }
    }
    at += in.pos;
  }
  shrink(job);
}

static void free_content (napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

/* Settle the job's promise: its output as a Buffer that owns it, or an Error with the library's words. */
static void complete (napi_env env, napi_status status, void *data) {
  job_t *job = data;
  napi_delete_reference(env, job->input);
  if (job->room != NULL) napi_delete_reference(env, job->room);
  napi_value result = NULL;
  int rejected = 1;
  if (status == napi_cancelled) job->error = "cancelled";
  if (job->error == NULL) {
    if (job->dst != NULL) {
      /* zstdCompressInto: the frame's length (a frame is far under 2^53 bytes). */
      if (napi_create_double(env, (double)job->out_size, &result) == napi_ok) rejected = 0;
    } else if (job->out == NULL) {
      if (napi_create_buffer(env, 0, NULL, &result) == napi_ok) rejected = 0;
    } else if (napi_create_external_buffer(env, job->out_size, job->out, free_content, NULL, &result) == napi_ok) {
      job->out = NULL; /* the Buffer owns it now */
      rejected = 0;
    } else {
      /* A runtime without external buffers: one copy. */
      void *copy;
      if (napi_create_buffer_copy(env, job->out_size, job->out, &copy, &result) == napi_ok) rejected = 0;
    }
    if (rejected) job->error = "out of memory (no Buffer for the output)";
  }
  free(job->out);
  if (rejected) {
    napi_value message;
    if (napi_create_string_utf8(env, job->error, NAPI_AUTO_LENGTH, &message) == napi_ok) {
      napi_create_error(env, NULL, message, &result);
    }
    napi_reject_deferred(env, job->deferred, result);
  } else {
    napi_resolve_deferred(env, job->deferred, result);
  }
  napi_delete_async_work(env, job->work);
  free(job);
}

/* Queue `execute` over argument 0 (a Uint8Array) on the pool; returns its promise, or throws (argument, memory). */
static napi_value start (napi_env env, napi_value input, int level, size_t bound, napi_async_execute_callback execute, const char *usage, napi_value room) {
  void *src = NULL;
  size_t size = 0;
  if (!typed_array(env, input, napi_uint8_array, usage, &src, &size)) return NULL;
  void *dst = NULL;
  size_t dst_capacity = 0;
  if (room != NULL && !typed_array(env, room, napi_uint8_array, "zstdCompressInto: room must be a Uint8Array", &dst, &dst_capacity)) return NULL;
  /* A frame is never empty: an empty room could not be told from "no room" (out NULL), and could hold no frame. */
  if (room != NULL && (dst == NULL || dst_capacity == 0)) { napi_throw_range_error(env, NULL, "zstdCompressInto: room is empty"); return NULL; }
  job_t *job = calloc(1, sizeof *job);
  if (job == NULL) { napi_throw_error(env, NULL, "out of memory"); return NULL; }
  job->src = src;
  job->size = size;
  job->level = level;
  job->bound = bound;
  job->dst = dst;
  job->dst_capacity = dst_capacity;
  napi_value promise, name;
  if (napi_create_reference(env, input, 1, &job->input) != napi_ok) { free(job); return NULL; }
  if (room != NULL && napi_create_reference(env, room, 1, &job->room) != napi_ok) {
    napi_delete_reference(env, job->input);
    free(job);
    return NULL;
  }
  if (napi_create_string_utf8(env, "shoebox:zstd", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_promise(env, &job->deferred, &promise) != napi_ok) {
    napi_delete_reference(env, job->input);
    if (job->room != NULL) napi_delete_reference(env, job->room);
    free(job);
    return NULL;
  }
  if (napi_create_async_work(env, NULL, name, execute, complete, job, &job->work) != napi_ok ||
      napi_queue_async_work(env, job->work) != napi_ok) {
    /* The promise is rejected rather than left pending. */
    job->error = "could not queue the work";
    napi_value message, error;
    napi_create_string_utf8(env, job->error, NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, NULL, message, &error);
    napi_reject_deferred(env, job->deferred, error);
    napi_delete_reference(env, job->input);
    if (job->room != NULL) napi_delete_reference(env, job->room);
    free(job);
  }
  return promise;
}

static int require_open (napi_env env) {
  pthread_mutex_lock(&open_lock);
  int ok = opened;
  pthread_mutex_unlock(&open_lock);
  if (ok) return 1;
  napi_throw_error(env, NULL, "libzstd is not open (zstdOpen() first)");
  return 0;
}

/*
 * zstdCompress(data: Uint8Array, level: number): Promise<Buffer>
 * One complete frame of `data`, without content size or checksum, as
 * @mongodb-js/zstd writes them (its bytes differ a little: another zstd
 * version, and a window not fitted to the input): what a reader meets does
 * not depend on the backend that wrote it (the reader's tests tear and
 * damage our frames at every byte, test/compress/zstd.test.ts). A level
 * outside the library's range throws a RangeError (the library would
 * clamp it).
 */
/* zstdCompress(data, level), or with `into` zstdCompressInto(data, level, room) (below). */
static napi_value compress_call (napi_env env, napi_callback_info info, int into) {
  const char *name = into ? "zstdCompressInto" : "zstdCompress";
  size_t argc = 3;
  napi_value argv[3];
  char message[128];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (!require_open(env)) return NULL;
  if (argc != (size_t)(into ? 3 : 2)) {
    snprintf(message, sizeof message, into ? "%s(data, level, room)" : "%s(data, level)", name);
    napi_throw_type_error(env, NULL, message);
    return NULL;
  }
  double level;
  if (napi_get_value_double(env, argv[1], &level) != napi_ok) {
    snprintf(message, sizeof message, "%s: level must be a number", name);
    napi_throw_type_error(env, NULL, message);
    return NULL;
  }
  if (!(level >= level_min && level <= level_max) || level != (double)(int)level) {
    snprintf(message, sizeof message, "%s: level must be an integer from %d to %d, got %g", name, level_min, level_max, level);
    napi_throw_range_error(env, NULL, message);
    return NULL;
  }
  snprintf(message, sizeof message, "%s: data must be a Uint8Array", name);
  return start(env, argv[0], (int)level, NO_BOUND, compress_execute, message, into ? argv[2] : NULL);
}

static napi_value zstd_compress (napi_env env, napi_callback_info info) {
  return compress_call(env, info, 0);
}

/*
 * zstdCompressInto(data: Uint8Array, level: number, room: Uint8Array): Promise<number>
 * zstdCompress(), but the frame is written into `room` (from its start) and
 * the promise gives its length; a room too small for it rejects ("Destination
 * buffer is too small"; compressBound(data.length) bytes always hold it).
 * Why: a room used again has its pages already (lib/compress/frame-rooms.ts),
 * where each frame's own malloc'd room was a fresh mapping. The caller must
 * not read, write or reuse `room` until the promise settles.
 */
static napi_value zstd_compress_into (napi_env env, napi_callback_info info) {
  return compress_call(env, info, 1);
}

/*
 * zstdDecompress(data: Uint8Array, bound?: number): Promise<Buffer>
 * The content of the complete frames in `data` (skippable frames skipped);
 * rejects with the library's error name, or "incomplete frame" when `data`
 * ends inside one (empty too), as @mongodb-js/zstd does. `bound`, the most
 * content the frames can hold by their headers (the reader's walker knows
 * it): room to decompress them into in one pass.
 */
static napi_value zstd_decompress (napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (!require_open(env)) return NULL;
  if (argc < 1 || argc > 2) { napi_throw_type_error(env, NULL, "zstdDecompress(data, bound?)"); return NULL; }
  size_t bound = NO_BOUND;
  napi_valuetype type = napi_undefined;
  if (argc == 2 && napi_typeof(env, argv[1], &type) != napi_ok) return NULL;
  if (type != napi_undefined) {
    double value;
    /* A bound past what a Buffer holds (Infinity too) is no help: decompressed frame by frame. */
    if (type != napi_number || napi_get_value_double(env, argv[1], &value) != napi_ok || !(value >= 0) ||
        (value <= (double)CONTENT_MAX && value != (double)(size_t)value)) {
      napi_throw_range_error(env, NULL, "zstdDecompress: bound must be a whole number of bytes");
      return NULL;
    }
    if (value <= (double)CONTENT_MAX) bound = (size_t)value;
  }
  return start(env, argv[0], 0, bound, decompress_execute, "zstdDecompress: data must be a Uint8Array", NULL);
}

/*
 * The streaming decoder (zstdStreamOpen / zstdStreamDecode / zstdStreamFree):
 * text input that may be one frame of any size (the `zstd` command writes a
 * whole file as one), decoded through a window rather than held whole, for
 * lib/compress/zstd-stream.ts. One ZSTD_DCtx per decoder, fed by one job at
 * a time on the pool; each job gives at most STREAM_PIECE bytes of content,
 * so a few bytes of input that say a gigabyte come out a piece per call, as
 * the reader asks for them. The archive readers keep whole frames (above):
 * their positions name frame offsets.
 */

/* The content one job gives at most. */
#define STREAM_PIECE ((size_t)1 << 20)
/*
 * The input one ZSTD_decompressStream() call is given at most. On an error
 * the library does not say what it wrote in that call, so the content of the
 * blocks that call completed is lost with it: small slices keep that to the
 * blocks ending in a few KB of input.
 */
#define STREAM_SLICE ((size_t)16 << 10)
/*
 * One outcome whatever the chunks. ZSTD_decompressStream() decodes a frame
 * in one pass where its call is given the whole frame, from its magic, and
 * room for its Frame_Content_Size: libzstd 1.5.4 then checks that size
 * (refusing a frame whose blocks do not fill it) and regenerates a raw or
 * RLE block over the block maximum, where streamed it does the opposite.
 * So the same file read or failed by where the reader's chunks fell. A
 * frame's first byte is given alone (the one pass needs its magic at the
 * call's start): every frame is streamed, and its content is checked
 * against its Frame_Content_Size here (stream_size_error()).
 */
#define STREAM_FRAME_HEAD 18 /* ZSTD_FRAMEHEADERSIZE_MAX: the bytes that hold Frame_Content_Size */

typedef struct {
  void *dctx; /* NULL once freed */
  int busy; /* a job is on the pool */
  int free_after; /* zstdStreamFree() came while busy: the job's completion frees */
  uint64_t position; /* compressed bytes consumed */
  uint64_t frame_start; /* where the frame being decoded (or the next) starts */
  int in_frame; /* bytes of a frame consumed, its end not reached */
  uint8_t head[STREAM_FRAME_HEAD]; /* the frame's first bytes consumed, for its Frame_Content_Size */
  size_t head_size;
  uint64_t content; /* the frame's content so far */
} stream_t;

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref input;
  napi_ref handle; /* keeps the decoder's object (and so its finalizer) away while the pool works */
  stream_t *stream;
  const uint8_t *src;
  size_t size;
  size_t consumed;
  uint8_t *out;
  size_t out_size;
  int full; /* the piece is full: more content may wait, even without input */
  const char *error; /* ZSTD_getErrorName's, or ours */
  uint64_t error_by; /* the damage lies before this compressed offset */
} stream_job_t;

static const napi_type_tag stream_tag = { 0x73686f65626f787aULL, 0x73747265616d3031ULL };

static void stream_free_dctx (stream_t *s) {
  if (s->dctx != NULL) lib.freeDCtx(s->dctx);
  s->dctx = NULL;
}

static void stream_finalize (napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  stream_t *s = data;
  /* Never busy here: a job holds a reference to the object. */
  stream_free_dctx(s);
  free(s);
}

/*
 * zstdStreamOpen(windowLogMax: number): object
 * A decoder (an opaque handle) that refuses frames whose window is over
 * 2^windowLogMax bytes, as damage ("Frame requires too much memory for
 * decoding"), as `zstd -d` does beyond --memory.
 */
static napi_value zstd_stream_open (napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (!require_open(env)) return NULL;
  int32_t window_log_max;
  if (argc != 1 || napi_get_value_int32(env, argv[0], &window_log_max) != napi_ok || window_log_max < 10 || window_log_max > 31) {
    napi_throw_range_error(env, NULL, "zstdStreamOpen(windowLogMax): an integer from 10 to 31");
    return NULL;
  }
  stream_t *s = calloc(1, sizeof *s);
  if (s == NULL) { napi_throw_error(env, NULL, "out of memory"); return NULL; }
  s->dctx = lib.createDCtx();
  if (s->dctx == NULL) { free(s); napi_throw_error(env, NULL, "out of memory (ZSTD_createDCtx)"); return NULL; }
  size_t set = lib.DCtx_setParameter(s->dctx, ZSTD_D_WINDOW_LOG_MAX, window_log_max);
  if (lib.isError(set)) {
    napi_throw_range_error(env, NULL, lib.getErrorName(set));
    stream_free_dctx(s);
    free(s);
    return NULL;
  }
  napi_value handle;
  if (napi_create_external(env, s, stream_finalize, NULL, &handle) != napi_ok) {
    stream_free_dctx(s);
    free(s);
    return NULL;
  }
  if (napi_type_tag_object(env, handle, &stream_tag) != napi_ok) return NULL;
  return handle;
}

/* The decoder argument 0 names, or NULL having thrown. */
static stream_t *stream_of (napi_env env, napi_value handle, const char *usage) {
  bool ours = false;
  napi_valuetype type;
  void *data = NULL;
  if (napi_typeof(env, handle, &type) != napi_ok || type != napi_external ||
      napi_check_object_type_tag(env, handle, &stream_tag, &ours) != napi_ok || !ours ||
      napi_get_value_external(env, handle, &data) != napi_ok) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  return data;
}

/* Keep the first of `n` bytes just consumed that belong to the frame's head. */
static void stream_keep_head (stream_t *s, const uint8_t *taken, size_t n) {
  size_t room = STREAM_FRAME_HEAD - s->head_size;
  if (n > room) n = room;
  memcpy(s->head + s->head_size, taken, n);
  s->head_size += n;
}

/* Why the frame's content so far (all of it, at its `end`) is not the size its header gives; NULL when it is, or when it gives none. */
static const char *stream_size_error (const stream_t *s, int end) {
  unsigned long long size = lib.getFrameContentSize(s->head, s->head_size);
  if (size == ZSTD_CONTENTSIZE_UNKNOWN || size == ZSTD_CONTENTSIZE_ERROR) return NULL;
  if (s->content > size) return "the content is over the Frame_Content_Size its header gives";
  if (end && s->content < size) return "the content is short of the Frame_Content_Size its header gives";
  return NULL;
}

static void stream_execute (napi_env env, void *data) {
  (void)env;
  stream_job_t *job = data;
  stream_t *s = job->stream;
  job->out = malloc(STREAM_PIECE);
  if (job->out == NULL) { job->error = "out of memory"; return; }
  zstd_out_buffer out = { job->out, STREAM_PIECE, 0 };
  while (out.pos < out.size) {
    size_t slice = job->size - job->consumed;
    if (slice > STREAM_SLICE) slice = STREAM_SLICE;
    if (slice > 1 && s->position == s->frame_start) slice = 1; /* a frame's first byte alone: it is streamed (above) */
    zstd_in_buffer in = { slice > 0 ? job->src + job->consumed : nothing, slice, 0 };
    size_t written = out.pos;
    size_t hint = lib.decompressStream(s->dctx, &out, &in);
    if (lib.isError(hint)) {
      job->error = lib.getErrorName(hint);
      job->error_by = s->position + slice;
      out.pos = written; /* what that call wrote is not told */
      break;
    }
    /* A call ends at a frame's end: what it consumed and wrote is that frame's. */
    stream_keep_head(s, job->src + job->consumed, in.pos);
    s->content += out.pos - written;
    job->consumed += in.pos;
    s->position += in.pos;
    const char *size_error = stream_size_error(s, hint == 0);
    if (size_error != NULL) {
      job->error = size_error;
      job->error_by = s->position;
      out.pos = written; /* as for the library's errors: not the content that showed it */
      break;
    }
    if (hint == 0) {
      s->in_frame = 0;
      s->frame_start = s->position;
      s->head_size = 0;
      s->content = 0;
    } else if (in.pos > 0) {
      s->in_frame = 1;
    }
    /* No progress: the input is taken (the library holds what it could not use yet), or none was given. */
    if (in.pos == 0 && out.pos == written) break;
  }
  job->full = out.pos == out.size;
  job->out_size = out.pos;
  if (job->out_size == 0) {
    free(job->out);
    job->out = NULL;
  } else if (job->out_size < STREAM_PIECE / 2) {
    /* Small pieces (a small input chunk) are kept a while downstream: not at 1 MiB each. */
    uint8_t *smaller = realloc(job->out, job->out_size);
    if (smaller != NULL) job->out = smaller;
  }
}

static napi_value number (napi_env env, double value) {
  napi_value result;
  if (napi_create_double(env, value, &result) != napi_ok) return NULL;
  return result;
}

static int set (napi_env env, napi_value object, const char *name, napi_value value) {
  return value != NULL && napi_set_named_property(env, object, name, value) == napi_ok;
}

/* Settle the job's promise: { content, consumed, full, inFrame, frameStart, position, error?, errorBy? }; it never rejects for damage. */
static void stream_complete (napi_env env, napi_status status, void *data) {
  stream_job_t *job = data;
  stream_t *s = job->stream;
  s->busy = 0;
  if (s->free_after) stream_free_dctx(s);
  napi_delete_reference(env, job->input);
  napi_delete_reference(env, job->handle);
  if (status == napi_cancelled && job->error == NULL) job->error = "cancelled";
  napi_value result = NULL, content = NULL, flag;
  int ok = napi_create_object(env, &result) == napi_ok;
  if (ok && job->out != NULL) {
    if (napi_create_external_buffer(env, job->out_size, job->out, free_content, NULL, &content) == napi_ok) {
      job->out = NULL; /* the Buffer owns it now */
    } else {
      void *copy;
      if (napi_create_buffer_copy(env, job->out_size, job->out, &copy, &content) != napi_ok) content = NULL;
    }
  } else if (ok && napi_create_buffer(env, 0, NULL, &content) != napi_ok) {
    content = NULL;
  }
  free(job->out);
  ok = ok && set(env, result, "content", content) && set(env, result, "consumed", number(env, (double)job->consumed)) &&
    set(env, result, "frameStart", number(env, (double)s->frame_start)) && set(env, result, "position", number(env, (double)s->position));
  ok = ok && napi_get_boolean(env, job->full, &flag) == napi_ok && set(env, result, "full", flag);
  ok = ok && napi_get_boolean(env, s->in_frame, &flag) == napi_ok && set(env, result, "inFrame", flag);
  if (ok && job->error != NULL) {
    napi_value message;
    ok = napi_create_string_utf8(env, job->error, NAPI_AUTO_LENGTH, &message) == napi_ok && set(env, result, "error", message) &&
      set(env, result, "errorBy", number(env, (double)job->error_by));
  }
  if (ok) {
    napi_resolve_deferred(env, job->deferred, result);
  } else {
    napi_value message, error = NULL;
    if (napi_create_string_utf8(env, "out of memory (no result for the decoded piece)", NAPI_AUTO_LENGTH, &message) == napi_ok) {
      napi_create_error(env, NULL, message, &error);
    }
    napi_reject_deferred(env, job->deferred, error);
  }
  napi_delete_async_work(env, job->work);
  free(job);
}

/*
 * zstdStreamDecode(decoder, input: Uint8Array): Promise<StreamPiece>
 * Decode from `input` until it is taken or a piece of content is full; the
 * caller gives the rest (input.subarray(consumed)) to the next call, and
 * calls again without input while `full`. Damage resolves with `error` (the
 * library's words) and the content decoded before it; the decoder is then
 * spent. Throws while another call on the same decoder is running, or after
 * zstdStreamFree().
 */
static napi_value zstd_stream_decode (napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  const char *usage = "zstdStreamDecode(decoder, input: Uint8Array)";
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc != 2) { napi_throw_type_error(env, NULL, usage); return NULL; }
  stream_t *s = stream_of(env, argv[0], usage);
  if (s == NULL) return NULL;
  if (s->dctx == NULL || s->free_after) { napi_throw_error(env, NULL, "zstdStreamDecode: the decoder is freed"); return NULL; }
  if (s->busy) { napi_throw_error(env, NULL, "zstdStreamDecode: a call on this decoder is still running"); return NULL; }
  void *src = NULL;
  size_t size = 0;
  if (!typed_array(env, argv[1], napi_uint8_array, usage, &src, &size)) return NULL;
  stream_job_t *job = calloc(1, sizeof *job);
  if (job == NULL) { napi_throw_error(env, NULL, "out of memory"); return NULL; }
  job->stream = s;
  job->src = src;
  job->size = size;
  napi_value promise, name;
  if (napi_create_reference(env, argv[1], 1, &job->input) != napi_ok) { free(job); return NULL; }
  if (napi_create_reference(env, argv[0], 1, &job->handle) != napi_ok) {
    napi_delete_reference(env, job->input);
    free(job);
    return NULL;
  }
  if (napi_create_string_utf8(env, "shoebox:zstdStream", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_promise(env, &job->deferred, &promise) != napi_ok) {
    napi_delete_reference(env, job->input);
    napi_delete_reference(env, job->handle);
    free(job);
    return NULL;
  }
  if (napi_create_async_work(env, NULL, name, stream_execute, stream_complete, job, &job->work) != napi_ok ||
      napi_queue_async_work(env, job->work) != napi_ok) {
    /* The promise is rejected rather than left pending (as start() does). */
    napi_value message, error;
    napi_create_string_utf8(env, "could not queue the work", NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, NULL, message, &error);
    napi_reject_deferred(env, job->deferred, error);
    napi_delete_reference(env, job->input);
    napi_delete_reference(env, job->handle);
    free(job);
    return promise;
  }
  s->busy = 1;
  return promise;
}

/*
 * zstdStreamFree(decoder): void
 * Free the decoder's context now, or when its running call completes (that
 * call still settles). Idempotent; a decoder never freed is freed when
 * collected.
 */
static napi_value zstd_stream_free (napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc != 1) { napi_throw_type_error(env, NULL, "zstdStreamFree(decoder)"); return NULL; }
  stream_t *s = stream_of(env, argv[0], "zstdStreamFree(decoder)");
  if (s == NULL) return NULL;
  if (s->busy) s->free_after = 1;
  else stream_free_dctx(s);
  return NULL;
}

napi_value zstd_system_export (napi_env env, napi_value exports) {
  struct { const char *name; napi_callback fn; } table[] = {
    { "zstdOpen", zstd_open }, { "zstdCompress", zstd_compress }, { "zstdCompressInto", zstd_compress_into }, { "zstdDecompress", zstd_decompress },
    { "zstdStreamOpen", zstd_stream_open }, { "zstdStreamDecode", zstd_stream_decode }, { "zstdStreamFree", zstd_stream_free }
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    napi_value fn;
    if (napi_create_function(env, table[i].name, NAPI_AUTO_LENGTH, table[i].fn, NULL, &fn) != napi_ok) return NULL;
    if (napi_set_named_property(env, exports, table[i].name, fn) != napi_ok) return NULL;
  }
  return exports;
}

#else

napi_value zstd_system_export (napi_env env, napi_value exports) {
  (void)env;
  return exports;
}

#endif
