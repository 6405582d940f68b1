import { readFile } from 'node:fs/promises'
import openapiTS, { astToString, COMMENT_HEADER } from 'openapi-typescript'
import t from 'tap'

// What `npm run client` (the openapi-typescript CLI) writes, made with its Node API and the
// script's one option: a property with a default may be left out of a request.
t.test(
  'openapi/client/schema.d.ts is what openapi-typescript generates from openapi.json',
  async (t) => {
    const spec = new URL('../openapi/openapi.json', import.meta.url)
    const generated = `${COMMENT_HEADER}${astToString(await openapiTS(spec, { silent: true, defaultNonNullable: false }))}`
    const committed = await readFile(
      new URL('../openapi/client/schema.d.ts', import.meta.url),
      'utf8',
    )
    t.equal(committed, generated, 'run `npm run client` and commit the result')
  },
)
