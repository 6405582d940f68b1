import { readFile } from 'node:fs/promises'
import { Validator } from '@seriousme/openapi-schema-validator'
import t from 'tap'
import { generateOpenApiDocument, serializeOpenApi } from '../src/openapi-document.js'

type Operation = {
  summary?: string
  tags?: string[]
  responses: Record<string, unknown>
  requestBody?: unknown
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
