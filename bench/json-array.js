/**
 * jsonArraySource() over a ~50 MB top-level JSON array of metadata objects,
 * this build's dist/ against another build's (`--baseline=DIR`, a checkout
 * whose dist/ is built, e.g. one before json/array-splitter.ts, when the
 * source ran on stream-json). Each run is a child process under GNU time:
 * CPU seconds (user + sys) and peak RSS, the candidates interleaved, their
 * order rotating each round. Every run must deliver every element.
 *
 *   npx tsc -p tsconfig.build.json
 *   node bench/json-array.js --baseline=../old-checkout [--rounds=3]
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { timedRunner } from './timed-child.js'
import { median } from './util.js'

const here = path.dirname(fileURLToPath(import.meta.url))

if (process.argv[2] === '--child') {
  // node bench/json-array.js --child DIST FILE: count the objects, print the count
  const { jsonArraySource } = await import(pathToFileURL(path.join(process.argv[3], 'meta', 'sources.js')).href)
  let count = 0
  for await (const item of jsonArraySource(process.argv[4])) if (item.content_hash !== undefined) count++
  process.stdout.write(`${count}\n`)
} else {
  const arg = (name, fallback) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback
  const baseline = arg('baseline')
  if (baseline === undefined) throw new Error('usage: node bench/json-array.js --baseline=DIR [--rounds=N]')
  const rounds = Number(arg('rounds', '3'))
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-bench-json-array-'))
  try {
    const file = path.join(dir, 'array.json')
    const out = fs.openSync(file, 'w')
    let count = 0
    fs.writeSync(out, '[\n')
    while (fs.fstatSync(out).size < 50e6) {
      let text = ''
      for (let i = 0; i < 1000; i++, count++) {
        text += (count > 0 ? ',\n' : '') + JSON.stringify({
          content_hash: count.toString(16).padStart(40, '0'),
          _file_name: `${count}.data.pdf`,
          title: `Drucksache ${count}: Antwort der Landesregierung auf die Kleine Anfrage — Grüße`,
          publisher: { name: 'Landtag', url: 'https://example.org/landtag' },
          int_value: count,
          float_value: count + 0.25,
          big: '12345678901234567890',
          bool_value: count % 2 === 0,
          tags: ['a', 'b', count % 7]
        })
      }
      fs.writeSync(out, text)
    }
    fs.writeSync(out, '\n]\n')
    fs.closeSync(out)
    const size = fs.statSync(file).size
    const { run, usage } = timedRunner({ dir })
    const candidates = [['this build', path.join(here, '..', 'dist')], ['baseline', path.join(path.resolve(baseline), 'dist')]]
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? candidates : [...candidates].reverse()
      for (const [name, dist] of order) {
        const r = await run(name, process.execPath, [fileURLToPath(import.meta.url), '--child', dist, file], { captureStdout: true })
        if (Number(r.stdout) !== count) throw new Error(`${name} delivered ${r.stdout.trim()} of ${count} elements`)
      }
    }
    console.log(`| candidate | CPU s (user + sys), each run | median | peak RSS MB, median |\n|---|---|---:|---:|`)
    for (const [name] of candidates) {
      const u = usage.get(name)
      console.log(`| ${name} | ${u.cpu.map((s) => s.toFixed(2)).join(', ')} | ${median(u.cpu).toFixed(2)} | ${median(u.rssMB).toFixed(0)} |`)
    }
    const ratio = median(usage.get('baseline').cpu) / median(usage.get('this build').cpu)
    console.log(`\n${count} elements, ${(size / 1e6).toFixed(1)} MB; baseline / this build CPU: ${ratio.toFixed(2)}x`)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
