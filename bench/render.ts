/**
 * `npx tsx bench/render.ts`: the CPU cost of rendering bench:deliver's rule
 * (six key-value pairs, each a sole `{{ }}`) and a common template with
 * filters (fields, `date`, `upcase`, `default`: no loops) for one record,
 * the way a delivery renders them. Prints µs per render, best of 5 rounds.
 */
import { renderRuleRequest } from '../src/outbound/send/build-request.js'
import { leadEvent, ruleBody } from './lib/deliver-workload.js'

const ROUNDS = 5
const N = 50_000

const pairsRule = {
  request: {
    ...ruleBody('http://127.0.0.1:1').request,
    body_template: null,
    headers: [],
    append_record_params: false,
  },
}
const filtersRule = {
  request: {
    method: 'POST',
    url: 'http://127.0.0.1:1/hooks/{{ lead.id }}',
    body_format: 'json',
    body_template:
      '{"id": "{{ lead.id }}", "name": "{{ lead.first_name | upcase }} {{ lead.last_name }}", "email": {{ lead.email | downcase | json }}, "source": "{{ lead.source | default: \'web\' }}", "day": "{{ event.occurred_at | date: \'%Y-%m-%d\' }}"}',
    body_pairs: null,
    headers: [{ name: 'X-Lead', value: '{{ lead.id }}' }],
    append_record_params: false,
  },
}

function record(i: number) {
  const event = leadEvent(i)
  return {
    ...event.record,
    event: { id: `ev_${i}`, type: event.type, occurred_at: new Date(0).toISOString() },
  }
}

const records = Array.from({ length: 1000 }, (_, i) => record(i))

function measure(name: string, rule: unknown) {
  let best = Infinity
  for (let round = 0; round < ROUNDS; round++) {
    const start = process.cpuUsage()
    for (let i = 0; i < N; i++) {
      // biome-ignore lint/suspicious/noExplicitAny: the bench feeds both rule shapes
      renderRuleRequest(rule as any, records[i % records.length] as any, { type: 'none' })
    }
    const used = process.cpuUsage(start)
    best = Math.min(best, (used.user + used.system) / N)
  }
  console.log(`${name}: ${best.toFixed(2)} µs per render (best of ${ROUNDS} × ${N})`)
}

measure('bench:deliver rule (six sole-field pairs)', pairsRule)
measure('common template (fields and filters, no loops)', filtersRule)
