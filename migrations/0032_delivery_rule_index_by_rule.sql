-- A rule's id names one workspace's rule, so deliveries_rule_idx needs no
-- workspace_id before it: (rule_id, id) answers "this rule's deliveries,
-- newest first" as well, with the workspace checked on the rows it returns
-- (all of them are that workspace's). Each entry is a text key shorter, about
-- 30 bytes of WAL and index per delivery (pg_walinspect in bench:deliver).
-- The index is the partitioned table's, so each day's partition gets it.
drop index deliveries_rule_idx;
create index deliveries_rule_idx on deliveries (rule_id, id) where rule_id is not null;
