import { sql } from 'kysely'
import type { Db } from '../../db/database.js'
import { prepared } from '../../db/prepared.js'
import type { DeliveryRow } from '../../db/tables/deliveries.js'
import type { RuleRow } from '../../db/tables/rules.js'
import { LruCache } from '../../lru-cache.js'
import type { SecretBox } from '../../security/secret-box.js'
import { openSecretRow, openSigningSecrets } from '../../settings/signing-secrets.js'
import { claimDeliveries, recordSuccesses, type Success } from '../deliveries/delivery-batches.js'

/**
 * The reads and writes of a delivery attempt, gathered into rounds shared by
 * every attempt in flight in this process: a busy worker sends one statement
 * per round for fifty deliveries rather than one per delivery, which is most
 * of what a delivery costs the database and this process. An idle worker's
 * lone attempt goes out on the next turn of the event loop, so it waits for
 * nothing. Each round reads fresh rows; what is opened from them (secrets) is kept by
 * the ids that name it for good.
 */
export interface AttemptRounds {
  /**
   * What an attempt reads besides its delivery: the workspace, the rule (when
   * `ruleId` is given) and the workspace's signing secrets, current first
   * (created on first use). One statement per round for all three.
   */
  context(workspaceId: string, ruleId: string | null): Promise<AttemptContextRows>
  /** Marks a delivery in flight for `jobId`; undefined when the job is stale or the delivery finished. */
  claim(id: string, jobId: string): Promise<DeliveryRow | undefined>
  /** Writes a success with nothing more to do; answers false when the delivery is gone. */
  succeeded(success: Success): Promise<boolean>
  /** A signing secret's row, opened (kept by its id: an id names its bytes for good). */
  opened(row: { id: string; secret: Buffer }): string
}

export interface AttemptContextRows {
  workspace: AttemptWorkspace | undefined
  rule: RuleRow | undefined
  secrets: string[]
}

export interface AttemptWorkspace {
  id: string
  webhooks_enabled: boolean
  crm_callback_url: string | null
}

/** A context round's row: the rule's columns (all null when it was not found) and ours. */
type ContextRow = { [K in keyof RuleRow]: RuleRow[K] | null } & {
  ctx_key: string
  ctx_workspace_id: string | null
  ctx_webhooks_enabled: boolean
  ctx_crm_callback_url: string | null
  ctx_secret_ids: string[]
  ctx_secrets: Buffer[]
}

