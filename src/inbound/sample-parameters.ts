import { errors } from '../errors.js'
import { DEFAULT_BODY_LIMITS } from '../formats/body-limits.js'
import { checkTree } from './check-tree.js'
import { type InboundParameter, parametersFromSample } from './parameters.js'
import { parseInboundBody } from './parse-body.js'

/**
 * Parameters for a handler from a sample call: a JSON document (given as
 * JSON, or as text), a form-urlencoded or an XML body as text. Read by the
 * same parsers as real calls, so the paths are the ones calls will have.
 */
export function sampleParameters(body: {
  format: 'json' | 'form' | 'xml'
  sample: string | Record<string, unknown>
}): InboundParameter[] {
  if (typeof body.sample !== 'string') {
    if (body.format !== 'json')
      throw errors.validation(`body/sample: a ${body.format} sample is sent as text`)
    const problem = checkTree(body.sample, 'sample', DEFAULT_BODY_LIMITS, false)
    if (problem) throw errors.validation(`body/sample: ${problem.reason}`)
    return parametersFromSample(body.sample)
  }
  const parsed = parseInboundBody({ rawBody: Buffer.from(body.sample), format: body.format })
  if (!parsed.ok) throw errors.validation(`body/sample: ${parsed.reason}`)
  return parametersFromSample(parsed.params)
}
