import fc from 'fast-check'
import t from 'tap'
import { renderSlots, renderWithLiquid } from '../../src/templates/liquid-engine.js'

/**
 * `{{ a.b }}` alone is read straight from the data instead of through Liquid;
 * for any data and any such path, the slot must hold what Liquid would have
 * put there (or the shortcut must step aside).
 */

const name = fc.constantFrom(
  'lead',
  'email',
  'size',
  'first',
  'last',
  'tags',
  'a',
  'x_1',
  '__proto__',
  'constructor',
  'toString',
)
const leaf = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.oneof(fc.string(), fc.integer()), { maxLength: 3 }),
)
const tree = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: 'small' }, leaf, fc.dictionary(name, tie('node'), { maxKeys: 4 })),
})).node
const data = fc.dictionary(name, tree, { maxKeys: 4 })
const path = fc.array(name, { minLength: 1, maxLength: 4 }).map((steps) => steps.join('.'))
const spacing = fc.constantFrom(['{{', '}}'], ['{{ ', ' }}'], ['{{  ', '}}'])

t.test('a sole variable renders into the slot exactly as Liquid renders it', async (t) => {
  fc.assert(
    fc.property(data, path, spacing, (record, p, [open, close]) => {
      const template = `${open}${p}${close}`
      t.same(renderSlots(template, record), renderWithLiquid(template, record), template)
    }),
    { numRuns: 2000 },
  )
})

t.test('the paths every delivery renders take the shortcut and agree with Liquid', async (t) => {
  const record = {
    lead: { email: 'a@b.c', age: 42, tags: ['x', 'y'], address: { city: 'Ghent' }, gone: null },
  }
  for (const p of [
    'lead.email',
    'lead.age',
    'lead.tags',
    'lead.address',
    'lead.gone',
    'lead.address.city',
  ]) {
    const template = `{{ ${p} }}`
    t.same(renderSlots(template, record), renderWithLiquid(template, record), p)
  }
  t.same(renderSlots('{{ lead.tags.size }}', record).values, [2], 'size is still Liquid’s')
  t.same(renderSlots('{{ lead.missing }}', record), renderWithLiquid('{{ lead.missing }}', record))
})
