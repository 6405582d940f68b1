import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { createClient } from '@hey-api/openapi-ts'
import t from 'tap'
import { build, createWorkspace } from './helpers/app.js'

const run = promisify(execFile)
const root = fileURLToPath(new URL('..', import.meta.url))

/**
 * A second generator, independent of the project's own openapi-typescript
 * client: @hey-api/openapi-ts writes an SDK (one function per operationId)
 * from openapi/openapi.json; the compiler checks a journey against it, then
 * the journey runs against a listening server.
 */
const JOURNEY = `
import { createClient } from './client/client/index.js'
import {
  createRule,
  getRule,
  listDeliveries,
  listEventTypes,
  listRules,
  replaceRuleReferences,
  sampleHandlerParameters,
  updateRule,
} from './client/sdk.gen.js'
import type { ErrorResponse, Rule } from './client/types.gen.js'

export async function journey(baseUrl: string, key: string): Promise<string[]> {
  const client = createClient({ baseUrl, headers: { authorization: \`Bearer \${key}\` } })
  const seen: string[] = []
  const created = await createRule({
    client,
    body: {
      title: 'New leads',
      event_types: [],
      request: { method: 'POST', url: 'https://example.com/hooks', body_format: 'json' },
    },
  })
  if (!created.data) throw new Error('no rule')
  const rule: Rule = created.data
  seen.push(rule.id)
  // Parameters with a default (limit, sort, include_archived) may be left out.
  const page = await listRules({ client, query: { q: 'leads' } })
  seen.push(String(page.data?.data.length))
  const types = await listEventTypes({ client })
  seen.push(String(types.data?.data.length))
  const deliveries = await listDeliveries({ client, query: { rule_id: rule.id } })
  seen.push(String(deliveries.data?.next_cursor))
  const missing = await getRule({ client, path: { ruleId: 'rul_0000000000000000000000000' } })
  const problem: ErrorResponse | undefined = missing.error
  seen.push(String(missing.response.status), String(problem?.code))
  // @ts-expect-error the status filter is an enum
  await listRules({ client, query: { status: 'sometimes' } })
  // PATCH is a merge patch: a nested object may be partial, and the rest of it stays.
  const patched = await updateRule({
    client,
    path: { ruleId: rule.id },
    body: { request: { url: 'https://example.com/v2/hooks' }, execution: { max_attempts: null } },
  })
  seen.push(String(patched.data?.request.url), String(patched.data?.request.method))
  // Inputs with a default may be left out (their own input schemas).
  const references = await replaceRuleReferences({
    client,
    path: { ruleId: rule.id },
    body: { references: [{ reference: 'automation-1' }] },
  })
  seen.push(String(references.data?.references[0]?.name === ''))
  const sampled = await sampleHandlerParameters({ client, body: { sample: { email: 'a@x.io' } } })
  seen.push(String(sampled.data?.parameters[0]?.name))
  return seen
}
`

t.test('a client from @hey-api/openapi-ts compiles and runs a journey', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hookline-hey-api-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await createClient({
    input: path.join(root, 'openapi/openapi.json'),
    output: path.join(dir, 'client'),
    logs: { level: 'silent', file: false },
  })
  await writeFile(path.join(dir, 'journey.ts'), JOURNEY)
  await writeFile(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        lib: ['ES2022', 'DOM', 'DOM.Iterable'],
        types: [],
        strict: true,
        noEmit: true,
        skipLibCheck: true,
      },
      files: ['journey.ts'],
    }),
  )
  const tsc = path.join(root, 'node_modules/typescript/bin/tsc')
  const compiled = await run(process.execPath, [tsc, '-p', dir]).then(
    () => '',
    (error: { stdout?: string }) => error.stdout ?? String(error),
  )
  t.equal(compiled, '', 'the journey type-checks against the generated SDK')

  const { app } = await build(t)
  const { key } = await createWorkspace(app)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const { journey } = (await import(pathToFileURL(path.join(dir, 'journey.ts')).href)) as {
    journey: (baseUrl: string, key: string) => Promise<string[]>
  }
  const [ruleId, ...rest] = await journey(baseUrl, key)
  t.match(ruleId, /^rul_/)
  t.same(rest, [
    '1',
    '0',
    'null',
    '404',
    'not_found',
    'https://example.com/v2/hooks',
    'POST',
    'true',
    'email',
  ])
})
