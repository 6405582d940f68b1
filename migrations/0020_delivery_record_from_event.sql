-- The payload once (issue 21): a rule's delivery for one event no longer
-- copies the event's record. Its `record` is null and the sender and history
-- read the event's (src/outbound/events/event-record.ts): the fields, the
-- type, the entity, and `created_at` as the event's occurred_at (events are
-- now inserted with the same clock reading their deliveries were rendered
-- with). Batches, notices, mass posts and executed rules keep their own
-- record. Existing deliveries keep theirs: nothing is rewritten.
alter table deliveries alter column record drop not null;
