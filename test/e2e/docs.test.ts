import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { chromium } from 'playwright-core'
import t from 'tap'
import { build, createWorkspace } from '../helpers/app.js'

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

t.test(
  '/docs: the Hookline reference and guides, with a working "try it", from local assets only',
  async (t) => {
    if (!existsSync(CHROMIUM)) {
      t.fail(`${CHROMIUM} is missing: apt-get install -y chromium (as .ci/run does)`)
      return
    }
    const { app } = await build(t)
    await app.listen({ port: 0, host: '127.0.0.1' })
    const ws = await createWorkspace(app)
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
    await page
      .getByRole('heading', { name: 'Hookline API', exact: true })
      .waitFor({ timeout: 60_000 })
    t.equal(await page.title(), 'Hookline API reference', 'the tab says Hookline')
    t.notOk(
      await page.locator('img[src*="fastify"], [class*="fastify"]').count(),
      'no Fastify logo',
    )

    // The guides are beside the reference: headings in the page, entries in the sidebar.
    for (const guide of [
      'Getting started',
      'Verifying signatures',
      'Inbound handlers',
      'Rotating secrets',
    ]) {
      t.ok(
        await page.getByRole('heading', { name: guide }).count(),
        `the "${guide}" guide is shown`,
      )
    }
    await page.getByText('Introduction', { exact: true }).first().click()
    t.ok(
      await page
        .getByRole('link', { name: 'Rotating secrets' })
        .or(page.getByText('Rotating secrets'))
        .count(),
      'the sidebar lists the guides',
    )
    // Every tag of the reference is in the sidebar.
    for (const tag of ['rules', 'events', 'deliveries', 'handlers', 'operator']) {
      t.ok(await page.getByText(tag, { exact: true }).count(), `the ${tag} section is listed`)
    }

    // "Try it": the key goes in once, and a test request reaches Hookline and answers 200.
    await page.getByPlaceholder('Token').first().fill(ws.key)
    await page.getByText('The workspace this API key belongs to').first().click()
    await page
      .locator('button', { hasText: /Test Request\s*\(?get \/v1\/workspace\)?$/ })
      .first()
      .click()
    const answered = page.waitForResponse((r) => new URL(r.url()).pathname === '/v1/workspace', {
      timeout: 60_000,
    })
    await page.locator('[data-addressbar-action="send"]:visible').first().click()
    const response = await answered
    t.equal(response.status(), 200, 'the call reached Hookline with the key')
    t.equal(
      (await response.request().allHeaders()).authorization,
      `Bearer ${ws.key}`,
      'as a bearer token',
    )
    t.equal(((await response.json()) as { id: string }).id, ws.id, 'and answered the workspace')
    const shown = page.locator('text=/200\\s*OK/').first()
    await shown.waitFor({ timeout: 30_000 })
    t.ok(await shown.isVisible(), 'the status is shown in the page')

    t.same(elsewhere, [], 'every asset came from Hookline (no CDN, no fonts, no telemetry)')
    t.same(pageErrors, [], 'no script errors')
  },
)
