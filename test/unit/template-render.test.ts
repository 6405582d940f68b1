import { XMLParser, XMLValidator } from 'fast-xml-parser'
import t, { type Test } from 'tap'
import {
  isPlainTemplate,
  renderFormPairs,
  renderHeaderValue,
  renderJson,
  renderJsonPairs,
  renderText,
  renderUrl,
  renderXml,
  renderXmlPairs,
  TemplateError,
  templateFields,
  validateTemplate,
} from '../../src/templates/render.js'
import { RenderBudget, setRenderBudgetMs, withinBudget } from '../../src/templates/render-budget.js'

// Templates with tags render here on the test's thread, on a busy machine: a
// generous budget, so only the tests about the budget meet it.
setRenderBudgetMs(10_000)

const nasty = 'A "q" \\ </script> & <b>\n\r\t\u0001 ]]> -- é 😀'
const data = {
  lead: {
    id: 'ld 1/2?x#y',
    name: nasty,
    first: 'Ana',
    age: 42,
    vip: true,
    tags: ['a', 'b'],
    email: 'ana@acme.example',
    created_at: '2024-03-05T23:30:00-05:00',
    nothing: null,
  },
}

const xmlParser = new XMLParser({
  ignoreAttributes: false,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  htmlEntities: true,
})

function throwsTemplateCode(t: Test, fn: () => unknown, code: RegExp, message: RegExp) {
  try {
    fn()
    t.fail('expected a TemplateError')
  } catch (error) {
    t.ok(error instanceof TemplateError, 'a TemplateError')
    t.match((error as TemplateError).code, code)
    t.match((error as Error).message, message)
  }
}

function throwsTemplateError(t: Test, fn: () => unknown, code: string, message: RegExp) {
  try {
    fn()
    t.fail('expected a TemplateError')
  } catch (error) {
    t.ok(error instanceof TemplateError, 'a TemplateError')
    t.equal((error as TemplateError).code, code)
    t.match((error as Error).message, message)
  }
}

t.test('JSON: values in strings are escaped, bare values are JSON literals', async (t) => {
  const json = renderJson(
    `{
      "name": "Hi {{ lead.name }}!",
      "age": {{ lead.age }},
      "vip": {{ lead.vip }},
      "tags": {{ lead.tags }},
      "tags_json": {{ lead.tags | json }},
      "missing": {{ lead.missing }},
      "null": {{ lead.nothing }},
      "id": {{ lead.id }},
      "{{ lead.first }}": "{{ lead.tags }}",
      "day": "{{ lead.created_at | date: '%Y-%m-%d' }}",
      "source": "{{ lead.source | default: 'web' }}",
      "upper": "{{ lead.first | upcase }}",
      "lower": "{{ lead.first | downcase }}",
      "raw": "{{ lead.name | raw }}"
    }`,
    data,
  )
  t.same(JSON.parse(json), {
    name: `Hi ${nasty}!`,
    age: 42,
    vip: true,
    tags: ['a', 'b'],
    tags_json: ['a', 'b'],
    missing: null,
    null: null,
    id: 'ld 1/2?x#y',
    Ana: '["a","b"]',
    day: '2024-03-06',
    source: 'web',
    upper: 'ANA',
    lower: 'ana',
    raw: nasty,
  })
})

t.test('JSON: loops and conditions build documents', async (t) => {
  const template =
    '[{% for tag in lead.tags %}{"tag": "{{ tag }}", "n": {{ forloop.index }}}{% unless forloop.last %},{% endunless %}{% endfor %}]'
  t.same(JSON.parse(renderJson(template, data)), [
    { tag: 'a', n: 1 },
    { tag: 'b', n: 2 },
  ])
  t.same(
    JSON.parse(
      renderJson('{% if lead.vip %}{"vip": "{{ lead.first }}"}{% else %}{}{% endif %}', data),
    ),
    {
      vip: 'Ana',
    },
  )
})

