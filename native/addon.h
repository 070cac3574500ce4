/* The addon's parts (native/addon.c registers them): each adds its functions to `exports`, or none where it cannot work. */
#ifndef SHOEBOX_ADDON_H
#define SHOEBOX_ADDON_H
#include <node_api.h>

/* The data and element count of argument `value` if it is a typed array of `type`; else throws `message` and returns 0. */
int typed_array (napi_env env, napi_value value, napi_typedarray_type type, const char *message, void **data, size_t *length);

/* seal(), frameLines(), checkRun(): native/record_crc.c (x86-64 with PCLMULQDQ and SSE4.2 only). */
napi_value record_crc_export (napi_env env, napi_value exports);
/* readSmallFiles(): native/small_files.c (not on Windows). */
napi_value small_files_export (napi_env env, napi_value exports);
/* zstdOpen(), zstdCompress(), zstdDecompress(), zstdStreamOpen/Decode/Free(): native/zstd_system.c (not on Windows). */
napi_value zstd_system_export (napi_env env, napi_value exports);
/* startWriteback(): native/writeback.c (Linux only). */
napi_value writeback_export (napi_env env, napi_value exports);

#endif
