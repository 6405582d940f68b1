import t from 'tap'
import { redactRequest, redactUrlQuery } from '../../src/outbound/send/build-request.js'

t.test(
  'query values whose names look secret are masked, the rest kept byte for byte',
  async (t) => {
    t.equal(
      redactUrlQuery('https://crm.example/hook?api_key=abc123&page=2&access%5Ftoken=x%20y#top'),
      'https://crm.example/hook?api_key=[redacted]&page=2&access%5Ftoken=[redacted]#top',
    )
    t.equal(
      redactUrlQuery('https://crm.example/hook?q=a%2Cb&flag'),
      'https://crm.example/hook?q=a%2Cb&flag',
    )
    t.equal(redactUrlQuery('https://crm.example/leads/L-1'), 'https://crm.example/leads/L-1')
    t.equal(
      redactUrlQuery('https://x.example/?Password=hunter2'),
      'https://x.example/?Password=[redacted]',
    )
    t.equal(
      redactUrlQuery('https://x.example/?%E0%A4%A=1'),
      'https://x.example/?%E0%A4%A=1',
      'a bad escape is kept',
    )
  },
)

t.test('history masks credential-looking headers but keeps the signatures', async (t) => {
  const shown = redactRequest(
    {
      method: 'POST',
      url: 'https://crm.example/hook?token=t-1',
      headers: {
        'content-type': 'application/json',
        'x-api-key': 'k-1',
        'x-auth-token': 'k-2',
        'x-client-secret': 'k-3',
        authorization: 'Bearer k-4',
        'x-dialer': 'k-5',
        'webhook-signature': 'v1,abc',
        'x-hookline-signature': 'sha256=abc',
      },
      body: '{}',
    },
    { type: 'header', name: 'X-Dialer', value: 'k-5' } as never,
    1000,
  )
  t.same(shown.headers, {
    'content-type': 'application/json',
    'x-api-key': '[redacted]',
    'x-auth-token': '[redacted]',
    'x-client-secret': '[redacted]',
    authorization: '[redacted]',
    'x-dialer': '[redacted]',
    'webhook-signature': 'v1,abc',
    'x-hookline-signature': 'sha256=abc',
  })
  t.equal(shown.url, 'https://crm.example/hook?token=[redacted]')
  t.notOk(JSON.stringify(shown).match(/k-\d/), 'no credential left')
})