t.test('JSON: a template that breaks the document is refused, with the reason', async (t) => {
  throwsTemplateError(
    t,
    () => renderJson('{"a": {{ lead.age }', data),
    'template_syntax',
    /not closed/,
  )
  throwsTemplateError(t, () => renderJson('{"a": "x" "b"}', data), 'template_render', /valid JSON/)
  throwsTemplateError(
    t,
    () => renderJson('{"a": "\\{{ lead.age }}"}', data),
    'template_render',
    /backslash/,
  )
})

t.test('XML: values are escaped for text, attributes, CDATA and comments', async (t) => {
  const xml = renderXml(
    `<?xml version="1.0" encoding="UTF-8"?>
<lead id="{{ lead.id }}" name='{{ lead.name }}'>
  <name>{{ lead.name }}</name>
  <note><![CDATA[{{ lead.name }}]]></note>
  <!-- {{ lead.name }} -->
  {% for tag in lead.tags %}<tag>{{ tag | upcase }}</tag>{% endfor %}
</lead>`,
    data,
  )
  t.equal(XMLValidator.validate(xml), true)
  t.notOk(xml.includes('\u0001'), 'forbidden control character removed')
  t.notMatch(
    xml.replace(/<!\[CDATA\[[\s\S]*?\]\]>/g, ''),
    /\]\]>(?![\s\S]*CDATA)/,
    ']]> only ends CDATA',
  )
  t.notMatch(xml.match(/<!--([\s\S]*?)-->/)?.[1] ?? '', /--/, 'no -- inside the comment')
  const lead = xmlParser.parse(xml).lead
  const expected = nasty.replace('\u0001', '')
  t.equal(lead['@_id'], 'ld 1/2?x#y')
  t.equal(lead['@_name'], expected, 'attribute keeps tabs, newlines and CR')
  t.equal(lead.name, expected, 'text keeps CR')
  t.same(lead.tag, ['A', 'B'])
})

t.test('XML: values may not form markup names; broken templates are refused', async (t) => {
  throwsTemplateError(
    t,
    () => renderXml('<{{ lead.first }}/>', data),
    'template_render',
    /tag name/,
  )
  throwsTemplateError(
    t,
    () => renderXml('<a {{ lead.first }}="1"/>', data),
    'template_render',
    /tag name/,
  )
  throwsTemplateError(
    t,
    () => renderXml('<a>{{ lead.first }}</b>', data),
    'template_render',
    /well-formed/,
  )
})

t.test('URL: values are percent-encoded and cannot change its structure', async (t) => {
  const url = renderUrl(
    'https://crm.example:8443/leads/{{ lead.id }}?src={{ lead.name }}&e={{ lead.email }}',
    data,
  )
  const parsed = new URL(url)
  t.equal(parsed.host, 'crm.example:8443')
  t.equal(parsed.pathname.split('/').length, 3)
  t.equal(decodeURIComponent(parsed.pathname.split('/')[2]!), 'ld 1/2?x#y')
  t.same([...parsed.searchParams.keys()], ['src', 'e'])
  t.equal(parsed.searchParams.get('src'), nasty)
  t.equal(parsed.hash, '')
  t.equal(
    renderUrl('https://x.example/?a=1&b=2', data),
    'https://x.example/?a=1&b=2',
    'template text is kept',
  )
})

t.test('header values lose control characters and go out as UTF-8 bytes', async (t) => {
  t.equal(renderHeaderValue('Bearer {{ lead.first }}', data), 'Bearer Ana')
  t.equal(renderHeaderValue(' {{ v }} ', { v: 'a\r\nX-Evil: 1\0' }), 'aX-Evil: 1')
  const bytes = renderHeaderValue('{{ lead.name }}', data)
  t.match(bytes, /^[\t\x20-\x7e\x80-\xff]*$/)
  t.equal(Buffer.from(bytes, 'latin1').toString('utf8'), 'A "q" \\ </script> & <b>\t ]]> -- é 😀')
})

