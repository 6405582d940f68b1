import { readFile } from 'node:fs/promises'
import { Validator } from '@seriousme/openapi-schema-validator'
import t from 'tap'
import { operationIds } from '../src/http/openapi-operations.js'
import { generateOpenApiDocument, serializeOpenApi } from '../src/openapi-document.js'

type Operation = {
  operationId?: string
  summary?: string
  description?: string
  tags?: string[]
  parameters?: { in: string; name: string; required?: boolean; schema?: { default?: unknown } }[]
  responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }>
  requestBody?: unknown
}
type Document = {
  servers?: { url: string }[]
  info: { license?: { name: string } }
  paths: Record<string, Record<string, Operation>>
  components: { schemas: Record<string, unknown> }
}

// Built once: each build compiles every route's schemas, slow on a busy machine.
const documentBuilt = generateOpenApiDocument()

t.test('openapi/openapi.json is what the code generates', async (t) => {
  const committed = await readFile(new URL('../openapi/openapi.json', import.meta.url), 'utf8')
  const generated = serializeOpenApi(await documentBuilt)
  t.equal(committed, generated, 'run `npm run openapi` and commit the result')
})

t.test('the document is valid OpenAPI 3.1', async (t) => {
  const validator = new Validator()
  const result = await validator.validate(await documentBuilt)
  t.same(result.errors ?? [], [])
  t.equal(result.valid, true)
  t.equal(validator.version, '3.1')
})

t.test('every operation has a summary, a tag, responses and error responses', async (t) => {
  const doc = (await documentBuilt) as Document
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const name = `${method.toUpperCase()} ${path}`
      t.ok(op.summary, `${name} has a summary`)
      t.ok(op.tags?.length, `${name} has a tag`)
      const statuses = Object.keys(op.responses)
      t.ok(
        statuses.some((s) => s.startsWith('2')),
        `${name} documents success`,
      )
      if (!path.endsWith('z')) {
        t.ok(
          statuses.some((s) => s.startsWith('4')),
          `${name} documents its errors`,
        )
      }
    }
  }
})

t.test(
  'what generators need: ids, optional defaults, explicit statuses, one error schema',
  async (t) => {
    const doc = (await documentBuilt) as Document
    t.ok(doc.servers?.length, 'servers')
    t.ok(doc.info.license?.name, 'license')
    t.notOk('Error' in doc.components.schemas, 'no component shadows the built-in Error')
    t.ok('ErrorResponse' in doc.components.schemas)
    const problems: string[] = []
    const ids = new Set<string>()
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        const name = `${method.toUpperCase()} ${path}`
        const id = op.operationId ?? ''
        if (id !== operationIds[name])
          problems.push(`${name}: no id in src/http/openapi-operations.ts`)
        if (!/^[a-z][A-Za-z]+$/.test(id)) problems.push(`${name}: ${id} is not camelCase`)
        if (ids.has(id)) problems.push(`${name}: ${id} is not unique`)
        ids.add(id)
        if (!op.description) problems.push(`${name}: no description`)
        for (const status of Object.keys(op.responses)) {
          if (!/^[1-5]\d\d$/.test(status)) problems.push(`${name}: ${status} is not a status`)
        }
        for (const p of op.parameters ?? []) {
          if (p.schema?.default !== undefined && p.required) {
            problems.push(`${name}: ${p.name} has a default, yet is required`)
          }
        }
        if (!path.startsWith('/v1/') && !path.startsWith('/operator/')) continue
        const expected = ['401', '500']
        if (path.includes('{')) expected.push('404')
        if (op.requestBody) expected.push('400', '413', '415')
        for (const status of expected) {
          if (!op.responses[status]) problems.push(`${name}: ${status} undocumented`)
        }
        for (const [status, response] of Object.entries(op.responses)) {
          const schema = response.content?.['application/json']?.schema?.$ref
          if (Number(status) >= 400 && schema !== '#/components/schemas/ErrorResponse') {
            problems.push(`${name}: ${status} is not an ErrorResponse`)
          }
        }
      }
    }
    t.same(problems, [])
    t.equal(ids.size, Object.keys(operationIds).length, 'no id in the table is left unused')
  },
)
