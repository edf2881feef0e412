import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Input from "../src/internal/input.js"
import { tempDir } from "./support/Harness.js"

describe("delimiterOf", () => {
  it("is the delimiter that makes a wanted name a field, else the one a comma-less line uses, else a comma", () => {
    const cases: ReadonlyArray<readonly [string, ReadonlyArray<string>, string]> = [
      ["consumer_id,note", Input.knownColumns, ","],
      ["consumer_id;note", Input.knownColumns, ";"],
      ["Name;Consumer ID", Input.knownColumns, ";"],
      ["\"ext_consumer_id\" ; note", Input.knownColumns, ";"],
      ["name\tconsumer_id", Input.knownColumns, "\t"],
      // A comma wins where it names the column, whatever else the line holds.
      ["consumer_id,note;x", Input.knownColumns, ","],
      // The wanted name decides between the others.
      ["a;b\tid", ["id"], "\t"],
      ["a,b;id", ["id"], ";"],
      // No wanted name: a line with a comma is a comma's; else the delimiter it uses most.
      ["user;name", Input.knownColumns, ";"],
      ["user;name,x", Input.knownColumns, ","],
      ["a\tb\tc;d", Input.knownColumns, "\t"],
      // One bare ID a line: a comma, as before.
      ["abc-123", Input.knownColumns, ","],
      ["", Input.knownColumns, ","]
    ]
    for (const [header, wanted, expected] of cases) assert.strictEqual(Input.delimiterOf(header, wanted), expected, JSON.stringify(header))
  })
})

describe("namesColumn", () => {
  it("takes a known name in any case and spelling of its separators; another given name only as given", () => {
    for (const name of ["consumer_id", "Consumer ID", "ConsumerId", "CONSUMER-ID", " consumer id "]) {
      assert.isTrue(Input.namesColumn(name, "consumer_id"), name)
    }
    for (const name of ["ext_consumer_id", "External Consumer ID"]) assert.strictEqual(Input.namesColumn(name, "ext_consumer_id"), name === "ext_consumer_id", name)
    assert.isTrue(Input.namesColumn("ExtConsumerId", "ext_consumer_id"))
    for (const name of ["consumer", "id", "consumer_ids", "lp_consumer_id"]) assert.isFalse(Input.namesColumn(name, "consumer_id"), name)
    assert.isTrue(Input.namesColumn("User ID", "User ID"))
    assert.isFalse(Input.namesColumn("user_id", "User ID"))
    // A known column given in another spelling is found in any spelling too.
    assert.isTrue(Input.namesColumn("consumer_id", "Consumer ID"))
  })
})

describe("columnOf", () => {
  it("prefers a name spelled exactly to a lookalike, then the wanted names in their order", () => {
    assert.strictEqual(Input.columnOf(["ConsumerId", "ext_consumer_id"], Input.knownColumns), 1)
    assert.strictEqual(Input.columnOf(["Consumer ID", "consumer_id"], Input.knownColumns), 1)
    assert.strictEqual(Input.columnOf(["ext_consumer_id", "consumer_id"], Input.knownColumns), 1)
    assert.strictEqual(Input.columnOf(["name", "EXT_CONSUMER_ID", "Consumer ID"], Input.knownColumns), 2)
    assert.strictEqual(Input.columnOf(["name", "EXT_CONSUMER_ID"], Input.knownColumns), 1)
    assert.isUndefined(Input.columnOf(["name", "id"], Input.knownColumns))
  })
})

describe("firstFilledLine", () => {
  it("is the first line that is not blank, once its line break has come", () => {
    assert.strictEqual(Input.firstFilledLine("a;b\nc"), "a;b")
    assert.strictEqual(Input.firstFilledLine("\r\n\nconsumer_id;note\r\nx"), "consumer_id;note")
    assert.isUndefined(Input.firstFilledLine("\n\r\nconsumer_id;no"))
    assert.isUndefined(Input.firstFilledLine(""))
  })
})

const rowsOf = (opened: Input.Opened) =>
  Effect.gen(function*() {
    const rows: Array<Input.Row> = []
    for (let row = yield* opened.next; row !== undefined; row = yield* opened.next) rows.push(row)
    return rows
  })

