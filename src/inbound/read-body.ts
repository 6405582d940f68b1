import type { Readable } from 'node:stream'

export type ReceivedBody =
  | { ok: true; raw: Buffer }
  | {
      ok: false
      status: 408 | 413 | 400
      reason: string
      /** What did arrive, up to the limit: the call log keeps its start. */
      raw: Buffer
      size: number
    }

/**
 * Reads a call's body with the handler's own size limit and a deadline, as
 * the inbound content-type parser. It never fails: an oversized, slow or cut
 * off body is a result the call log records, and the route answers it (413,
 * 408, 400) with `Connection: close`. Past the limit the rest is read and
 * dropped, so the sender sees the answer rather than a reset connection.
 */
export function readBody(
  stream: Readable,
  options: { limit: number; timeoutMs: number; contentLength: number | undefined },
): Promise<ReceivedBody> {
  const { limit, timeoutMs, contentLength } = options
  if (contentLength !== undefined && contentLength > limit) {
    stream.resume()
    return Promise.resolve({
      ok: false,
      status: 413,
      reason: `the body (${contentLength} bytes) is larger than the handler's limit of ${limit} bytes`,
      raw: Buffer.alloc(0),
      size: contentLength,
    })
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let size = 0
    const finish = (result: ReceivedBody) => {
      clearTimeout(timer)
      stream.removeListener('data', onData)
      stream.removeListener('end', onEnd)
      stream.removeListener('error', onError)
      stream.removeListener('aborted', onAborted)
      // Keep flowing with no listener: the rest is discarded, not buffered.
      stream.on('error', () => {})
      stream.resume()
      resolve(result)
    }
    const kept = () => Buffer.concat(chunks)
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        finish({
          ok: false,
          status: 413,
          reason: `the body is larger than the handler's limit of ${limit} bytes`,
          raw: kept(),
          size,
        })
        return
      }
      chunks.push(chunk)
    }
    const onEnd = () => finish({ ok: true, raw: Buffer.concat(chunks, size) })
    const onError = () =>
      finish({ ok: false, status: 400, reason: 'the body could not be read', raw: kept(), size })
    const onAborted = () =>
      finish({
        ok: false,
        status: 400,
        reason: 'the sender closed the connection before the body was complete',
        raw: kept(),
        size,
      })
    const timer = setTimeout(
      () =>
        finish({
          ok: false,
          status: 408,
          reason: `the body did not arrive within ${timeoutMs} ms`,
          raw: kept(),
          size,
        }),
      timeoutMs,
    )
    stream.on('data', onData)
    stream.on('end', onEnd)
    stream.on('error', onError)
    stream.on('aborted', onAborted)
    stream.resume()
  })
}
