import type { LookupAddress } from 'node:dns'
import { createServer } from 'node:http'
import type { AddressInfo, LookupFunction } from 'node:net'
import t, { type Test } from 'tap'
import { Agent, request } from 'undici'
import { parseAllowList } from '../../src/net/address-policy.js'
import {
  AddressNotAllowedError,
  createGuardedConnector,
  createGuardedLookup,
  type Resolver,
} from '../../src/net/guarded-lookup.js'

const none = parseAllowList('')

/** A resolver answering from a table, so tests need no DNS. */
const fakeResolver =
  (table: Record<string, LookupAddress[]>): Resolver =>
  (hostname, _options, callback) =>
    setImmediate(() =>
      table[hostname]
        ? callback(null, table[hostname])
        : callback(
            Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }),
            [],
          ),
    )

function lookupOnce(lookup: LookupFunction, host: string, all = false) {
  return new Promise<{
    error: (Error & { code?: string }) | null
    address: unknown
    family?: number
  }>((resolve) =>
    lookup(host, { all }, (error, address, family) => resolve({ error, address, family })),
  )
}

t.test('the lookup passes allowed addresses through, in both callback shapes', async (t) => {
  const lookup = createGuardedLookup(
    none,
    fakeResolver({
      'crm.example': [
        { address: '93.184.216.34', family: 4 },
        { address: '2606:2800::1', family: 6 },
      ],
    }),
  )
  t.same(await lookupOnce(lookup, 'crm.example'), {
    error: null,
    address: '93.184.216.34',
    family: 4,
  })
  t.same(await lookupOnce(lookup, 'crm.example', true), {
    error: null,
    address: [
      { address: '93.184.216.34', family: 4 },
      { address: '2606:2800::1', family: 6 },
    ],
    family: undefined,
  })
  const missing = await lookupOnce(lookup, 'nope.example')
  t.equal(missing.error?.code, 'ENOTFOUND', 'resolver errors pass through')
})

t.test('the lookup refuses a name when any of its addresses is forbidden', async (t) => {
  const lookup = createGuardedLookup(
    none,
    fakeResolver({
      'rebind.example': [
        { address: '93.184.216.34', family: 4 },
        { address: '169.254.169.254', family: 4 },
      ],
      'mapped.example': [{ address: '::ffff:10.0.0.1', family: 6 }],
    }),
  )
  const { error } = await lookupOnce(lookup, 'rebind.example')
  t.ok(error instanceof AddressNotAllowedError)
  t.equal(error?.code, 'EADDRNOTALLOWED')
  t.equal(
    error?.message,
    'refusing to connect to rebind.example (169.254.169.254): a cloud metadata address, not in the allowed list',
  )
  t.equal((await lookupOnce(lookup, 'mapped.example', true)).error?.code, 'EADDRNOTALLOWED')
})

t.test('with the system resolver, odd spellings of loopback are refused', async (t) => {
  const lookup = createGuardedLookup(none)
  for (const host of [
    'localhost',
    '127.1',
    '2130706433',
    '0177.0.0.1',
    '0x7f.1',
    '127.0.0.1',
    '::1',
  ]) {
    const { error } = await lookupOnce(lookup, host)
    t.equal(error?.code, 'EADDRNOTALLOWED', host)
    t.match(error?.message, /loopback address/, host)
  }
})

async function startServer(t: Test) {
  let connections = 0
  const server = createServer((_req, res) => res.end('ok'))
  server.on('connection', () => connections++)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return { port: (server.address() as AddressInfo).port, connections: () => connections }
}

function agent(t: Test, connect: ConstructorParameters<typeof Agent>[0]) {
  const dispatcher = new Agent(connect)
  t.teardown(() => dispatcher.close())
  return dispatcher
}

t.test('through undici: refused before any connection, unless allowed', async (t) => {
  const server = await startServer(t)
  const refused = agent(t, { connect: createGuardedConnector(none) })
  for (const host of ['127.0.0.1', 'localhost', '0x7f.1', '2130706433', '[::ffff:127.0.0.1]']) {
    await t.rejects(
      request(`http://${host}:${server.port}/`, { dispatcher: refused }),
      { code: 'EADDRNOTALLOWED', message: /refusing to connect to .*loopback address/ },
      host,
    )
  }
  t.equal(server.connections(), 0, 'the server saw no connection')

  const allowed = agent(t, {
    connect: createGuardedConnector(parseAllowList('127.0.0.1/32,::1/128')),
  })
  for (const host of ['127.0.0.1', 'localhost']) {
    const response = await request(`http://${host}:${server.port}/`, { dispatcher: allowed })
    t.equal(response.statusCode, 200, host)
    t.equal(await response.body.text(), 'ok')
  }
  t.ok(server.connections() >= 1)
})

t.test(
  'through undici with the lookup alone: names are guarded, literal IPs are not',
  async (t) => {
    const server = await startServer(t)
    const lookupOnly = agent(t, { connect: { lookup: createGuardedLookup(none) } })
    await t.rejects(request(`http://localhost:${server.port}/`, { dispatcher: lookupOnly }), {
      code: 'EADDRNOTALLOWED',
    })
    t.equal(server.connections(), 0)
    // Node skips `lookup` for literal IPs: the reason createGuardedConnector checks them itself.
    const response = await request(`http://127.0.0.1:${server.port}/`, { dispatcher: lookupOnly })
    t.equal(response.statusCode, 200)
    await response.body.dump()
  },
)
