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

t.test('openapi/openapi.json is what the code generates', async (t) => {
  const committed = await readFile(new URL('../openapi/openapi.json', import.meta.url), 'utf8')
  const generated = serializeOpenApi(await generateOpenApiDocument())
  t.equal(committed, generated, 'run `npm run openapi` and commit the result')
})

t.test('the document is valid OpenAPI 3.1', async (t) => {
  const validator = new Validator()
  const result = await validator.validate(await generateOpenApiDocument())
  t.same(result.errors ?? [], [])
  t.equal(result.valid, true)
  t.equal(validator.version, '3.1')
})

t.test('every operation has a summary, a tag, responses and error responses', async (t) => {
  const doc = (await generateOpenApiDocument()) as {
    paths: Record<string, Record<string, Operation>>
  }
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
    const doc = (await generateOpenApiDocument()) as Document
    t.ok(doc.servers?.length, 'servers')
    t.ok(doc.info.license?.name, 'license')
    t.notOk('Error' in doc.components.schemas, 'no component shadows the built-in Error')
    t.ok('ErrorResponse' in doc.components.schemas)
    const ids = new Set<string>()
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        const name = `${method.toUpperCase()} ${path}`
        t.equal(
          op.operationId,
          operationIds[name],
          `${name} has its id in src/http/openapi-operations.ts`,
        )
        t.match(op.operationId, /^[a-z][A-Za-z]+$/, `${name}: a camelCase id`)
        t.notOk(ids.has(op.operationId ?? ''), `${name}: ${op.operationId} is unique`)
        ids.add(op.operationId ?? '')
        t.ok(op.description, `${name} has a description`)
        for (const status of Object.keys(op.responses)) {
          t.match(status, /^[1-5]\d\d$/, `${name}: ${status} is an explicit status`)
        }
        for (const p of op.parameters ?? []) {
          if (p.schema?.default !== undefined) {
            t.notOk(p.required, `${name}: ${p.name} has a default, so it is optional`)
          }
        }
        if (path.startsWith('/v1/') || path.startsWith('/operator/')) {
          for (const status of ['401', '500'])
            t.ok(op.responses[status], `${name} documents ${status}`)
          if (path.includes('{')) t.ok(op.responses['404'], `${name} documents 404`)
          if (op.requestBody) {
            for (const status of ['400', '413', '415']) {
              t.ok(op.responses[status], `${name} documents ${status}`)
            }
          }
          for (const [status, response] of Object.entries(op.responses)) {
            if (Number(status) < 400) continue
            t.equal(
              response.content?.['application/json']?.schema?.$ref,
              '#/components/schemas/ErrorResponse',
              `${name}: ${status} answers the error schema`,
            )
          }
        }
      }
    }
    t.equal(ids.size, Object.keys(operationIds).length, 'no id in the table is left unused')
  },
)