export function createAttemptRounds(db: Db, box: SecretBox): AttemptRounds {
  // Signing secrets, opened once per process: a secret's id names its bytes
  // for good (a rotation makes a new one), so an entry is never stale.
  const secretsOpened = new LruCache<string, string>(SECRETS_CACHED)
  const opened = (row: { id: string; secret: Buffer }) => {
    let secret = secretsOpened.get(row.id)
    if (secret === undefined) {
      secret = openSecretRow(box, row)
      secretsOpened.set(row.id, secret)
    }
    return secret
  }
  const byId = <T extends { id: string }>(rows: T[], ids: string[]) => {
    const found = new Map(rows.map((row) => [row.id, row]))
    return ids.map((id) => found.get(id))
  }
  return {
    context: inRounds(
      async (keys: string[]) => {
        const asked = keys.map((key) => key.split('\n') as [string, string])
        // The keys as one JSON document: a generic plan then costs what a
        // custom one does (neither knows how many keys come), so the prepared
        // statement is planned once per connection. With three arrays to
        // unnest, each custom plan knew their length and looked cheaper, and
        // every round was planned again (0.35 ms, four times its run).
        const document = JSON.stringify(
          asked.map(([workspaceId, ruleId], i) => ({
            key: keys[i],
            workspace_id: workspaceId,
            rule_id: ruleId,
          })),
        )
        const { rows } = await sql<ContextRow>`${prepared('attempt_context')}
          select k.key as ctx_key, w.id as ctx_workspace_id,
            w.webhooks_enabled as ctx_webhooks_enabled,
            w.crm_callback_url as ctx_crm_callback_url,
            array(select s.id from signing_secrets s
              where s.workspace_id = k.workspace_id and (s.expires_at is null or s.expires_at > ${new Date()})
              order by s.created_at desc, s.id desc) as ctx_secret_ids,
            array(select s.secret from signing_secrets s
              where s.workspace_id = k.workspace_id and (s.expires_at is null or s.expires_at > ${new Date()})
              order by s.created_at desc, s.id desc) as ctx_secrets,
            r.*
          from jsonb_to_recordset(${document}::jsonb) as k(key text, workspace_id text, rule_id text)
          left join workspaces w on w.id = k.workspace_id
          left join rules r on r.id = k.rule_id`.execute(db)
        const found = new Map(rows.map((row) => [row.ctx_key, row]))
        return Promise.all(
          asked.map(async ([workspaceId, ruleId], i) => {
            const row = found.get(keys[i] as string)
            if (!row?.ctx_workspace_id)
              return { workspace: undefined, rule: undefined, secrets: [] }
            const {
              ctx_key,
              ctx_workspace_id,
              ctx_webhooks_enabled,
              ctx_crm_callback_url,
              ctx_secret_ids,
              ctx_secrets,
              ...rule
            } = row
            const secretRows = ctx_secret_ids.map((id, n) => ({
              id,
              secret: ctx_secrets[n] as Buffer,
            }))
            return {
              workspace: {
                id: ctx_workspace_id,
                webhooks_enabled: ctx_webhooks_enabled,
                crm_callback_url: ctx_crm_callback_url,
              },
              rule: ruleId !== '' && rule.id !== null ? (rule as RuleRow) : undefined,
              secrets:
                secretRows.length > 0
                  ? secretRows.map(opened)
                  : await openSigningSecrets(db, box, workspaceId, secretRows),
            }
          }),
        )
      },
      // One key per (workspace, rule) pair; ids never hold a line break.
      (workspaceId: string, ruleId: string | null) => `${workspaceId}\n${ruleId ?? ''}`,
    ),
    claim: inRounds(
      async (claims: { id: string; jobId: string }[]) => {
        const claimed = byId(
          await claimDeliveries(db, claims),
          claims.map((c) => c.id),
        )
        // Only the claim whose job the row names got it (a stale duplicate gets nothing).
        return claimed.map((row, i) => (String(row?.job_id) === claims[i]?.jobId ? row : undefined))
      },
      (id: string, jobId: string) => ({ id, jobId }),
    ),
    succeeded: inRounds(async (items: Success[]) => {
      const found = await recordSuccesses(db, items)
      return items.map((item) => found.has(item.deliveryId))
    }),
    opened,
  }
}

/** Signing secrets a process keeps opened. */
const SECRETS_CACHED = 1000

// A round's statement stays a reasonable size even if very many calls pile up.
const MAX_ROUND = 500
// Rounds of one kind in flight at once. One: calls that arrive while a round
// is out wait for it and go together in the next, so a busy worker sends
// rounds about twice as large, and half as many statements, as it did with two
// (a statement costs this process and PostgreSQL more than a row in it does);
// an idle worker's lone call still goes out on the next turn of the event loop.
const MAX_IN_FLIGHT = 1

/**
 * Wraps `run(keys) → values` (one value per key, in order) so that calls made
 * in the same turn of the event loop, or while MAX_IN_FLIGHT rounds are in
 * flight, go out together in the next one. Equal keys in a round are asked for once. A
 * failed round fails each of its calls.
 */
function inRounds<K, V, A extends unknown[] = [K]>(
  run: (keys: K[]) => Promise<V[]>,
  toKey: (...args: A) => K = (...args: A) => args[0] as K,
): (...args: A) => Promise<V> {
  let pending: { key: K; resolve: (value: V) => void; reject: (err: unknown) => void }[] = []
  let scheduled = false
  let inFlight = 0

  const schedule = () => {
    if (scheduled || inFlight >= MAX_IN_FLIGHT) return
    scheduled = true
    setImmediate(flush)
  }
  function flush() {
    scheduled = false
    if (pending.length === 0) return
    const round = pending.slice(0, MAX_ROUND)
    pending = pending.slice(MAX_ROUND)
    const keys = [...new Set(round.map((call) => call.key))]
    inFlight++
    run(keys)
      .then(
        (values) => {
          const byKey = new Map(keys.map((key, i) => [key, values[i] as V]))
          for (const call of round) call.resolve(byKey.get(call.key) as V)
        },
        (err: unknown) => {
          for (const call of round) call.reject(err)
        },
      )
      .finally(() => {
        inFlight--
        if (pending.length > 0) schedule()
      })
  }
  return (...args: A) =>
    new Promise<V>((resolve, reject) => {
      pending.push({ key: toKey(...args), resolve, reject })
      schedule()
    })
}
