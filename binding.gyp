{
  "targets": [
    {
      "target_name": "shoebox_native",
      "sources": ["native/record_crc.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
