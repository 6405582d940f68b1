-- The queue's completion (`delete from jobs where id = any($1)`, one
-- statement for every job a worker finished in a round) as a function, so
-- that its plan is made once per connection. As a prepared statement it was
-- planned again on 268 of 300 calls in bench:deliver: a custom plan knows
-- how many ids the array holds, which made it look cheaper than the generic
-- plan, and the planning cost more than the delete (about 1.9 µs of
-- PostgreSQL time per delivery). Held to the primary key whatever the
-- table's statistics say, as claim_jobs is (0035): a jobs table analyzed
-- when nearly empty must not make a plan that reads it whole.
create function complete_jobs(p_ids bigint[])
returns void
language plpgsql
set enable_seqscan = off
set enable_bitmapscan = off
set plan_cache_mode = force_generic_plan
as $$
begin
  delete from jobs where id = any(p_ids);
end
$$;
