// `npm run openapi`: writes openapi/openapi.json from the route schemas.
import { writeFile } from 'node:fs/promises'
import { generateOpenApiDocument, serializeOpenApi } from '../src/openapi-document.js'

const file = new URL('../openapi/openapi.json', import.meta.url)
await writeFile(file, serializeOpenApi(await generateOpenApiDocument()))
process.stdout.write(`wrote ${file.pathname}\n`)
