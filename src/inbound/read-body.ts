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
    const reading: Reading = {
      chunks: [],
      size: 0,
      limit,
      timeoutMs,
      timer: setTimeout(onTimeout, timeoutMs, stream),
      resolve,
    }
    ;(stream as Reader)[READING] = reading
    stream.on('data', onData)
    stream.on('end', onEnd)
    stream.on('error', onError)
    stream.on('aborted', onAborted)
    stream.resume()
  })
}

// A body being read keeps its state on its stream, and the listeners are
// the module's own functions (an emitter calls them with the stream as
// `this`), so reading a call's body makes no closures: six of them per
// call, each with its name set by tsx's keepNames helper where it runs the
// sources (the benchmarks), cost ~10 µs of CPU per call there.
const READING = Symbol('reading')

interface Reading {
  chunks: Buffer[]
  size: number
  limit: number
  timeoutMs: number
  timer: NodeJS.Timeout
  resolve: (result: ReceivedBody) => void
}

type Reader = Readable & { [READING]?: Reading | undefined }

function onData(this: Reader, chunk: Buffer) {
  const reading = this[READING]
  if (!reading) return
  reading.size += chunk.length
  if (reading.size > reading.limit) {
    finish(this, {
      ok: false,
      status: 413,
      reason: `the body is larger than the handler's limit of ${reading.limit} bytes`,
      raw: Buffer.concat(reading.chunks),
      size: reading.size,
    })
    return
  }
  reading.chunks.push(chunk)
}

function onEnd(this: Reader) {
  const reading = this[READING]
  if (reading) finish(this, { ok: true, raw: Buffer.concat(reading.chunks, reading.size) })
}

function onError(this: Reader) {
  failed(this, 400, 'the body could not be read')
}

function onAborted(this: Reader) {
  failed(this, 400, 'the sender closed the connection before the body was complete')
}

function onTimeout(stream: Reader) {
  const reading = stream[READING]
  if (reading) failed(stream, 408, `the body did not arrive within ${reading.timeoutMs} ms`)
}

function failed(stream: Reader, status: 400 | 408, reason: string) {
  const reading = stream[READING]
  if (!reading) return
  finish(stream, {
    ok: false,
    status,
    reason,
    raw: Buffer.concat(reading.chunks),
    size: reading.size,
  })
}

function finish(stream: Reader, result: ReceivedBody) {
  const reading = stream[READING]
  if (!reading) return
  stream[READING] = undefined
  clearTimeout(reading.timer)
  stream.removeListener('data', onData)
  stream.removeListener('end', onEnd)
  stream.removeListener('error', onError)
  stream.removeListener('aborted', onAborted)
  // Keep flowing with no listener: the rest is discarded, not buffered.
  stream.on('error', ignore)
  stream.resume()
  reading.resolve(result)
}

function ignore() {}
