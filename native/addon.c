/*
 * The optional native addon, shoebox_native.node (lib/native.ts): one
 * module holding independent parts, each of which exports nothing where it
 * cannot work, so a missing CPU feature or library never stops the other.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include "addon.h"

static napi_value init (napi_env env, napi_value exports) {
  if (record_crc_export(env, exports) == NULL) return NULL;
  return zstd_system_export(env, exports);
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
