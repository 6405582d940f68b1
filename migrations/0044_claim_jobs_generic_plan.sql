-- claim_jobs (0035) plans its statement once per connection, as its comment
-- says PL/pgSQL would, only if the generic plan wins: with the limit and the
-- kinds known, a custom plan often looked cheaper, and a busy worker's claim
-- was planned again on many of its calls, about 40 % of the function's time
-- (perf of the worker's PostgreSQL backends in bench:deliver). The idle claim
-- (claim_delivery_jobs, 0040) already runs it under a forced generic plan;
-- now the plain claim does too. Its scan stays held to jobs_runnable_idx by
-- the function's own settings, so the generic plan is the index walk.
alter function claim_jobs(text, float8, integer, text[])
  set plan_cache_mode = force_generic_plan;
