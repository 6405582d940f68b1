import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import { type Dispatcher, request } from 'undici'

type Auth = { authorization: string }

/** Creates a handler through the API; fails the test when the API refuses it. */
export async function createHandler(
  app: FastifyInstance,
  auth: Auth,
  body: Record<string, unknown>,
) {
  const res = await app.inject({
    method: 'POST',
    url: '/v1/handlers',
    headers: auth,
    payload: body,
  })
  if (res.statusCode !== 201) throw new Error(`create handler: ${res.statusCode} ${res.body}`)
  const handler = res.json() as { id: string; endpoint_url: string; verification: unknown }
  return { ...handler, path: new URL(handler.endpoint_url).pathname }
}

/** Listens on 127.0.0.1 (a real socket) for the rest of the test; answers the base URL. */
export async function listen(t: Test, app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address() as { port: number }
  t.teardown(() => app.close())
  return `http://127.0.0.1:${address.port}`
}

export interface Sent {
  status: number
  headers: Record<string, string | string[] | undefined>
  text: string
  // biome-ignore lint/suspicious/noExplicitAny: tests read answers freely, as app.inject's json() does
  json(): any
}

/** One real HTTP request; the body is read whole. */
export async function send(
  url: string,
  options: {
    method?: Dispatcher.HttpMethod
    headers?: Record<string, string>
    body?: string | Buffer
  } = {},
): Promise<Sent> {
  const res = await request(url, {
    method: options.method ?? 'POST',
    headers: options.headers ?? {},
    body: options.body,
  })
  const text = await res.body.text()
  return {
    status: res.statusCode,
    headers: res.headers,
    text,
    json: () => JSON.parse(text),
  }
}

/** The call the answer names, from the call log. */
export async function callOf(app: FastifyInstance, auth: Auth, sent: Sent) {
  const id = sent.headers['x-hookline-call-id']
  if (typeof id !== 'string')
    throw new Error(`no call id in the answer (${sent.status} ${sent.text})`)
  const res = await app.inject({ url: `/v1/calls/${id}`, headers: auth })
  if (res.statusCode !== 200) throw new Error(`get call: ${res.statusCode} ${res.body}`)
  return res.json()
}
