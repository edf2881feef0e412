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

  it("keeps 300,000 distinct IDs, each once, and finds none it was not given", () => {
    const set = new IdSet()
    const count = 300_000
    for (let i = 0; i < count; i++) if (!set.add(`id-${i}`)) assert.fail(`id-${i} was taken for one already there`)
    assert.strictEqual(set.size, count)
    for (let i = 0; i < count; i++) if (!set.has(`id-${i}`)) assert.fail(`id-${i} was lost`)
    for (let i = 0; i < count; i++) if (set.add(`id-${i}`)) assert.fail(`id-${i} was added twice`)
    assert.strictEqual(set.size, count)
    for (let i = count; i < count + 100_000; i++) if (set.has(`id-${i}`)) assert.fail(`id-${i} was never added`)
    for (let i = 0; i < 100_000; i++) if (set.has(`other-${i}`)) assert.fail(`other-${i} was never added`)
    assert.strictEqual(set.size, count)
  })

  it("tells apart IDs that differ by one character, by case or by a trailing character", () => {
    const set = new IdSet()
    const bases = 20_000
    const variants = (i: number) => {
      const id = `acct-${i}-consumer`
      return [id, id.replace("acct", "acca"), id.toUpperCase(), `${id} `, `${id}x`, id.slice(0, -1)]
    }
    for (let i = 0; i < bases; i++) {
      for (const id of variants(i)) if (!set.add(id)) assert.fail(`${JSON.stringify(id)} was taken for another`)
    }
    assert.strictEqual(set.size, bases * 6)
    for (let i = 0; i < bases; i++) {
      for (const id of variants(i)) if (!set.has(id)) assert.fail(`${JSON.stringify(id)} was lost`)
    }
    assert.isFalse(set.has("acct-0-consumerx "))
    assert.isFalse(set.has("Acct-0-consumer"))
  })

  it("keeps every ID through many growths", () => {
    const set = new IdSet()
    const count = 200_000
    let growths = 0
    let bytes = set.byteLength
    let checkpoint = 1
    for (let i = 0; i < count; i++) {
      assert.isTrue(set.add(`user-${i}`))
      if (set.byteLength !== bytes) {
        assert.isAbove(set.byteLength, bytes)
        bytes = set.byteLength
        growths++
      }
      // After 1, 2, 4, 8, ... IDs, every ID so far is still there.
      if (i + 1 === checkpoint) {
        for (let j = 0; j <= i; j++) if (!set.has(`user-${j}`)) assert.fail(`user-${j} was lost after ${i + 1} IDs`)
        checkpoint *= 2
      }
    }
    assert.isAbove(growths, 1000)
    assert.strictEqual(set.size, count)
    for (let i = 0; i < count; i++) if (!set.has(`user-${i}`)) assert.fail(`user-${i} was lost`)
  })

  it("holds at most 24 bytes an ID for 300,000 IDs, and little when empty", () => {
    assert.isBelow(new IdSet().byteLength, 64 * 1024)
    assert.isAbove(new IdSet().byteLength, 0)
    const set = new IdSet()
    const count = 300_000
    for (let i = 0; i < count; i++) set.add(`consumer-${i}`)
    assert.strictEqual(set.size, count)
    // 12 bytes an ID is the digest alone: below it the tables would not be counted.
    assert.isAtLeast(set.byteLength, 12 * count)
    assert.isAtMost(set.byteLength, 24 * count)
  })
})
