-- Switching a workspace's webhooks off pauses its rule deliveries rather than
-- cancelling them (src/outbound/deliveries/pause.ts). Their jobs are parked at
-- run_at = 'infinity', past the range of every claim and of the next-run
-- query, so a paused workspace's backlog is never claimed only to be put back;
-- the time each was due is kept here, and switching on puts it back: delays
-- go on counting while paused. A nullable column without a default: no
-- rewrite of the table.
alter table jobs add column held_run_at timestamptz;

-- Switching on finds the workspace's parked jobs; only parked rows are in it,
-- so it costs the queue's hot path nothing.
create index jobs_held_idx on jobs (workspace_id) where held_run_at is not null;
