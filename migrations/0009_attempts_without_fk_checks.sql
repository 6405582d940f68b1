-- The same trade as 0008, for the two foreign keys left on the delivery path.
-- Each attempt row checked its delivery (a lookup and a KEY SHARE lock of a
-- row the same statement is updating), and each rule delivery checked its
-- rule. Both parents were just read by the writer: the sender claimed the
-- delivery, the scheduler matched the rule. What the constraints did on
-- delete is kept by statement-level triggers: one statement per DELETE, not
-- a check per row inserted.

alter table delivery_attempts drop constraint delivery_attempts_delivery_id_fkey;
alter table deliveries drop constraint deliveries_rule_id_fkey;

-- A delivery takes its attempts with it (retention, a workspace's delete).
create function hookline_deliveries_deleted() returns trigger
language plpgsql as $$
begin
  delete from delivery_attempts a using gone where a.delivery_id = gone.id;
  return null;
end
$$;

create trigger deliveries_deleted after delete on deliveries
  referencing old table as gone
  for each statement execute function hookline_deliveries_deleted();

-- A deleted rule's deliveries stay in the history, without their rule. Found
-- through the (workspace_id, rule_id) index.
create function hookline_rules_deleted() returns trigger
language plpgsql as $$
begin
  update deliveries d set rule_id = null
  from gone where d.workspace_id = gone.workspace_id and d.rule_id = gone.id;
  return null;
end
$$;

create trigger rules_deleted after delete on rules
  referencing old table as gone
  for each statement execute function hookline_rules_deleted();
