-- Why Hookline disabled a rule, as a code the CRM can translate (issue #20: no
-- display strings in the API); disabled_reason keeps the English detail.
alter table rules add column disabled_code text;

update rules
set disabled_code = case
  when disabled_reason like '%410 Gone%' then 'receiver_gone'
  when disabled_reason like '%deliveries in a row' then 'over_render_budget'
  when disabled_reason like 'every delivery failed%' then 'failing_too_long'
end
where disabled_reason is not null;
