/*
 * The encoder's slab functions: record checksums and NDJSON line framing,
 * many records per call (see lib/native.ts and lib/format/record-sealer.ts);
 * and the decoder's: a run of records checked in one call (checkRun).
 *
 * Why this exists: a v2 record ends with a CRC of its bytes. Hashing a
 * 700-byte record with a hardware-accelerated CRC takes well under 100 ns,
 * but a call from JavaScript into native code costs 300-400 ns on our
 * machines, so one call per record (as @node-rs/crc32 needs) spent more
 * time crossing into native code than hashing. seal() takes a whole
 * buffer of encoded records and the [start, end) range of each, computes
 * each range's checksum and stores it little-endian at `end`: one call per
 * ~1 MiB of records.
 *
 * Only the hardware paths live here: CRC32 by carry-less multiplication
 * (PCLMULQDQ) and CRC32C by the SSE4.2 instruction, on x86-64. On any
 * other machine, or a CPU without them, the module exports nothing and
 * shoebox does the same work record by record in JavaScript (checksums
 * through @node-rs/crc32), so the bytes never depend on this file being built.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include "addon.h"
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SHOEBOX_X86_64 1
#include <cpuid.h>
#include <immintrin.h>
#include <pthread.h>
#endif

#ifdef SHOEBOX_X86_64

/* CRC32 (reflected polynomial 0xEDB88320) by table, eight bytes a step
 * ("slicing-by-8": crc32_table[k][b] is the CRC register after byte b and k
 * zero bytes), for the few bytes that the folding below leaves over (fewer
 * than 16), records and lines shorter than 64 bytes, and the record headers
 * and metadata blocks that frame_lines writes (one step per header). */
static uint32_t crc32_table[8][256];
static pthread_once_t crc32_table_once = PTHREAD_ONCE_INIT; /* one table, however many threads load the module */

static void make_crc32_table (void) {
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = n;
    for (int k = 0; k < 8; k++) c = (c & 1) ? (0xEDB88320u ^ (c >> 1)) : (c >> 1);
    crc32_table[0][n] = c;
  }
  for (uint32_t n = 0; n < 256; n++) {
    for (int k = 1; k < 8; k++) crc32_table[k][n] = (crc32_table[k - 1][n] >> 8) ^ crc32_table[0][crc32_table[k - 1][n] & 0xff];
  }
}

/* The register after the 8 bytes of `word` (little-endian), or after its low 4 bytes and 4 zero bytes. */
static inline uint32_t crc32_step8 (uint32_t state, uint64_t word) {
  const uint32_t lo = state ^ (uint32_t)word, hi = (uint32_t)(word >> 32);
  return crc32_table[7][lo & 0xff] ^ crc32_table[6][(lo >> 8) & 0xff] ^ crc32_table[5][(lo >> 16) & 0xff] ^ crc32_table[4][lo >> 24] ^
    crc32_table[3][hi & 0xff] ^ crc32_table[2][(hi >> 8) & 0xff] ^ crc32_table[1][(hi >> 16) & 0xff] ^ crc32_table[0][hi >> 24];
}

/* The register after the 4 bytes of `word` (little-endian). */
static inline uint32_t crc32_word4 (uint32_t state, uint32_t word) {
  const uint32_t x = state ^ word;
  return crc32_table[3][x & 0xff] ^ crc32_table[2][(x >> 8) & 0xff] ^ crc32_table[1][(x >> 16) & 0xff] ^ crc32_table[0][x >> 24];
}

static uint32_t crc32_bytes (uint32_t state, const uint8_t *p, size_t n) {
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t word;
    __builtin_memcpy(&word, p, 8);
    state = crc32_step8(state, word);
  }
  while (n--) state = crc32_table[0][(state ^ *p++) & 0xff] ^ (state >> 8);
  return state;
}

/*
 * CRC32 by folding (Gopal et al., "Fast CRC Computation for Generic
 * Polynomials Using PCLMULQDQ Instruction", Intel, 2009), bit-reflected
 * form. `state` is the raw register (0xFFFFFFFF for a new CRC); returns
 * the raw register after the n >= 64 bytes at p. The constants are powers
 * of x modulo the CRC polynomial P, bit-reflected and shifted one bit as
 * the reflected form needs:
 *   K1 = x^(4*128+32), K2 = x^(4*128-32): fold 512 bits ahead
 *   K3 = x^(128+32),   K4 = x^(128-32):   fold 128 bits ahead
 *   K5 = x^64: 64 bits to 32; then Barrett reduction by P with MU = x^64 / P.
 */
