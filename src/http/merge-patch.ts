import type { FastifyReply, FastifyRequest, preValidationAsyncHookHandler } from 'fastify'
import { markDeprecated } from './deprecation.js'

/** RFC 7396's media type: the one PATCH rule of the API (README, Conventions). */
export const MERGE_PATCH = 'application/merge-patch+json'

// Plain `application/json`, what nearly every call sends, is told at once: no split, no copy.
export const isMergePatch = (contentType: string | undefined) =>
  contentType !== undefined &&
  contentType !== 'application/json' &&
  contentType.split(';')[0]?.trim().toLowerCase() === MERGE_PATCH

type Json = unknown
const isObject = (value: Json): value is Record<string, Json> =>
  value !== null && typeof value === 'object' && !Array.isArray(value)

/**
 * RFC 7396, section 2: an object patch merges member by member, recursively;
 * `null` removes a member; anything else (arrays included) replaces.
 */
export function mergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return patch
  const out: Record<string, Json> = isObject(target) ? { ...target } : {}
  for (const [name, value] of Object.entries(patch)) {
    if (value === null) delete out[name]
    else out[name] = mergePatch(out[name], value)
  }
  return out
}

/**
 * For a PATCH route: turns a merge patch (`content-type: application/merge-patch+json`) into
 * the body the route validates and stores, before validation. `current` answers the stored
 * nested objects that merge (`request`, `execution`…), or undefined when the resource is not
 * there (the route then answers its own 404). Top-level members are as sent: a value replaces,
 * `null` clears a nullable member (and is refused, naming it, where a member cannot be null).
 *
 * A plain `application/json` PATCH keeps its older rule for the deprecation window (a nested
 * object sent replaces the stored one, members left out taking their defaults); one that sends
 * such an object is answered with the deprecation headers.
 */
export function mergePatchBody(
  nested: readonly string[],
  current: (request: FastifyRequest) => Promise<Record<string, Json> | undefined>,
): preValidationAsyncHookHandler {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const body = request.body
    if (!isObject(body)) return
    if (!isMergePatch(request.headers['content-type'])) {
      if (nested.some((name) => isObject(body[name]))) markDeprecated(reply)
      return
    }
    if (!nested.some((name) => isObject(body[name]))) return
    const stored = await current(request)
    if (!stored) return
    const merged: Record<string, Json> = { ...body }
    for (const name of nested) {
      if (isObject(body[name])) merged[name] = mergePatch(stored[name] ?? {}, body[name])
    }
    request.body = merged
  }
}

/** Whether a path id is worth a lookup (a malformed one is left to the params validation). */
export const wellFormedId = (id: unknown): id is string =>
  typeof id === 'string' && /^[a-z]+_[0-9a-z]+$/.test(id) && id.length <= 64
