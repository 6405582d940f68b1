-- Notices (an accepted inbound call's `inbound.record`, `record.update`,
-- `delivery.failed`, `rule.disabled`) have no rule and no event, and each
-- accepted inbound call writes one. The two indexes below only ever answer
-- `rule_id = $1` and `event_id = $1`, which a null never matches, yet every
-- notice put a null entry into both. Partial indexes leave them out: two
-- index inserts less per notice, in the statement that settles inbound
-- calls.

drop index deliveries_rule_idx;
create index deliveries_rule_idx on deliveries (workspace_id, rule_id, id desc)
  where rule_id is not null;

drop index deliveries_event_idx;
create index deliveries_event_idx on deliveries (event_id)
  where event_id is not null;
