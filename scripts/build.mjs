// `npm run build`: compiles src/ into dist/ with tsc and, only when tsc
// succeeds, writes dist/.build-stamp. With --if-stale (what `npm install`
// and `npm start` run) it compiles only when a source is newer than that
// stamp, so a restart does not pay tsc's 30–60 s again, a fresh clone or a
// `git pull` that changed a source still gets a fresh build, and a build
// that failed is retried. Plain JavaScript: it must run before anything is
// compiled, without tsx.
import { spawnSync } from 'node:child_process'
import { readdirSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const stamp = path.join(root, 'dist/.build-stamp')
const inputs = ['src', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json']

if (process.argv.includes('--if-stale') && builtAfter(newestInput())) process.exit(0)

const tsc = spawnSync(
  process.execPath,
  [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
  { cwd: root, stdio: 'inherit' },
)
if (tsc.error) {
  process.stderr.write(`hookline: cannot run tsc (${tsc.error.message}); run npm install first\n`)
  process.exit(1)
}
if (tsc.status !== 0) process.exit(tsc.status ?? 1)
writeFileSync(stamp, `${new Date().toISOString()}\n`)

function builtAfter(mtimeMs) {
  try {
    return statSync(stamp).mtimeMs >= mtimeMs
  } catch {
    return false
  }
}

function newestInput() {
  let newest = 0
  const visit = (file) => {
    const stat = statSync(file, { throwIfNoEntry: false })
    if (!stat) return
    // A folder's own time moves when a file in it is deleted or renamed.
    newest = Math.max(newest, stat.mtimeMs)
    if (stat.isDirectory()) for (const name of readdirSync(file)) visit(path.join(file, name))
  }
  for (const input of inputs) visit(path.join(root, input))
  return newest
}
