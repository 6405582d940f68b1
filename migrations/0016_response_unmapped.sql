-- Response mapping that finds nothing says so: each mapped path not found in
-- a delivery's response, with why (src/outbound/send/parse-response.ts).
-- Nullable, no default: no rewrite of the table, and null on every delivery
-- whose rule maps nothing.
alter table deliveries add column response_unmapped jsonb;
