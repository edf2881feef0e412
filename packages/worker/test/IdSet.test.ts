import { assert, describe, it } from "@effect/vitest"
import { IdSet } from "../src/internal/idSet.js"

describe("IdSet", () => {
  it("adds an ID once and knows it afterwards", () => {
    const set = new IdSet()
    assert.isFalse(set.has("abc"))
    assert.isTrue(set.add("abc"))
    assert.isFalse(set.add("abc"))
    assert.isTrue(set.has("abc"))
    assert.strictEqual(set.size, 1)
  })

  it("keeps every ID through its growth, and tells near-identical IDs apart", () => {
    const set = new IdSet()
    const count = 100_000
    for (let i = 0; i < count; i++) assert.isTrue(set.add(`consumer-${i}`))
    assert.strictEqual(set.size, count)
    for (let i = 0; i < count; i++) {
      if (!set.has(`consumer-${i}`)) assert.fail(`consumer-${i} was lost`)
      if (set.has(`consumer-${i} `) || set.has(`Consumer-${i}`)) assert.fail(`a near copy of consumer-${i} was taken for it`)
    }
    for (let i = count; i < 2 * count; i++) if (set.has(`consumer-${i}`)) assert.fail(`consumer-${i} was never added`)
    assert.isFalse(set.has(""))
    assert.isTrue(set.add(""))
    assert.isTrue(set.has(""))
  })
})
