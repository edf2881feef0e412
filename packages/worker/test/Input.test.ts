import { assert, describe, it } from "@effect/vitest"
import { delimiterOf, knownColumns, namesColumn } from "../src/internal/input.js"

describe("delimiterOf", () => {
  it("is the delimiter that makes a wanted name a field, else the one a comma-less line uses, else a comma", () => {
    const cases: ReadonlyArray<readonly [string, ReadonlyArray<string>, string]> = [
      ["consumer_id,note", knownColumns, ","],
      ["consumer_id;note", knownColumns, ";"],
      ["Name;Consumer ID", knownColumns, ";"],
      ["\"ext_consumer_id\" ; note", knownColumns, ";"],
      ["name\tconsumer_id", knownColumns, "\t"],
      // A comma wins where it names the column, whatever else the line holds.
      ["consumer_id,note;x", knownColumns, ","],
      // The wanted name decides between the others.
      ["a;b\tid", ["id"], "\t"],
      ["a,b;id", ["id"], ";"],
      // No wanted name: a line with a comma is a comma's; else the delimiter it uses most.
      ["user;name", knownColumns, ";"],
      ["user;name,x", knownColumns, ","],
      ["a\tb\tc;d", knownColumns, "\t"],
      // One bare ID a line: a comma, as before.
      ["abc-123", knownColumns, ","],
      ["", knownColumns, ","]
    ]
    for (const [header, wanted, expected] of cases) assert.strictEqual(delimiterOf(header, wanted), expected, JSON.stringify(header))
  })
})

describe("namesColumn", () => {
  it("takes a known name in any case and spelling of its separators; a given name only as given", () => {
    for (const name of ["consumer_id", "Consumer ID", "ConsumerId", "CONSUMER-ID", " consumer id "]) {
      assert.isTrue(namesColumn(name, "consumer_id"), name)
    }
    for (const name of ["ext_consumer_id", "External Consumer ID"]) assert.strictEqual(namesColumn(name, "ext_consumer_id"), name === "ext_consumer_id", name)
    assert.isTrue(namesColumn("ExtConsumerId", "ext_consumer_id"))
    for (const name of ["consumer", "id", "consumer_ids", "lp_consumer_id"]) assert.isFalse(namesColumn(name, "consumer_id"), name)
    assert.isTrue(namesColumn("User ID", "User ID"))
    assert.isFalse(namesColumn("user_id", "User ID"))
  })
})
