-- Every accepted call writes a claim (its protection key, and a verified
-- call's replay id), and each claim was an entry in this index too, kept
-- only for the minutely purge of expired claims; a claim taken over when it
-- expired could not be a HOT update either, as the index holds expires_at.
-- The purge reads the table instead: claims are short-lived, so it is small,
-- and the oldest, expired first, lie near its start.
drop index inbound_claims_expires_idx;