describe("open", () => {
  it.scoped("tells the delimiter from the header after blank lines, as csv-parse skips them", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const path = Path.join(dir, "ids.csv")
      Fs.writeFileSync(path, "\r\n\nconsumer_id;note\na-1;x\n\nb-2;y\n")
      const opened = yield* Effect.acquireRelease(
        Input.open({ path, format: "auto", column: undefined, maxLineLength: 1024 * 1024 }),
        (opened) => opened.close
      )
      assert.isTrue(opened.hasHeader)
      assert.strictEqual(opened.column, 0)
      const rows = yield* rowsOf(opened)
      assert.deepStrictEqual(rows.map((row) => [row.line, row.fields[0]]), [[4, "a-1"], [6, "b-2"]])
    }))

  it.scoped("takes Excel's sep= first line for the delimiter, not for a record, and counts it in the lines", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const readAll = (name: string, content: string) =>
        Effect.gen(function*() {
          const path = Path.join(dir, name)
          Fs.writeFileSync(path, content)
          const opened = yield* Effect.acquireRelease(
            Input.open({ path, format: "auto", column: undefined, maxLineLength: 1024 * 1024 }),
            (opened) => opened.close
          )
          const rows = yield* rowsOf(opened)
          return { hasHeader: opened.hasHeader, rows: rows.map((row) => [row.line, row.fields[opened.column]]) }
        })
      assert.deepStrictEqual(yield* readAll("headed.csv", "sep=;\r\nconsumer_id;note\r\na-1;x\n\nb-2;y\n"), {
        hasHeader: true,
        rows: [[3, "a-1"], [5, "b-2"]]
      })
      assert.deepStrictEqual(yield* readAll("bare.csv", "sep=,\nid-1\nid-2"), { hasHeader: false, rows: [[2, "id-1"], [3, "id-2"]] })
      assert.deepStrictEqual(yield* readAll("tabs.csv", "\nSEP=\t\nname\tconsumer_id\nx\tc-1\n"), { hasHeader: true, rows: [[4, "c-1"]] })
      assert.deepStrictEqual(yield* readAll("alone.csv", "sep=;\n"), { hasHeader: false, rows: [] })
    }))

  it.scopedLive("reads a CSV only a few chunks ahead of the rows taken, however large the input", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      // A pipe: what the reader has taken is what the writer got written (give or take the pipe's 64 KiB).
      const path = Path.join(dir, "ids.csv")
      execFileSync("mkfifo", [path])
      const writer = yield* Effect.acquireRelease(
        // Destroyed with writes pending once the reader is closed: their error is expected.
        Effect.sync(() => Fs.createWriteStream(path).on("error", () => undefined)),
        (writer) => Effect.sync(() => writer.destroy())
      )
      const rows = Array.from({ length: 400_000 }, (_, i) => `id-${String(i).padStart(12, "0")}`)
      const text = `consumer_id\n${rows.join("\n")}\n` // 6.4 MB
      // In pieces, one after the other: each write completes as the reader takes it.
      let written = 0
      yield* Effect.forkScoped(Effect.forEach(
        Array.from({ length: Math.ceil(text.length / 65536) }, (_, i) => text.slice(i * 65536, (i + 1) * 65536)),
        (piece) => Effect.async<void>((resume) => void writer.write(piece, () => resume(Effect.sync(() => void (written += piece.length))))),
        { discard: true }
      ))
      const opened = yield* Effect.acquireRelease(
        Input.open({ path, format: "auto", column: undefined, maxLineLength: 1024 * 1024 }),
        (opened) => opened.close
      )
      const first = yield* opened.next
      assert.strictEqual(first?.fields[0], "id-000000000000")
      // The reader stops once its buffers are full: wait until nothing more is written for a second.
      let last = -1
      let quiet = 0
      while (quiet < 4) {
        yield* Effect.sleep(Duration.millis(250))
        quiet = written === last ? quiet + 1 : 0
        last = written
      }
      // Its streams hold a chunk each (64 KiB from this pipe): 0.5 MB read. By the streams' defaults
      // 16 runs of rows and 16 chunks of text waited (1.5 MB here); at a file's 256 KiB chunks, the
      // 16 runs of rows doubled a million-row batch's peak RSS.
      assert.isBelow(written, 1024 * 1024, `read ${written} bytes ahead of the first row`)
    }))
})
