-- An event's idempotency key is held for 24 hours, not for as long as the
-- event is kept, and a key sent again with a different event is refused
-- instead of answering the first event's answer.
--
-- request_hash: sha256 of the event as sent (type, record, previous fields;
-- canonical JSON, so key order does not matter), set only when a key is.
-- A repeat within 24 hours must carry the same hash. Events recorded before
-- this migration have none and answer any repeat, as they did.
--
-- released_idempotency_key: where a key goes when a new event takes it over
-- after 24 hours. The statement that records the new event first moves the
-- expired holder's key here (src/outbound/events/insert-events.ts), so the
-- unique index on (workspace_id, idempotency_key) stays as it is and still
-- arbitrates concurrent inserts; the old event keeps its key for history.
-- A separate claims table would do the same with one more row and index
-- entry per event; a flag in the index predicate would mean rebuilding the
-- index. Adding two nullable columns rewrites nothing.

alter table events
  add column request_hash text,
  add column released_idempotency_key text;
