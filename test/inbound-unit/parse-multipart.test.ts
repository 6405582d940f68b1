import fc from 'fast-check'
import t from 'tap'
import { parseInboundBody } from '../../src/inbound/parse-body.js'
import { parseMultipart } from '../../src/inbound/parse-multipart.js'

const boundary = 'XyZ123'
const contentType = `multipart/form-data; boundary=${boundary}`

type Part = { name: string; value: string | Buffer; filename?: string; headers?: string[] }

const build = (parts: Part[], { close = true, b = boundary } = {}) =>
  Buffer.concat([
    ...parts.flatMap((part) => [
      Buffer.from(
        `--${b}\r\nContent-Disposition: form-data; name="${part.name}"` +
          (part.filename === undefined ? '' : `; filename="${part.filename}"`) +
          '\r\n' +
          (part.headers ?? []).map((h) => `${h}\r\n`).join('') +
          '\r\n',
      ),
      Buffer.isBuffer(part.value) ? part.value : Buffer.from(part.value),
      Buffer.from('\r\n'),
    ]),
    Buffer.from(close ? `--${b}--\r\n` : ''),
  ])

const parse = (body: Buffer, type = contentType) =>
  parseInboundBody({ contentType: type, rawBody: body, format: 'multipart' })
const reasonOf = (result: ReturnType<typeof parse>) => (result.ok ? 'ok' : result.reason)

t.test('text fields nest like a form; files are counted and skipped', async (t) => {
  const body = build([
    { name: 'customer[email]', value: 'ana@acme.example' },
    { name: 'customer[name]', value: 'Ana\r\nLima' },
    { name: 'tags[]', value: 'x' },
    { name: 'tags[]', value: 'y' },
    {
      name: 'cv',
      value: Buffer.from([0xff, 0x00, 0xfe]),
      filename: 'cv.pdf',
      headers: ['Content-Type: application/pdf'],
    },
    { name: 'note', value: 'olá', headers: ['Content-Type: text/plain; charset=utf-8'] },
  ])
  t.same(parse(body), {
    ok: true,
    params: {
      customer: { email: 'ana@acme.example', name: 'Ana\r\nLima' },
      tags: ['x', 'y'],
      note: 'olá',
    },
    format: 'multipart',
    ignoredFiles: 1,
  })
})

t.test('what a real encoder (Node’s FormData) sends parses back', async (t) => {
  const form = new FormData()
  form.append('email', 'ana@acme.example')
  form.append('name', 'Ana "Quoted" Lima')
  form.append('upload', new Blob([new Uint8Array([1, 2, 3])]), 'a.bin')
  form.append('utf', '€ and ✓')
  const response = new Response(form)
  const body = Buffer.from(await response.arrayBuffer())
  const result = parseInboundBody({
    contentType: response.headers.get('content-type') ?? '',
    rawBody: body,
    format: 'auto',
  })
  t.same(result, {
    ok: true,
    params: { email: 'ana@acme.example', name: 'Ana "Quoted" Lima', utf: '€ and ✓' },
    format: 'multipart',
    ignoredFiles: 1,
  })
})

t.test('a preamble, an epilogue and a quoted boundary are fine', async (t) => {
  const body = Buffer.concat([
    Buffer.from('preamble\r\n'),
    build([{ name: 'a', value: '1' }]),
    Buffer.from('epilogue'),
  ])
  t.same(parse(body, `multipart/form-data; boundary="${boundary}"`).ok, true)
})

t.test('malformed bodies are refused with a reason', async (t) => {
  const good = build([{ name: 'a', value: '1' }])
  const cases: [Buffer, RegExp, string?][] = [
    [build([{ name: 'a', value: '1' }], { close: false }), /missing closing boundary/],
    [Buffer.from('no boundary here'), /boundary does not occur/],
    [
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="a"\r\n1\r\n--${boundary}--`,
      ),
      /headers are malformed/,
    ],
    [Buffer.from(`--${boundary}\r\nX: y\r\n\r\n1\r\n--${boundary}--`), /no Content-Disposition/],
    [
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: attachment; name="a"\r\n\r\n1\r\n--${boundary}--`,
      ),
      /not form-data/,
    ],
    [
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data\r\n\r\n1\r\n--${boundary}--`),
      /no field name/,
    ],
    [
      Buffer.from(`--${boundary}\r\n folded: x\r\n\r\n1\r\n--${boundary}--`),
      /malformed header line/,
    ],
    [Buffer.from(`--${boundary}X\r\n\r\n1\r\n--${boundary}--`), /boundary line is malformed/],
    [
      build([{ name: 'a', value: '1', headers: ['Content-Type: text/plain; charset=latin1'] }]),
      /charset "latin1"/,
    ],
    [build([{ name: 'a', value: Buffer.from([0xc3, 0x28]) }]), /field "a" is not valid UTF-8/],
    [build([{ name: '__proto__[polluted]', value: '1' }]), /reserved key "__proto__"/],
    [good, /content-type must be multipart\/form-data with a boundary/, 'multipart/form-data'],
    [good, /boundary in content-type is not valid/, 'multipart/form-data; boundary=" "'],
    [good, /content-type must be/, 'application/json; boundary=XyZ123'],
  ]
  for (const [body, reason, type] of cases)
    t.match(reasonOf(parse(body, type)), reason, String(reason))
  t.equal(({} as Record<string, unknown>).polluted, undefined)
})

t.test('fields and files are capped', async (t) => {
  const fields = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ name: `f${i}`, value: String(i) }))
  t.ok(parse(build(fields(1000))).ok)
  t.equal(reasonOf(parse(build(fields(1001)))), 'multipart body: more than 1000 fields')
  const files = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ name: `u${i}`, value: 'x', filename: 'x.txt' }))
  const hundred = parse(build(files(100)))
  t.equal(hundred.ok && hundred.ignoredFiles, 100)
  t.equal(reasonOf(parse(build(files(101)))), 'multipart body: more than 100 file parts')
})

t.test('the multipart parser never throws on arbitrary or mangled bodies', async () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 400 }),
      fc.constantFrom('a', boundary, '----x'),
      (bytes, b) => {
        const result = parseMultipart(Buffer.from(bytes), b)
        return result.ok || typeof result.reason === 'string'
      },
    ),
    { numRuns: 3000 },
  )
  const sample = build([
    { name: 'a[b]', value: 'x' },
    { name: 'f', value: 'y', filename: 'f.txt' },
  ])
  fc.assert(
    fc.property(
      fc.nat(sample.length - 1),
      fc.nat(sample.length),
      fc.uint8Array({ maxLength: 8 }),
      (at, cut, bytes) => {
        const mangled = Buffer.concat([
          sample.subarray(0, at),
          Buffer.from(bytes),
          sample.subarray(Math.max(at, cut)),
        ])
        const result = parseMultipart(mangled, boundary)
        return result.ok || typeof result.reason === 'string'
      },
    ),
    { numRuns: 5000 },
  )
})