t.test('text renders values as they are; objects as JSON', async (t) => {
  t.equal(
    renderText('{{ lead.first }} <{{ lead.tags }}> {{ lead.missing }}|', data),
    'Ana <["a","b"]> |',
  )
  t.equal(renderText('{{ lead.name }}', data), nasty)
})

t.test('key-value bodies', async (t) => {
  const pairs = [
    { key: 'email', value: '{{ lead.email }}' },
    { key: 'name', value: '{{ lead.name }}' },
    { key: 'source', value: 'web form' },
    { key: 'full', value: '{{ lead.first }} #{{ lead.age }}' },
    { key: 'age', value: '{{ lead.age }}' },
    { key: 'tags', value: '{{ lead.tags }}' },
    { key: 'gone', value: '{{ lead.missing }}' },
  ]
  const form = new URLSearchParams(renderFormPairs(pairs, data))
  t.equal(form.get('name'), nasty)
  t.equal(form.get('full'), 'Ana #42')
  t.equal(form.get('age'), '42')
  t.equal(form.get('tags'), '["a","b"]')
  t.equal(form.get('gone'), '')
  t.same(
    new URLSearchParams(
      renderFormPairs(
        [
          { key: 'a', value: '1' },
          { key: 'a', value: '2' },
        ],
        data,
      ),
    ).getAll('a'),
    ['1', '2'],
    'repeated keys repeat',
  )

  t.same(JSON.parse(renderJsonPairs(pairs, data)), {
    email: 'ana@acme.example',
    name: nasty,
    source: 'web form',
    full: 'Ana #42',
    age: 42,
    tags: ['a', 'b'],
    gone: null,
  })
  const proto = JSON.parse(renderJsonPairs([{ key: '__proto__', value: 'x' }], data))
  t.equal(Object.hasOwn(proto, '__proto__'), true, '__proto__ is an ordinary key')

  const xml = renderXmlPairs('lead', pairs, data)
  t.equal(XMLValidator.validate(xml), true)
  const lead = xmlParser.parse(xml).lead
  t.equal(lead.name, nasty.replace('\u0001', ''))
  t.equal(lead.age, '42')
  throwsTemplateError(
    t,
    () => renderXmlPairs('lead', [{ key: 'bad name', value: 'x' }], data),
    'template_render',
    /element name/,
  )
  throwsTemplateError(t, () => renderXmlPairs('1lead', [], data), 'template_render', /element name/)
})

t.test('validateTemplate reports syntax errors and refused features', async (t) => {
  t.same(validateTemplate('{{ lead.email }} {% if lead.vip %}x{% endif %}'), [])
  const cases: [string, RegExp][] = [
    ['{{ lead.email ', /not closed/],
    ['{% if x %}', /not closed/],
    ['{{ x | nope }}', /undefined filter: nope/],
    ['{% include "secrets" %}', /include %} is not available/],
    ['{% render "x" %}', /render %} is not available/],
    ['{% layout "x" %}', /layout %} is not available/],
    ['{% capture x %}{{ y }}{% endcapture %}', /capture %} is not available/],
    ['{% cycle a, b %}', /not available/],
    ['{% increment n %}', /not available/],
    ['a\0b', /NUL/],
    ['x'.repeat(256 * 1024 + 1), /longer than/],
  ]
  for (const [template, message] of cases) {
    const errors = validateTemplate(template)
    t.equal(errors.length, 1, template.slice(0, 40))
    t.match(errors[0], message)
  }
})

t.test('templateFields lists the record paths a template reads', async (t) => {
  t.same(
    templateFields(
      '{{ lead.email | upcase }} {{ lead.tags[0] }} {% for t in lead.tags %}{{ t.name }}{{ forloop.index }}{% endfor %}' +
        '{% assign who = event.actor.name %}{{ who }} {% if lead.vip %}{{ lead.email }}{% endif %} {{ lead[event.key] }}',
    ).sort(),
    ['event.actor.name', 'event.key', 'lead', 'lead.email', 'lead.tags', 'lead.tags.0', 'lead.vip'],
  )
})