#define K1 0x154442bd4LL
#define K2 0x1c6e41596LL
#define K3 0x1751997d0LL
#define K4 0x0ccaa009eLL
#define K5 0x163cd6124LL
#define POLY 0x1db710641LL
#define MU 0x1f7011641LL

__attribute__((target("pclmul,sse4.1")))
static inline __m128i fold (__m128i acc, __m128i next, __m128i k) {
  return _mm_xor_si128(_mm_xor_si128(next, _mm_clmulepi64_si128(acc, k, 0x00)), _mm_clmulepi64_si128(acc, k, 0x11));
}

__attribute__((target("pclmul,sse4.1")))
static uint32_t crc32_fold (uint32_t state, const uint8_t *p, size_t n) {
  __m128i a = _mm_xor_si128(_mm_loadu_si128((const __m128i *)p), _mm_cvtsi32_si128((int)state));
  __m128i b = _mm_loadu_si128((const __m128i *)(p + 16));
  __m128i c = _mm_loadu_si128((const __m128i *)(p + 32));
  __m128i d = _mm_loadu_si128((const __m128i *)(p + 48));
  p += 64;
  n -= 64;
  const __m128i k12 = _mm_set_epi64x(K2, K1);
  while (n >= 64) {
    a = fold(a, _mm_loadu_si128((const __m128i *)p), k12);
    b = fold(b, _mm_loadu_si128((const __m128i *)(p + 16)), k12);
    c = fold(c, _mm_loadu_si128((const __m128i *)(p + 32)), k12);
    d = fold(d, _mm_loadu_si128((const __m128i *)(p + 48)), k12);
    p += 64;
    n -= 64;
  }
  const __m128i k34 = _mm_set_epi64x(K4, K3);
  __m128i x = fold(fold(fold(a, b, k34), c, k34), d, k34);
  while (n >= 16) {
    x = fold(x, _mm_loadu_si128((const __m128i *)p), k34);
    p += 16;
    n -= 16;
  }
  const __m128i low32 = _mm_set_epi32(0, 0, 0, -1);
  /* 128 bits to 96, then to 64. */
  x = _mm_xor_si128(_mm_clmulepi64_si128(x, k34, 0x10), _mm_srli_si128(x, 8));
  x = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(x, low32), _mm_set_epi64x(0, K5), 0x00), _mm_srli_si128(x, 4));
  /* Barrett: the 32-bit remainder of the 64 bits left. */
  const __m128i poly_mu = _mm_set_epi64x(MU, POLY);
  __m128i t = _mm_clmulepi64_si128(_mm_and_si128(x, low32), poly_mu, 0x10);
  t = _mm_clmulepi64_si128(_mm_and_si128(t, low32), poly_mu, 0x00);
  uint32_t folded = (uint32_t)_mm_extract_epi32(_mm_xor_si128(x, t), 1);
  return crc32_bytes(folded, p, n);
}

/* The register after `n` more bytes: folded when there are enough of them, else by table. */
static uint32_t crc32_update (uint32_t state, const uint8_t *p, size_t n) {
  return n >= 64 ? crc32_fold(state, p, n) : crc32_bytes(state, p, n);
}

static uint32_t crc32_of (const uint8_t *p, size_t n) {
  return ~crc32_update(0xFFFFFFFFu, p, n);
}

__attribute__((target("sse4.2")))
static uint32_t crc32c_of (const uint8_t *p, size_t n) {
  uint64_t state = 0xFFFFFFFFu;
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t word;
    __builtin_memcpy(&word, p, 8);
    state = _mm_crc32_u64(state, word);
  }
  uint32_t s = (uint32_t)state;
  for (; n > 0; p++, n--) s = _mm_crc32_u8(s, *p);
  return ~s;
}

static int cpu_has_crc_instructions (void) {
  unsigned int eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
  const unsigned int pclmul = 1u << 1, sse41 = 1u << 19, sse42 = 1u << 20;
  return (ecx & pclmul) && (ecx & sse41) && (ecx & sse42);
}

#define CHECK(call) do { if ((call) != napi_ok) { napi_throw_error(env, NULL, "shoebox native: " #call " failed"); return NULL; } } while (0)

/* The 4 arguments of a call into `argv`; else throws `usage` and returns 0. */
static int four_args (napi_env env, napi_callback_info info, napi_value argv[4], const char *usage) {
  size_t argc = 4;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 4) {
    napi_throw_type_error(env, NULL, usage);
    return 0;
  }
  return 1;
}

