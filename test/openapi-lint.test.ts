import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'

const run = promisify(execFile)
const root = fileURLToPath(new URL('..', import.meta.url))

type Lint = { totals: { errors: number; warnings: number }; problems: unknown[] }

// Redocly's recommended rules (redocly.yaml), offline: no telemetry, no update check.
// What they may skip is in .redocly.lint-ignore.yaml, each with why.
t.test('redocly lint finds no error and no warning in openapi/openapi.json', async (t) => {
  const cli = fileURLToPath(import.meta.resolve('@redocly/cli/bin/cli.js'))
  const result = await run(
    process.execPath,
    [cli, 'lint', 'openapi/openapi.json', '--format=json'],
    {
      cwd: root,
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
    },
  ).catch((error: { stdout: string }) => error)
  const lint = JSON.parse(result.stdout) as Lint
  t.same(lint.problems, [])
  t.same(lint.totals, { ...lint.totals, errors: 0, warnings: 0 })
})
