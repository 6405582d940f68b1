import t from 'tap'
import {
  checkUrlForSave,
  forbiddenReason,
  isForbiddenAddress,
  parseAllowList,
} from '../../src/net/address-policy.js'

const none = parseAllowList('')

t.test('forbidden addresses, each with its reason', async (t) => {
  const cases: [string, RegExp][] = [
    ['127.0.0.1', /^loopback$/],
    ['127.255.255.254', /^loopback$/],
    ['0.0.0.0', /^unspecified$/],
    ['0.1.2.3', /^unspecified$/],
    ['10.1.2.3', /^private$/],
    ['172.16.0.1', /^private$/],
    ['172.31.255.255', /^private$/],
    ['192.168.1.1', /^private$/],
    ['169.254.169.254', /^cloud metadata$/],
    ['169.254.1.1', /^link-local$/],
    ['168.63.129.16', /^cloud metadata$/],
    ['100.100.100.200', /^cloud metadata$/],
    ['100.64.0.1', /^carrier-grade NAT$/],
    ['100.127.255.255', /^carrier-grade NAT$/],
    ['224.0.0.1', /^multicast$/],
    ['239.255.255.250', /^multicast$/],
    ['255.255.255.255', /^reserved$/],
    ['240.0.0.1', /^reserved$/],
    ['192.0.0.192', /^reserved$/],
    ['198.18.0.1', /^reserved$/],
    ['203.0.113.9', /^reserved$/],
    ['::', /^unspecified$/],
    ['::1', /^loopback$/],
    ['0:0:0:0:0:0:0:1', /^loopback$/],
    ['fc00::1', /^private$/],
    ['fd12:3456::1', /^private$/],
    ['fd00:ec2::254', /^cloud metadata$/],
    ['fe80::1', /^link-local$/],
    ['fe80::1%eth0', /^link-local$/],
    ['ff02::1', /^multicast$/],
    ['2001:db8::1', /^reserved$/],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', /^reserved$/], // Teredo
    ['100::1', /^reserved$/],
    ['64:ff9b:1::1', /^reserved$/],
    ['::1:0:0:1', /^reserved$/], // outside 2000::/3 and carrying no IPv4
    ['1::1', /^reserved$/],
    // IPv4 inside IPv6, judged by the IPv4 address
    ['::ffff:127.0.0.1', /loopback/],
    ['::ffff:7f00:1', /loopback/],
    ['::ffff:10.0.0.1', /private/],
    ['::ffff:169.254.169.254', /cloud metadata/],
    ['::127.0.0.1', /^loopback \(IPv4 127.0.0.1 inside IPv6\)$/],
    ['::ffff:0:127.0.0.1', /^loopback \(IPv4 127.0.0.1 inside IPv6\)$/],
    ['64:ff9b::127.0.0.1', /^loopback \(IPv4 127.0.0.1 inside IPv6\)$/],
    ['64:ff9b::a9fe:a9fe', /^cloud metadata \(IPv4 169.254.169.254 inside IPv6\)$/],
    ['2002:7f00:1::', /^loopback \(IPv4 127.0.0.1 inside IPv6\)$/],
    ['2002:c0a8:101::1', /^private \(IPv4 192.168.1.1 inside IPv6\)$/],
    // not canonical addresses: refused, never guessed at
    ['127.1', /^not an IP address$/],
    ['2130706433', /^not an IP address$/],
    ['0x7f.1', /^not an IP address$/],
    ['[::1]', /^not an IP address$/],
    ['localhost', /^not an IP address$/],
    ['', /^not an IP address$/],
  ]
  for (const [ip, reason] of cases) {
    t.match(forbiddenReason(ip, none), reason, ip)
    t.equal(isForbiddenAddress(ip, none), true, ip)
  }
})