/*
 * seal(buffer: Uint8Array, ranges: Uint32Array, count: number, algorithm: 1 | 2)
 * For i < count, with start = ranges[2i] and end = ranges[2i + 1]: store the
 * checksum of buffer[start, end) (1 = CRC32, 2 = CRC32C) as a little-endian
 * uint32 at buffer[end]. Every range is checked against the buffer before
 * anything is written.
 */
static napi_value seal (napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!four_args(env, info, argv, "seal(buffer, ranges, count, algorithm)")) return NULL;
  size_t length, ranges_length;
  void *data, *ranges_data;
  if (!typed_array(env, argv[0], napi_uint8_array, "seal: buffer must be a Uint8Array", &data, &length)) return NULL;
  if (!typed_array(env, argv[1], napi_uint32_array, "seal: ranges must be a Uint32Array", &ranges_data, &ranges_length)) return NULL;
  uint32_t count, algorithm;
  CHECK(napi_get_value_uint32(env, argv[2], &count));
  CHECK(napi_get_value_uint32(env, argv[3], &algorithm));
  if (algorithm != 1 && algorithm != 2) { napi_throw_range_error(env, NULL, "seal: algorithm must be 1 (CRC32) or 2 (CRC32C)"); return NULL; }
  if ((size_t)count * 2 > ranges_length) { napi_throw_range_error(env, NULL, "seal: count exceeds the ranges given"); return NULL; }
  const uint32_t *ranges = (const uint32_t *)ranges_data;
  for (uint32_t i = 0; i < count; i++) {
    uint32_t start = ranges[2 * i], end = ranges[2 * i + 1];
    if (start > end || (size_t)end + 4 > length) {
      napi_throw_range_error(env, NULL, "seal: a range lies outside the buffer");
      return NULL;
    }
  }
  uint8_t *bytes = (uint8_t *)data;
  for (uint32_t i = 0; i < count; i++) {
    uint32_t start = ranges[2 * i], end = ranges[2 * i + 1];
    uint32_t sum = algorithm == 1 ? crc32_of(bytes + start, end - start) : crc32c_of(bytes + start, end - start);
    bytes[end] = (uint8_t)sum;
    bytes[end + 1] = (uint8_t)(sum >> 8);
    bytes[end + 2] = (uint8_t)(sum >> 16);
    bytes[end + 3] = (uint8_t)(sum >> 24);
  }
  return NULL;
}

static inline uint32_t load_uint32 (const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4); /* x86-64 only (above): little-endian, as the format */
  return v;
}

/*
 * checkRun(buffer: Uint8Array, at: number, end: number, maxSize: number): number
 * The decoder's side of seal(): walks the v2 records from buffer[at] while
 * each lies whole before `end` and passes every check a reader makes of it
 * (lib/format/v2.ts, checkV2): magic, version 2, header CRC32, a size within
 * maxSize, a known checksum algorithm whose record checksum matches, no
 * payload codec. Returns the offset of the first record it does not vouch
 * for (`at` itself when none), which the reader then checks itself, so that
 * what it says of a short or damaged record is what it always said. One call
 * per run of records instead of a checksum call per record (read back,
 * 200 MB of events were 336,604 such calls).
 */
static napi_value check_run (napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!four_args(env, info, argv, "checkRun(buffer, at, end, maxSize)")) return NULL;
  size_t length;
  void *data;
  if (!typed_array(env, argv[0], napi_uint8_array, "checkRun: buffer must be a Uint8Array", &data, &length)) return NULL;
  double at_arg, end_arg, max_size;
  CHECK(napi_get_value_double(env, argv[1], &at_arg));
  CHECK(napi_get_value_double(env, argv[2], &end_arg));
  CHECK(napi_get_value_double(env, argv[3], &max_size));
  if (!(at_arg >= 0 && at_arg <= end_arg && end_arg <= (double)length) || at_arg != (double)(size_t)at_arg || end_arg != (double)(size_t)end_arg) {
    napi_throw_range_error(env, NULL, "checkRun: at and end must be offsets in the buffer, at <= end");
    return NULL;
  }
  const uint8_t *bytes = (const uint8_t *)data;
  size_t at = (size_t)at_arg, end = (size_t)end_arg;
  const uint32_t magic = 0x69867884u; /* lib/format/constants.ts MAGIC */
  while (end - at >= 24) {
    const uint8_t *r = bytes + at;
    if (load_uint32(r) != magic || r[4] != 2 || r[5] != 0) break;
    if (crc32_of(r, 20) != load_uint32(r + 20)) break;
    uint64_t size = 24 + (uint64_t)(r[16] | (r[17] << 8)) + load_uint32(r + 8) + load_uint32(r + 12) + 4;
    if ((double)size > max_size || size > end - at) break;
    uint8_t algorithm = r[6], codec = r[7] >> 4;
    if ((algorithm != 1 && algorithm != 2) || codec != 0) break;
    size_t checked = (size_t)size - 4;
    uint32_t sum = algorithm == 1 ? crc32_of(r, checked) : crc32c_of(r, checked);
    if (sum != load_uint32(r + checked)) break;
    at += (size_t)size;
  }
  napi_value result;
  CHECK(napi_create_double(env, (double)at, &result));
  return result;
}

