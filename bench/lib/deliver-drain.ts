import { readFile } from 'node:fs/promises'
import type pg from 'pg'
import { leadEvent } from './deliver-workload.js'

/**
 * Queues `total` deliveries of one rule straight in SQL, shaped as event
 * intake and `scheduleDeliveries` (src/outbound/deliveries/schedule.ts) write
 * them: an event row per delivery (the record is the event's: the delivery's
 * own `record` is null, migrations/0020, so the worker's claim reads the
 * event beside it), a `delivery.send` job per ten deliveries (payload
 * `{deliveryIds}`, weight 10, max 5 runs, the rule as queue key) and a queued
 * delivery row pointing at its job. Chunks of `chunk`, each one statement; no
 * NOTIFY (the worker starts afterwards and sweeps).
 */
export async function queueDeliveries(
  query: (text: string, values?: unknown[]) => Promise<pg.QueryResult>,
  args: { workspaceId: string; ruleId: string; total: number; chunk?: number },
): Promise<void> {
  const chunk = args.chunk ?? 100_000
  const sample = leadEvent(0)
  for (let from = 1; from <= args.total; from += chunk) {
    const to = Math.min(args.total, from + chunk - 1)
    await query(
      `with planned as (
         select i, 'dlv_bench' || lpad(i::text, 10, '0') as delivery_id, (i - $1) / 10 as g
         from generate_series($1::int, $2::int) as i
       ),
       inserted as (
         insert into jobs (kind, payload, workspace_id, queue_key, max_attempts, weight)
         select 'delivery.send', jsonb_build_object('deliveryIds', jsonb_agg(delivery_id order by i)),
           $3::text, $4::text, 5, count(*)::int
         from planned group by g order by g
         returning id, payload -> 'deliveryIds' as delivery_ids
       ),
       job as (
         select inserted.id, m.delivery_id
         from inserted cross join lateral jsonb_array_elements_text(inserted.delivery_ids) as m(delivery_id)
       ),
       events as (
         insert into events (id, workspace_id, type, entity_type, entity_id, fields, created_at)
         select 'evt_bench' || lpad(i::text, 10, '0'), $3::text, $5::text, 'lead', 'L-' || i,
           jsonb_build_object('lead',
             $6::jsonb || jsonb_build_object('id', 'L-' || i, 'email', 'ada.' || i || '@example.com')),
           now()
         from planned
       )
       insert into deliveries (id, workspace_id, rule_id, kind, event_id, event_type,
         entity_type, entity_id, status, record, max_attempts, job_id, next_attempt_at)
       select job.delivery_id, $3::text, $4::text, 'rule', 'evt_bench' || lpad(p.i::text, 10, '0'),
         $5::text, 'lead', 'L-' || p.i, 'queued', null, 3, job.id, now()
       from job join planned p using (delivery_id)`,
      [
        from,
        to,
        args.workspaceId,
        args.ruleId,
        sample.type,
        JSON.stringify(sample.record.fields.lead),
      ],
    )
  }
}

/**
 * The resident set size of a process now, in MB of 10^6 bytes, the unit the
 * issue's "≤ 300 MB" is read in (the stricter reading: 300 MiB would allow
 * 314 MB). Linux's /proc counts in KiB.
 */
export async function rssMB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kib = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1]
  if (!kib) throw new Error(`no VmRSS for pid ${pid}`)
  return (Number(kib) * 1024) / 1e6
}

/** Samples `pid`'s RSS every `everyMs` until stopped; answers every sample, in MB. */
export function sampleRss(pid: number, everyMs = 250) {
  const samples: number[] = []
  const timer = setInterval(() => {
    rssMB(pid).then(
      (mb) => samples.push(mb),
      () => {},
    )
  }, everyMs)
  return {
    samples,
    stop() {
      clearInterval(timer)
      return samples
    },
  }
}
