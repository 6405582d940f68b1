/**
 * `npm test` itself (test/run.ts), run as a real process with a cluster of its
 * own: whatever happens to its PostgreSQL, a failed test is a failed run.
 */
import { spawn } from 'node:child_process'
import t from 'tap'

// Each case starts a cluster of its own (initdb included) beside the rest of the suite.
t.setTimeout(300_000)

interface Run {
  code: number | null
  output: string
}

/** `tsx test/run.ts FILE` with none of this run's database or tap variables. */
function runTests(file: string): Promise<Run> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) =>
        !/^(TAP|_TAPJS)/.test(name) &&
        ![
          'DATABASE_URL',
          'TEST_DATABASE_URL',
          'HOOKLINE_TEST_ADMIN_URL',
          'HOOKLINE_TEST_TEMPLATE',
        ].includes(name),
    ),
  )
  const child = spawn(process.execPath, ['--import=tsx', 'test/run.ts', file], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (chunk) => {
    output += chunk
  })
  child.stderr.on('data', (chunk) => {
    output += chunk
  })
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, output })))
}

t.test('a run whose database is killed mid-run exits non-zero and says why', async (t) => {
  const run = await runTests('test/fixtures/runner/database-dies.fixture.ts')
  t.not(run.code, 0, `exit code ${run.code}`)
  t.match(
    run.output,
    /PostgreSQL .*(stopped|died|exited)/i,
    'the run reports the database stopped under it',
  )
})

t.test('a passing run exits 0', async (t) => {
  const run = await runTests('test/fixtures/runner/passes.fixture.ts')
  t.equal(run.code, 0, run.output)
})