/*
 * frame_lines(input: Uint8Array, slab: Uint8Array, block: Uint8Array, ends: Uint32Array, state: Uint32Array)
 *
 * NDJSON's fast path (lib/format/encoder.ts frameLines, used by
 * lib/ndjson/encode-ndjson.ts): every complete line of input[state[0],
 * state[1]) becomes one whole v2 record at slab[state[2]..]: header with
 * its checksum, the metadata block `block` (already laid out, the same for
 * every line), the line as the payload, the record checksum. One call per
 * input chunk instead of a dozen JavaScript steps per line; the line is
 * read for its newline, its copy and (CRC32) its checksum, all three in the
 * input, never read back from the slab. The line rules are
 * encode-ndjson.ts's: a line ends at '\n', one '\r' before it is dropped,
 * and a line of only spaces, tabs and '\r' is skipped (but counted).
 *
 * state in:  [0] input start, [1] input end, [2] slab position, [3] slab end,
 *            [4] longest line, [5] largest record, [6] header bytes 4-7 as a
 *            little-endian word, [7] checksum (1 = CRC32, 2 = CRC32C)
 * state out: [0] input position after the last line consumed, [2] slab
 *            position after the last record, [8] lines consumed (blank ones
 *            too), [9] records written (their end offsets in ends[0..]),
 *            [10] why it stopped: 0 no complete line left, 1 the next record
 *            does not fit before the slab end (its size in [11]), 2 the next
 *            line is too long or its record too large (left to the caller,
 *            which refuses it with its line number), 3 ends is full.
 * Arguments are checked before anything is written; bytes past the records
 * written are not touched.
 */
#define MAGIC 0x69867884u
#define V2_HEADER 24u
#define V2_TRAILER 4u

