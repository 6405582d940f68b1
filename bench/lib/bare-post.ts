import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Agent, request } from 'undici'

export interface BarePost {
  pid: number
  /** POSTs `body` as JSON to the bare route and reads the answer. */
  post(body: unknown): Promise<void>
  stop(): Promise<void>
}

/** Starts bare-post-child.ts; its client keeps as many connections as Hookline's bench client. */
export async function startBarePost(): Promise<BarePost> {
  const child: ChildProcess = fork(
    fileURLToPath(new URL('./bare-post-child.ts', import.meta.url)),
    [],
    { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  )
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { port: number }) => resolve(m.port))
    child.once('exit', (code) => reject(new Error(`bare POST server exited (${code})`)))
  })
  const agent = new Agent({ connections: 64, keepAliveTimeout: 60_000 })
  const url = `http://127.0.0.1:${port}/v1/events`
  return {
    pid: child.pid as number,
    async post(body) {
      const res = await request(url, {
        method: 'POST',
        dispatcher: agent,
        headers: { authorization: 'Bearer bare', 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
      const text = await res.body.text()
      if (res.statusCode !== 202) throw new Error(`bare POST: ${res.statusCode} ${text}`)
      JSON.parse(text)
    },
    async stop() {
      await agent.close()
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.disconnect()
      await exited
    },
  }
}
