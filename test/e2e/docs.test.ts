import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { chromium } from 'playwright-core'
import t from 'tap'
import { build } from '../helpers/app.js'

// Debian's chromium package; .ci/run installs it (see the README's Tests section).
const CHROMIUM = '/usr/bin/chromium'
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

t.test('/docs renders the API reference in a real browser, from local assets only', async (t) => {
  if (!existsSync(CHROMIUM)) {
    t.fail(`${CHROMIUM} is missing: apt-get install -y chromium (as .ci/run does)`)
    return
  }
  const { app } = await build(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`

  // A fresh profile per run. Playwright takes the profile folder itself, not --user-data-dir.
  const profile = await mkdtemp(path.join(tmpdir(), 'hookline-chromium-'))
  t.teardown(() => rm(profile, { recursive: true, force: true }))
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
  })
  t.teardown(() => browser.close())

  // Anything not served by Hookline itself (a CDN, a validator badge) is refused and noted.
  const elsewhere: string[] = []
  await browser.route('**/*', (route) => {
    const url = route.request().url()
    if (url.startsWith(origin)) return route.continue()
    elsewhere.push(url)
    return route.abort()
  })
  const page = await browser.newPage()
  const pageErrors: string[] = []
  page.on('pageerror', (err) => pageErrors.push(err.message))

  await page.goto(`${origin}/docs`)
  await page.locator('.opblock').first().waitFor({ timeout: 30_000 })

  t.equal(
    await page
      .locator('.info .title')
      .first()
      .textContent()
      .then((s) => s?.trim().startsWith('Hookline API')),
    true,
  )
  t.equal(await page.title(), 'Hookline API reference', 'the tab says Hookline')
  const logo = await page.locator('.topbar img').first().getAttribute('src')
  t.ok(logo, 'a logo is shown')
  const served = await fetch(new URL(logo as string, `${origin}/docs/`))
  t.match(await served.text(), />Hookline</, 'the logo is Hookline’s, not Fastify’s')
  const operations = await page.locator('.opblock-summary-path').allTextContents()
  const paths = operations.map((p) => p.replace(/\u200b/g, '').trim())
  for (const expected of [
    '/v1/rules',
    '/v1/events',
    '/v1/deliveries/{deliveryId}',
    '/operator/workspaces',
    '/metrics',
  ]) {
    t.ok(paths.includes(expected), `${expected} is listed`)
  }
  t.ok(paths.length >= 30, `many operations listed (${paths.length})`)

  // Expanding one shows its parameters, request body and responses.
  const createRule = page.locator('.opblock-post', {
    has: page.locator('.opblock-summary-path', { hasText: /^\/v1\/rules$/ }),
  })
  await createRule.locator('.opblock-summary').first().click()
  const body = createRule.locator('.opblock-body')
  await body.waitFor({ state: 'visible' })
  t.match(await body.textContent(), /Responses/)
  t.match(await body.locator('.responses-table').first().textContent(), /201/)

  t.same(elsewhere, [], 'every asset came from Hookline')
  t.same(pageErrors, [], 'no script errors')
})
