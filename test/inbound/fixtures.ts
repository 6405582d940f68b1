/**
 * A handler that can end a call with most outcomes: POST and GET, a required
 * email, conditions (`.example` addresses pass) and a protection period.
 * Without a CRM lookup URL, a GET call ends as `error`.
 */
export const mixedHandler = {
  title: 'Mixed',
  methods: ['POST', 'GET'],
  parameters: [{ name: 'email', type: 'email', required: true }],
  mapping: [{ source: 'email', target: 'lead.email' }],
  conditions: { all: [{ field: 'email', op: 'ends_with', value: '.example' }] },
  protection: { period_seconds: 60 },
}
