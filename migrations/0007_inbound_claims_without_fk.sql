-- A protection or replay claim is written for every accepted call, and its
-- foreign key check took a KEY SHARE lock on the handler's row each time:
-- with concurrent batches on one handler those locks become multixacts, and
-- the check cost more than the claim itself (18 µs of 50 per call, measured
-- with EXPLAIN ANALYZE on a 50-call batch). A claim only lives for its
-- protection period, so one whose handler is deleted does no harm and goes
-- with the next purge of expired claims.
alter table inbound_claims drop constraint inbound_claims_handler_id_fkey;
