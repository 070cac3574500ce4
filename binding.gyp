{
  "targets": [
    {
      "target_name": "shoebox_native",
      "sources": ["native/addon.c", "native/record_crc.c", "native/small_files.c", "native/zstd_system.c", "native/writeback.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"],
      "conditions": [
        ["OS=='linux'", { "libraries": ["-ldl", "-lpthread"] }]
      ]
    }
  ]
}
