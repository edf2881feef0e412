import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Either, Option } from "effect"
import { Shard } from "../src/index.js"

describe("Shard", () => {
  it("hashes with FNV-1a over UTF-8 (known vectors)", () => {
    assert.strictEqual(Shard.hash(""), 0x811c9dc5)
    assert.strictEqual(Shard.hash("a"), 0xe40c292c)
    assert.strictEqual(Shard.hash("foobar"), 0xbf9cf968)
  })

  it("splits IDs into disjoint shards whose union is everything, roughly evenly", () => {
    const ids = Array.from({ length: 8000 }, (_, i) => `user-${i}`)
    const shards = Array.from({ length: 8 }, (_, index) => new Shard.Shard({ index, count: 8 }))
    const taken = shards.map((shard) => ids.filter((id) => Shard.owns(shard, id)))
    assert.strictEqual(taken.reduce((n, part) => n + part.length, 0), ids.length)
    assert.strictEqual(new Set(taken.flat()).size, ids.length)
    for (const part of taken) assert.isTrue(part.length > 800 && part.length < 1200, `${part.length}`)
  })

  it("parses i/n and refuses an index out of range", () => {
    assert.deepStrictEqual(Either.map(Shard.parse("3/8"), Shard.format), Either.right("3/8"))
    assert.isTrue(Either.isLeft(Shard.parse("8/8")))
    assert.isTrue(Either.isLeft(Shard.parse("x")))
  })

  it.effect("reads an Indexed Job's or an AWS Batch array job's environment", () =>
    Effect.gen(function*() {
      const read = (env: Record<string, string>, count?: number) =>
        Effect.withConfigProvider(Shard.config(count), ConfigProvider.fromMap(new Map(Object.entries(env))))
      const k8s = yield* read({ JOB_COMPLETION_INDEX: "5" }, 8)
      assert.deepStrictEqual(Option.map(k8s, Shard.format), Option.some("5/8"))
      const aws = yield* read({ AWS_BATCH_JOB_ARRAY_INDEX: "2", AWS_BATCH_JOB_ARRAY_SIZE: "4" })
      assert.deepStrictEqual(Option.map(aws, Shard.format), Option.some("2/4"))
      assert.isTrue(Option.isNone(yield* read({})))
      assert.isTrue(Either.isLeft(yield* Effect.either(read({ JOB_COMPLETION_INDEX: "9" }, 8))))
    }))
})
