import type { HandlerResponse } from '../schemas/handlers.js'
import { renderHeaderValue, renderJson, renderText, renderXml } from '../templates/render.js'

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

/**
 * The configured response for this call. Templates read `params`, `record`
 * and `call.id`; the output is escaped for its content type, so no value can
 * break the document. Throws TemplateError when a template cannot render.
 */
export function renderResponse(response: HandlerResponse, data: ResponseData): Answer {
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
  const body = isJson(type)
    ? renderJson(template, templateData)
    : isXml(type)
      ? renderXml(template, templateData)
      : renderText(template, templateData)
  return { kind: 'configured', status: response.status, contentType: type, headers, body }
}