static inline void put_uint32 (uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

static int blank (const uint8_t *p, const uint8_t *end) {
  for (; p < end; p++) if (*p != 0x20 && *p != 0x09 && *p != 0x0d) return 0;
  return 1;
}

static napi_value frame_lines (napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 5) {
    napi_throw_type_error(env, NULL, "frameLines(input, slab, block, ends, state)");
    return NULL;
  }
  size_t input_length, slab_length, block_length, ends_length, state_length;
  void *input_data, *slab_data, *block_data, *ends_data, *state_data;
  if (!typed_array(env, argv[0], napi_uint8_array, "frameLines: input must be a Uint8Array", &input_data, &input_length)) return NULL;
  if (!typed_array(env, argv[1], napi_uint8_array, "frameLines: slab must be a Uint8Array", &slab_data, &slab_length)) return NULL;
  if (!typed_array(env, argv[2], napi_uint8_array, "frameLines: block must be a Uint8Array", &block_data, &block_length)) return NULL;
  if (!typed_array(env, argv[3], napi_uint32_array, "frameLines: ends must be a Uint32Array", &ends_data, &ends_length)) return NULL;
  if (!typed_array(env, argv[4], napi_uint32_array, "frameLines: state must be a Uint32Array", &state_data, &state_length)) return NULL;
  uint32_t *state = (uint32_t *)state_data;
  if (state_length < 12) { napi_throw_range_error(env, NULL, "frameLines: state needs 12 entries"); return NULL; }
  size_t pos = state[0], end = state[1], at = state[2], limit = state[3];
  const size_t max_line = state[4], max_record = state[5];
  const uint32_t version_word = state[6], algorithm = state[7];
  if (pos > end || end > input_length || at > limit || limit > slab_length) {
    napi_throw_range_error(env, NULL, "frameLines: a position lies outside its buffer");
    return NULL;
  }
  if (algorithm != 1 && algorithm != 2) { napi_throw_range_error(env, NULL, "frameLines: checksum must be 1 (CRC32) or 2 (CRC32C)"); return NULL; }
  if (block_length < 4) { napi_throw_range_error(env, NULL, "frameLines: a metadata block has at least its 4-byte count"); return NULL; }
  const uint8_t *in = (const uint8_t *)input_data;
  const uint8_t *block = (const uint8_t *)block_data;
  uint8_t *slab = (uint8_t *)slab_data;
  uint32_t *ends = (uint32_t *)ends_data;
  uint32_t lines = 0, records = 0, reason = 0, need = 0;
  /* Every header is the same but for its payload length (bytes 12-15; 16-19 are zero): the register after
   * bytes 0-11 is the same for all, and one 8-byte step finishes each header's checksum. */
  uint8_t head[12];
  put_uint32(head, MAGIC);
  put_uint32(head + 4, version_word);
  put_uint32(head + 8, (uint32_t)block_length);
  const uint32_t head_state = crc32_bytes(0xFFFFFFFFu, head, 12);
  while (pos < end) {
    const uint8_t *newline = memchr(in + pos, '\n', end - pos);
    if (newline == NULL) break;
    const size_t next = (size_t)(newline - in) + 1;
    size_t line_end = next - 1;
    if (line_end > pos && in[line_end - 1] == '\r') line_end--;
    if (blank(in + pos, in + line_end)) {
      lines++;
      pos = next;
      continue;
    }
    const size_t length = line_end - pos;
    const size_t size = V2_HEADER + block_length + length + V2_TRAILER;
    if (length > max_line || size > max_record) { reason = 2; break; }
    if (size > limit - at) { reason = 1; need = (uint32_t)size; break; }
    if (records == ends_length) { reason = 3; break; }
    uint8_t *record = slab + at;
    put_uint32(record, MAGIC);
    put_uint32(record + 4, version_word);
    put_uint32(record + 8, (uint32_t)block_length);
    put_uint32(record + 12, (uint32_t)length);
    put_uint32(record + 16, 0);
    /* The register after header bytes 0-19: ~ it is the header's checksum. */
    const uint32_t header_state = crc32_step8(head_state, (uint64_t)length);
    put_uint32(record + 20, ~header_state);
    memcpy(record + V2_HEADER, block, block_length);
    memcpy(record + V2_HEADER + block_length, in + pos, length);
    const size_t payload_end = V2_HEADER + block_length + length;
    uint32_t sum;
    if (algorithm == 1) {
      /* The record checksum goes on from the header's register, over the same bytes read where they came
       * from (the checksum just computed, the block, the line in the input) rather than read back from
       * the slab, where the copies above may still be on their way (a load that overlaps a store not yet
       * written stalls) and which is not in the cache when the slab is new. */
      uint32_t state = crc32_word4(header_state, ~header_state);
      state = crc32_bytes(state, block, block_length);
      state = crc32_update(state, in + pos, length);
      sum = ~state;
    } else {
      sum = crc32c_of(record, payload_end);
    }
    put_uint32(record + payload_end, sum);
    at += size;
    ends[records++] = (uint32_t)at;
    lines++;
    pos = next;
  }
  state[0] = (uint32_t)pos;
  state[2] = (uint32_t)at;
  state[8] = lines;
  state[9] = records;
  state[10] = reason;
  state[11] = need;
  return NULL;
}

#endif /* SHOEBOX_X86_64 */

napi_value record_crc_export (napi_env env, napi_value exports) {
#ifdef SHOEBOX_X86_64
  if (cpu_has_crc_instructions()) {
    pthread_once(&crc32_table_once, make_crc32_table);
    napi_value fn;
    if (napi_create_function(env, "seal", NAPI_AUTO_LENGTH, seal, NULL, &fn) != napi_ok) return NULL;
    if (napi_set_named_property(env, exports, "seal", fn) != napi_ok) return NULL;
    if (napi_create_function(env, "frameLines", NAPI_AUTO_LENGTH, frame_lines, NULL, &fn) != napi_ok) return NULL;
    if (napi_set_named_property(env, exports, "frameLines", fn) != napi_ok) return NULL;
    if (napi_create_function(env, "checkRun", NAPI_AUTO_LENGTH, check_run, NULL, &fn) != napi_ok) return NULL;
    if (napi_set_named_property(env, exports, "checkRun", fn) != napi_ok) return NULL;
  }
#endif
  (void)env;
  return exports;
}
