import type { HandlerResponse } from '../schemas/handler-parts.js'
import {
  isPlainTemplate,
  renderHeaderValue,
  renderJson,
  renderText,
  renderXml,
} from '../templates/render.js'
import { renderBudgetMs } from '../templates/render-budget.js'
import { renderOnThread } from '../templates/render-pool.js'

/** What the sender is answered: the handler's configured response, or one of the documented errors. */
export type Answer =
  | {
      kind: 'configured'
      status: number
      contentType: string
      headers: Record<string, string>
      body: string
    }
  | {
      kind: 'error'
      status: number
      code: string
      message: string
      headers?: Record<string, string>
    }

export const errorAnswer = (
  status: number,
  code: string,
  message: string,
  headers?: Record<string, string>,
): Answer => ({ kind: 'error', status, code, message, ...(headers ? { headers } : {}) })

export interface ResponseData {
  params: Record<string, unknown>
  /** GET: the record the CRM lookup returned (null: none matched). */
  record?: Record<string, unknown> | null
  callId: string
  method: string
}

const isJson = (type: string) => /[/+]json\b/i.test(type)
const isXml = (type: string) => /[/+]xml\b/i.test(type)

/** A configured answer whose templates must render on a render thread (`renderAnswer`). */
export interface PendingAnswer {
  kind: 'pending'
  status: number
  response: HandlerResponse
  data: ResponseData
}

/**
 * The configured response for this call, when its templates are plain
 * (fields, text filters: the common answer): rendered at once. Any other
 * is left pending, for `renderAnswer`. Throws TemplateError.
 */
export function answerFor(response: HandlerResponse, data: ResponseData): Answer | PendingAnswer {
  if (isPlainResponse(response)) return renderResponse(response, data)
  return { kind: 'pending', status: response.status, response, data }
}

/**
 * The configured response for this call, within the render budget. Plain
 * templates render here at once; any other renders on a render thread
 * (templates/render-pool.ts), in the handler's workspace's turn, so a
 * `where` over a huge array in a response template never holds the event
 * loop. Throws TemplateError.
 */
export async function renderAnswer(
  response: HandlerResponse,
  data: ResponseData,
  workspaceId: string,
): Promise<Answer> {
  if (isPlainResponse(response)) return renderResponse(response, data)
  return renderOnThread<Answer>(
    {
      module: RESPOND,
      name: 'renderResponseTask',
      input: { response, data },
      budgetMs: renderBudgetMs(),
      parts: RESPONSE_PARTS,
    },
    workspaceId,
  )
}

const isPlainResponse = (response: HandlerResponse) =>
  response.headers.every((header) => isPlainTemplate(header.value)) &&
  (response.body_template == null || isPlainTemplate(response.body_template))

const RESPONSE_PARTS = ['a response header template', 'the response body template'] as const

// What a render thread loads: the compiled module, or under tsx its source.
const RESPOND = new URL(
  `./respond.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`,
  import.meta.url,
).href

/** A handler's answer as a render thread renders it: plain data in and out. */
export function renderResponseTask(
  input: { response: HandlerResponse; data: ResponseData },
  notePart: (part: number) => void,
): Answer {
  return renderResponse(input.response, input.data, notePart)
}

/**
 * The configured response for this call. Templates read `params`, `record`
 * and `call.id`; the output is escaped for its content type, so no value can
 * break the document. Throws TemplateError when a template cannot render.
 */
export function renderResponse(
  response: HandlerResponse,
  data: ResponseData,
  notePart: (part: number) => void = () => {},
): Answer {
  const templateData = { params: data.params, record: data.record ?? {}, call: { id: data.callId } }
  const headers: Record<string, string> = {}
  for (const header of response.headers)
    headers[header.name.toLowerCase()] = renderHeaderValue(header.value, templateData)
  if (response.status === 204) {
    return {
      kind: 'configured',
      status: 204,
      contentType: response.content_type,
      headers,
      body: '',
    }
  }
  if (response.body_template === null || response.body_template === undefined) {
    const body =
      data.method === 'GET' ? JSON.stringify({ record: data.record ?? null }) : '{"ok":true}'
    return {
      kind: 'configured',
      status: response.status,
      contentType: 'application/json',
      headers,
      body,
    }
  }
  const template = response.body_template
  const type = response.content_type
  notePart(1)
  const body = isJson(type)
    ? renderJson(template, templateData)
    : isXml(type)
      ? renderXml(template, templateData)
      : renderText(template, templateData)
  return { kind: 'configured', status: response.status, contentType: type, headers, body }
}
