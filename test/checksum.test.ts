import zlib from 'node:zlib'
import t from 'tap'
import { crc32, crc32c } from '../lib/index.js'
import { crc32Range, tableCrc } from '../lib/checksum.js'

const check = Buffer.from('123456789')

t.test('standard check values', async (t) => {
  t.equal(crc32(check), 0xcbf43926)
  t.equal(crc32c(check), 0xe3069283)
  t.equal(tableCrc(0xedb88320)(check), 0xcbf43926, 'JS CRC32')
  t.equal(tableCrc(0x82f63b78)(check), 0xe3069283, 'JS CRC32C')
  t.equal(crc32Range(Buffer.concat([Buffer.from('xx'), check, Buffer.from('y')]), 2, 11), 0xcbf43926, 'range')
})

t.test('JS and native implementations agree on every length 0..300 and odd offsets', async (t) => {
  const data = Buffer.alloc(1000)
  for (let i = 0; i < data.length; i++) data[i] = (i * 131 + 7) & 0xff
  const js32 = tableCrc(0xedb88320)
  const js32c = tableCrc(0x82f63b78)
  let mismatches = 0
  for (let len = 0; len <= 300; len++) {
    for (const off of [0, 1, 3, 7]) {
      const slice = data.subarray(off, off + len)
      const z = zlib.crc32(slice)
      if (crc32(slice) !== z || js32(slice) !== z || crc32Range(data, off, off + len) !== z || js32c(slice) !== crc32c(slice)) mismatches++
    }
  }
  t.equal(mismatches, 0)
})