t.test('public addresses, including the edges of forbidden ranges', async (t) => {
  for (const ip of [
    '8.8.8.8',
    '1.1.1.1',
    '93.184.216.34',
    '9.255.255.255',
    '11.0.0.0',
    '126.255.255.255',
    '128.0.0.0',
    '172.15.255.255',
    '172.32.0.0',
    '100.63.255.255',
    '100.128.0.0',
    '169.253.255.255',
    '192.167.255.255',
    '223.255.255.255',
    '2606:4700:4700::1111',
    '2a00:1450:4001:80b::200e',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
    '2002:808:808::1',
  ]) {
    t.equal(forbiddenReason(ip, none), null, ip)
  }
})

t.test('the allow list lets chosen ranges back in', async (t) => {
  const allow = parseAllowList(' 127.0.0.1/32, ::1/128 10.0.0.0/8,192.168.1.5 ')
  t.same(allow.entries, ['127.0.0.1/32', '::1/128', '10.0.0.0/8', '192.168.1.5'])
  for (const ip of [
    '127.0.0.1',
    '::1',
    '10.200.1.1',
    '192.168.1.5',
    '::ffff:127.0.0.1',
    '64:ff9b::a00:1',
  ]) {
    t.equal(isForbiddenAddress(ip, allow), false, `${ip} allowed`)
  }
  for (const ip of ['127.0.0.2', '192.168.1.6', '169.254.169.254', 'fe80::1', '::ffff:127.0.0.2']) {
    t.equal(isForbiddenAddress(ip, allow), true, `${ip} still forbidden`)
  }
  for (const bad of [
    '10.0.0.0/33',
    '::1/129',
    'abc',
    '10.0.0.0/8/1',
    '10.0.0.0/',
    '10.0.0.0/x',
    '127.1/32',
  ]) {
    t.throws(
      () => parseAllowList(bad),
      { message: `"${bad}" is not an IP address or CIDR range` },
      bad,
    )
  }
})

t.test('the URL parser normalises odd IPv4 spellings to the address they mean', async (t) => {
  for (const host of ['127.1', '2130706433', '0177.0.0.1', '0x7f.1', '0x7f000001', '127.0.0.1.']) {
    const url = `http://${host}:8080/x`
    t.equal(new URL(url).hostname, '127.0.0.1', host)
    t.match(checkUrlForSave(url, none), /^127\.0\.0\.1 is a loopback address/, host)
  }
  t.equal(new URL('http://[::ffff:127.0.0.1]/').hostname, '[::ffff:7f00:1]')
})

t.test('checkUrlForSave', async (t) => {
  const cases: [string, RegExp | null][] = [
    ['https://crm.example/hook', null],
    ['http://crm.example:8443/leads/{{lead.id}}?src={{lead.source}}', null],
    ['https://{{lead.domain}}/x', null],
    ['https://93.184.216.34/x', null],
    ['https://[2606:4700:4700::1111]/x', null],
    ['ftp://crm.example/x', /^scheme ftp is not allowed/],
    ['file:///etc/passwd', /^scheme file is not allowed/],
    ['javascript:alert(1)', /^scheme javascript is not allowed/],
    ['https://user:secret@crm.example/', /^credentials in the URL/],
    ['https://user@crm.example/', /^credentials in the URL/],
    ['https://crm.example:0/', /^port 0/],
    ['not a url', /^not a valid URL$/],
    ['http://localhost:3000/', /^localhost is a loopback address/],
    ['http://api.localhost/', /^api.localhost is a loopback address/],
    ['http://10.0.0.8/', /^10.0.0.8 is a private address/],
    ['http://169.254.169.254/latest/meta-data/', /^169.254.169.254 is a cloud metadata address/],
    ['http://[::1]:8080/', /^::1 is a loopback address/],
    ['http://[fd00:ec2::254]/', /cloud metadata/],
    ['http://[::ffff:169.254.169.254]/', /cloud metadata/],
  ]
  for (const [url, expected] of cases) {
    const result = checkUrlForSave(url, none)
    if (expected === null) t.equal(result, null, url)
    else t.match(result, expected, url)
  }
  const local = parseAllowList('127.0.0.1/32,::1/128')
  t.equal(checkUrlForSave('http://localhost:3000/', local), null)
  t.equal(checkUrlForSave('http://127.0.0.1:3000/', local), null)
  t.equal(checkUrlForSave('http://[::1]:3000/', local), null)
})
