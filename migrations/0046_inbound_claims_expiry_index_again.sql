-- 0045 dropped this index for a few µs per inbound call, on the view that
-- claims are short-lived and the table small. They are not always: a
-- handler's protection period may be up to 30 days, and the minutely purge
-- then read the whole table (millions of live claims) to find the expired
-- ones. The purge reads the index again, and only the expired entries.
create index inbound_claims_expires_idx on inbound_claims (expires_at);
