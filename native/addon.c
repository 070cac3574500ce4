/*
 * The optional native addon, shoebox_native.node (lib/native.ts): one
 * module holding independent parts, each of which exports nothing where it
 * cannot work, so a missing CPU feature or library never stops the other.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include "addon.h"

int typed_array (napi_env env, napi_value value, napi_typedarray_type type, const char *message, void **data, size_t *length) {
  bool is_typedarray;
  napi_typedarray_type actual;
  if (napi_is_typedarray(env, value, &is_typedarray) != napi_ok || !is_typedarray ||
      napi_get_typedarray_info(env, value, &actual, length, data, NULL, NULL) != napi_ok || actual != type) {
    napi_throw_type_error(env, NULL, message);
    return 0;
  }
  return 1;
}

static napi_value init (napi_env env, napi_value exports) {
  if (record_crc_export(env, exports) == NULL) return NULL;
  if (writeback_export(env, exports) == NULL) return NULL;
  if (small_files_export(env, exports) == NULL) return NULL;
  return zstd_system_export(env, exports);
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
