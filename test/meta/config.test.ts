/**
 * config.yml (spec §5): mmmeta's keys and defaults, shoebox's types and
 * index, the projection (every key unless `include` is given), validation of
 * required keys, and refused shapes by code.
 */
import t from 'tap'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { expectCode } from '../helpers.js'
import { loadMetaConfig, metaConfigFrom, metaPaths, missingKeys, parseMetaConfig, projectRow } from '../../lib/meta/config.js'

t.test('no config file: mmmeta defaults, every key kept', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-meta-config-'))
  t.teardown(() => { fs.rmSync(dir, { recursive: true, force: true }) })
  const config = await loadMetaConfig(dir)
  t.same(config, {
    unique: 'content_hash', fileName: 'content_hash', required: ['content_hash'], include: null, keys: null, types: {}, index: [], remote: {}
  })
  t.same(projectRow(config, { a: '1', content_hash: 'x' }), { a: '1', content_hash: 'x' })
})

t.test('the documented config (spec §5) plus shoebox keys', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-meta-config-'))
  t.teardown(() => { fs.rmSync(dir, { recursive: true, force: true }) })
  fs.mkdirSync(metaPaths(dir).metadir)
  fs.writeFileSync(metaPaths(dir).config, [
    'metadata:',
    '  unique: content_hash      # primary key',
    '  file_name: _file_name',
    '  required: [foreign_id, published_at]',
    '  include: [reference, title, "publisher:name"]',
    '  types: { published_at: timestamp, pages: int, ok: bool, tags: json, score: float }',
    '  index: [document_type, published_at]',
    'remote:',
    '  url: https://bucket.s3.eu-central-1.amazonaws.com/foo/{_file_name}',
    '  uri: s3://bucket/foo/{_file_name}',
    ''
  ].join('\n'))
  const config = await loadMetaConfig(dir)
  t.equal(config.unique, 'content_hash')
  t.equal(config.fileName, '_file_name')
  t.same(config.required, ['content_hash', '_file_name', 'foreign_id', 'published_at'])
  t.same(config.keys, ['_file_name', 'content_hash', 'foreign_id', 'published_at', 'publisher:name', 'reference', 'title'])
  t.same(config.types, { published_at: 'timestamp', pages: 'int', ok: 'bool', tags: 'json', score: 'float' })
  t.same(config.index, ['document_type', 'published_at'])
  t.same(config.remote, { url: 'https://bucket.s3.eu-central-1.amazonaws.com/foo/{_file_name}', uri: 's3://bucket/foo/{_file_name}' })
  const row = { content_hash: 'h', _file_name: 'f.pdf', 'publisher:name': 'P', other: 'dropped', title: '' }
  const projected = projectRow(config, row)
  t.same(projected, { content_hash: 'h', _file_name: 'f.pdf', 'publisher:name': 'P', title: '' })
  t.not(projected, row, 'a copy')
  t.same(row.other, 'dropped', 'the input is not changed')
})

t.test('missingKeys: absent, null and empty are missing; 0 and false are values', async (t) => {
  const config = metaConfigFrom({ metadata: { unique: 'id', required: ['a', 'b', 'c', 'd'] } })
  t.same(config.fileName, 'id')
  t.same(missingKeys(config, { id: 'x', a: '0', b: 'false', c: '', d: null }), ['c', 'd'])
  t.same(missingKeys(config, { a: '0', b: 'false', c: ' ', d: 'y' }), ['id'])
  t.same(metaConfigFrom({ metadata: { required: 'single' } }).required, ['content_hash', 'single'], 'a scalar is a list of one (banal ensure_list)')
  t.same(metaConfigFrom({ metadata: { include: [] } }).keys, ['content_hash'], 'include: [] is mmmeta\'s projection')
})

t.test('refused configs name the file and the key', async (t) => {
  const cases: Array<[string, string]> = [
    ['- a\n- b\n', 'must be a mapping'],
    ['metadata: [a]\n', 'metadata must be a mapping'],
    ['metadata:\n  types: { a: integer }\n', "metadata.types.a: 'integer' is not a type"],
    ['metadata:\n  required: [{a: 1}]\n', 'metadata.required[0]'],
    ['remote:\n  url: [x]\n', 'remote.url must be a template string'],
    ['metadata: {unique: [\n', 'not valid YAML'],
    ['metadata:\n  uniqe: uid\n', 'metadata.uniqe is not a setting (one of unique, file_name, required, include, types, index)'],
    ['metadata:\n  type: { a: int }\n', 'metadata.type is not a setting']
  ]
  for (const [text, message] of cases) {
    const err = await expectCode(t, parseMetaConfig(text, '/m/_mmmeta/config.yml'), 'SHOEBOX_META_CONFIG', message)
    t.match(err?.message, message)
    t.match(err?.message, '/m/_mmmeta/config.yml')
    t.notMatch(err?.message, '\n', 'one line')
  }
  const err = await expectCode(t, parseMetaConfig(': : :\n', 'c.yml'), 'SHOEBOX_META_CONFIG', 'bad YAML')
  t.equal(err?.message, 'c.yml: not valid YAML: Nested mappings are not allowed in compact mappings at line 1, column 3')
})

t.test('an unreadable config is an IO error naming it', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shoebox-meta-config-'))
  t.teardown(() => { fs.rmSync(dir, { recursive: true, force: true }) })
  fs.mkdirSync(metaPaths(dir).config, { recursive: true }) // a directory where the file should be
  const err = await expectCode(t, loadMetaConfig(dir), 'SHOEBOX_IO', 'directory as config')
  t.match(err?.message, 'config.yml')
})

t.test('a config that is not UTF-8 is refused naming the byte, not read with U+FFFD in a key', async (t) => {
  const dir = t.testdir({ _mmmeta: { 'config.yml': Buffer.from('metadata:\n  include: [content_hash, caf\xe9]\n', 'latin1') } })
  const err = await expectCode(t, loadMetaConfig(dir), 'SHOEBOX_META_CONFIG', 'include named "caf\\uFFFD", a key no object has')
  t.equal(err?.message, `${metaPaths(dir).config}: not UTF-8 at byte 39`)
})