t.test('untrusted templates are bounded', async (t) => {
  throwsTemplateError(
    t,
    () => renderText('{% for i in (1..100000000) %}x{% endfor %}', {}),
    'template_limit',
    /limit/,
  )
  // Whichever bound a slow machine reaches first: memory or the render budget.
  throwsTemplateCode(
    t,
    () =>
      renderText('{% for i in (1..5000) %}{% for j in (1..5000) %}x{% endfor %}{% endfor %}', {}),
    /^template_(limit|budget)$/,
    /memory alloc limit exceeded|the template exceeded its render budget/,
  )
  throwsTemplateCode(
    t,
    () => renderJson('[{% for i in (1..200000) %}{{ i }},{% endfor %}0]', {}),
    /^template_(limit|budget)$/,
    /more than 100000 values|the template exceeded its render budget/,
  )
  // One budget for every template a request renders.
  const budget = new RenderBudget(50)
  throwsTemplateCode(
    t,
    () =>
      withinBudget(budget, () => {
        for (;;) renderText('{% for i in (1..1000) %}{{ i }}{% endfor %}', {})
      }),
    /^template_budget$/,
    /the template exceeded its render budget of 50 ms/,
  )
  const big = { s: 'x'.repeat(600 * 1024) }
  throwsTemplateError(t, () => renderText('{{ s }}{{ s }}', big), 'template_limit', /larger than/)
  throwsTemplateError(
    t,
    () =>
      renderJsonPairs(
        [
          { key: 'a', value: '{{ s }}' },
          { key: 'b', value: '{{ s }}' },
        ],
        big,
      ),
    'template_limit',
    /larger than/,
  )
  t.equal(renderText('{{ s }}', big).length, 600 * 1024, 'under the limit is fine')
})

t.test(
  'templates see only the data, never JavaScript internals, and do not change it',
  async (t) => {
    const record = { lead: { n: 1 } }
    t.equal(
      renderText(
        '{{ constructor }}{{ lead.constructor.name }}{{ lead.__proto__ }}{{ lead.toString }}',
        record,
      ),
      '',
    )
    renderText('{% assign lead = 5 %}{{ lead }}', record)
    t.same(record, { lead: { n: 1 } })
  },
)

t.test('save-time limits: literal ranges and loop depth', async (t) => {
  t.same(validateTemplate('{% for i in (1..10000) %}{{ i }}{% endfor %}'), [])
  t.same(validateTemplate('{% assign r = (0..10000) %}'), [
    'the range (0..10000) has 10001 items; a template may use at most 10000',
  ])
  t.same(
    validateTemplate('{{ (1..n) | join }}'),
    [],
    'a bound read from the record is checked at render',
  )
  t.same(
    validateTemplate(
      '{% if a %}{% for x in a %}{% for y in x %}{% for z in y %}{% endfor %}{% endfor %}{% endfor %}{% endif %}',
    ),
    [],
  )
  t.same(
    validateTemplate(
      '{% for a in l %}{% for b in a %}{% for c in b %}{% for d in c %}{% endfor %}{% endfor %}{% endfor %}{% endfor %}',
    ),
    ['loops are nested 4 deep; a template may nest at most 3'],
  )
})

t.test('plain templates (fields, text filters) are told from costly ones', async (t) => {
  for (const plain of [
    'https://x.example/a',
    '{{ lead.email }}',
    "{{ lead.created_at | date: '%Y' | upcase }}-{{ a | default: 'x' | json }}",
  ]) {
    t.ok(isPlainTemplate(plain), plain)
  }
  for (const costly of [
    '{% if a %}x{% endif %}',
    '{{ (1..3) | size }}',
    '{{ a | join }}',
    '{{ a | where: "x", 1 }}',
    '{{ a | truncatewords: 3 }}',
  ]) {
    t.notOk(isPlainTemplate(costly), costly)
  }
})
