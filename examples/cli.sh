#!/bin/sh
# The README's shell examples, run as written by test/examples.test.ts with
# `shoebox` on the PATH, events.ndjson and photos/ in the working directory
# and an S3-compatible server behind SHOEBOX_S3_ENDPOINT.
set -eu
# examples/cli.sh
shoebox encode --meta source=web < events.ndjson > events.shoebox
shoebox verify events.shoebox
shoebox decode events.shoebox | head -2
shoebox decode --payload-only events.shoebox > events-again.ndjson

shoebox write events/ --roll-size 100MiB --roll-age 10m --gzip < events.ndjson
shoebox ls 'events/*'
shoebox read 'events/*' --positions | tail -1    # the last record, and where to resume from
shoebox read 'events/*' --exact | shoebox write events-zstd/ --records --zstd   # the same records, recompressed
shoebox write events/ --roll-size 64MiB --gzip --to s3://my-bucket/events < events.ndjson
shoebox read 's3://my-bucket/events/*.gz' --payload-only | head -2
shoebox upload events.shoebox --to s3://my-bucket/archive

# examples/cli.sh
shoebox pack photos/ --to s3://my-bucket/photos --gzip --include '**/*.jpg'
shoebox unpack 's3://my-bucket/photos/*.shoebox.gz' --out restored/
