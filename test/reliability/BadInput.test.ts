/**
 * Awkward and broken input files through `Batch.run` (and the CLI for the error lines and exit
 * codes): each gives either the IDs it holds, issued, or a rejected row naming the reason, or a clear
 * error naming the line; and nothing read before an error is lost.
 */
import { ConsumerJwsClaims } from "@consumer-jws/core"
import { Emulator } from "@consumer-jws/emulator"
import { Batch, type BatchError, type Summary } from "@consumer-jws/worker"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Redacted } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { sizes, timeout } from "./support/Sizes.js"
import * as Support from "./support/Support.js"

interface Ran {
  readonly result: Either.Either<Summary.Summary, BatchError.BatchError>
  readonly records: ReadonlyArray<Support.ResultRecord>
  readonly output: string
  readonly input: string
  readonly emulator: Emulator.Emulator
}

/** Runs a batch over `content` written to a file called `name`, against a fresh emulator. */
const batchOf = (name: string, content: string | Uint8Array, options: Partial<Batch.Input> = {}) =>
  Effect.gen(function*() {
    const emulator = yield* Emulator.make({ keyBits: 1024 })
    const directory = yield* Support.tempDirectory
    const input = Path.join(directory, name)
    const output = Path.join(directory, "tokens.jsonl")
    Fs.writeFileSync(input, content)
    const result = yield* Batch.run({ input, output, concurrency: 4, progress: "none", ...options }).pipe(
      Effect.provide(Support.clientLayer(emulator)),
      Effect.either
    )
    return { result, records: Support.readRecords(output), output, input, emulator } satisfies Ran
  })

const summaryOf = (ran: Ran): Summary.Summary => {
  if (Either.isLeft(ran.result)) return assert.fail(`the batch failed: ${ran.result.left.message}`)
  return ran.result.right
}

const errorOf = (ran: Ran): BatchError.BatchError => {
  if (Either.isRight(ran.result)) return assert.fail(`the batch did not fail: ${JSON.stringify(ran.result.right.counts)}`)
  return ran.result.left
}

const issuedIds = (ran: Ran) => ran.records.filter((record) => record.status === "issued").map((record) => record.consumer_id).sort()

/**
 * Nothing issued is lost: every token the emulator issued before the run stopped is in the output.
 * (Rows read before a malformed line are not all issued: the run stops taking rows at the error, and
 * a resume after the fix issues them.)
 */
const recordsEverythingIssued = (ran: Ran) =>
  Effect.gen(function*() {
    const stats = yield* ran.emulator.stats
    assert.strictEqual(ran.records.length, stats.tokensIssued)
    assert.strictEqual(stats.duplicateIssuances, 0)
  })

const rejected = (ran: Ran) =>
  ran.records.filter((record) => record.status === "rejected").map((record) => ({ line: record.line, consumer_id: record.consumer_id, message: record.message }))

describe("bad input", () => {
  it.scopedLive("a UTF-8 BOM before the header is dropped", () =>
    Effect.gen(function*() {
      const ran = yield* batchOf("bom.csv", "\uFEFFconsumer_id\nbom-1\nbom-2\n")
      assert.strictEqual(summaryOf(ran).counts.rows, 2)
      assert.deepStrictEqual(issuedIds(ran), ["bom-1", "bom-2"])
    }))

  it.scopedLive("CRLF line ends leave no \\r in an ID", () =>
    Effect.gen(function*() {
      const ran = yield* batchOf("crlf.csv", "consumer_id,name\r\ncr-1,a\r\ncr-2,b\r\n")
      assert.deepStrictEqual(issuedIds(ran), ["cr-1", "cr-2"])
      const list = yield* batchOf("crlf.txt", "cr-3\r\ncr-4\r\n")
      assert.deepStrictEqual(issuedIds(list), ["cr-3", "cr-4"])
    }))

  it.scopedLive("quoted commas are part of the ID; a quoted newline is rejected with the line the record starts on", () =>
    Effect.gen(function*() {
      const ran = yield* batchOf("quoted.csv", "consumer_id,note\n\"q,1\",x\n\"q\n2\",y\nq-3,\"a\nb\"\nq-4,z\n")
      const summary = summaryOf(ran)
      assert.deepStrictEqual(issuedIds(ran), ["q,1", "q-3", "q-4"])
      assert.deepStrictEqual(rejected(ran), [{ line: 3, consumer_id: "q\n2", message: "a consumer ID contains a control character" }])
      assert.strictEqual(summary.counts.rows, 4)
    }))

  it.scopedLive("escaped quotes (\"\") and a bare quote inside an unquoted field are kept literally", () =>
    Effect.gen(function*() {
      const ran = yield* batchOf("quotes.csv", "consumer_id\n\"say \"\"hi\"\"\"\nab\"c\n")
      assert.deepStrictEqual(issuedIds(ran), ["ab\"c", "say \"hi\""])
    }))

  it.scopedLive("blank lines are skipped, not rejected", () =>
    Effect.gen(function*() {
      const ran = yield* batchOf("blank.csv", "consumer_id\n\nb-1\n\n\r\n\nb-2\n\n")
      const summary = summaryOf(ran)
      assert.deepStrictEqual(issuedIds(ran), ["b-1", "b-2"])
      assert.strictEqual(summary.counts.rejected, 0)
      const list = yield* batchOf("blank.txt", "\nb-3\n\n\nb-4\n")
      assert.deepStrictEqual(issuedIds(list), ["b-3", "b-4"])
    }))

  it.scopedLive("spreadsheet exports: semicolons or tabs, Excel's sep= line, blank lines first, the column in another spelling", () =>
    Effect.gen(function*() {
      const semicolons = yield* batchOf("export.csv", "\r\nName;Consumer ID\r\nSmith;s-1\r\nJones;s-2\r\n")
      assert.deepStrictEqual(issuedIds(semicolons), ["s-1", "s-2"])
      const hinted = yield* batchOf("hinted.csv", "sep=;\nnote;ext_consumer_id\nx;h-1\n\"a;b\";h-2\n")
      assert.deepStrictEqual(issuedIds(hinted), ["h-1", "h-2"])
      const tabs = yield* batchOf("tabs.csv", "EXT_CONSUMER_ID\tname\nt-1\tx\n")
      assert.deepStrictEqual(issuedIds(tabs), ["t-1"])
      // An exact name wins over a lookalike (a CRM's own key beside the consumer's).
      const both = yield* batchOf("both.csv", "ConsumerId,ext_consumer_id\n123,e-1\n")
      assert.deepStrictEqual(issuedIds(both), ["e-1"])
      for (const ran of [semicolons, hinted, tabs, both]) assert.strictEqual(summaryOf(ran).counts.rejected, 0)
    }))

  it.scopedLive("a header without the ID column fails before any request", () =>
    Effect.gen(function*() {
      const ran = yield* batchOf("nocolumn.csv", "name,email\nann,ann@example.com\n")
      const error = errorOf(ran)
      assert.strictEqual(error._tag, "MissingColumnError")
      assert.include(error.message, "name")
      const stats = yield* ran.emulator.stats
      assert.deepStrictEqual(stats.routes.idp, {})
      assert.deepStrictEqual(stats.routes.sentinel, {})
      assert.deepStrictEqual(ran.records, [])
    }))

  it.scopedLive("a header only, and an empty file, complete with nothing to do", () =>
    Effect.gen(function*() {
      for (const content of ["consumer_id\n", "consumer_id", ""]) {
        const ran = yield* batchOf("nothing.csv", content)
        const summary = summaryOf(ran)
        assert.strictEqual(summary.outcome, "completed", JSON.stringify(content))
        assert.strictEqual(summary.counts.rows, 0)
        assert.strictEqual(Batch.exitCode(summary), 0)
        assert.deepStrictEqual(ran.records, [])
      }
    }))

  it.scopedLive("an unclosed quote stops the run at its line; what was issued is kept, and a resume after the fix finishes", () =>
    Effect.gen(function*() {
      const ran = yield* batchOf("unclosed.csv", "consumer_id\nu-1\nu-2\n\"u-3\nu-4\n")
      const error = errorOf(ran)
      assert.strictEqual(error._tag, "InputFormatError")
      assert.include(error.message, "line 4")
      yield* recordsEverythingIssued(ran)
      // Fixed, and resumed: the rest is issued, nothing twice.
      Fs.writeFileSync(ran.input, "consumer_id\nu-1\nu-2\nu-3\nu-4\n")
      const resumed = yield* Batch.run({ input: ran.input, output: ran.output, resume: true, progress: "none" }).pipe(
        Effect.provide(Support.clientLayer(ran.emulator))
      )
      assert.strictEqual(resumed.counts.alreadyIssued + resumed.counts.issued, 4)
      assert.deepStrictEqual(Support.readRecords(ran.output).map((record) => record.consumer_id).sort(), ["u-1", "u-2", "u-3", "u-4"])
      assert.strictEqual((yield* ran.emulator.stats).duplicateIssuances, 0)
    }))

  it.scopedLive("an ID with a NUL byte is rejected; the rows around it are issued", () =>
    Effect.gen(function*() {
      const ran = yield* batchOf("nul.csv", "consumer_id\nn-1\nn\u00002\nn-3\n")
      assert.deepStrictEqual(issuedIds(ran), ["n-1", "n-3"])
      assert.deepStrictEqual(rejected(ran), [{ line: 3, consumer_id: "n\u00002", message: "a consumer ID contains a control character" }])
      const list = yield* batchOf("nul.txt", "\u0000\nn-4\n")
      assert.deepStrictEqual(issuedIds(list), ["n-4"])
      assert.deepStrictEqual(rejected(list), [{ line: 1, consumer_id: "\u0000", message: "a consumer ID contains a control character" }])
    }))

  it.scopedLive("bytes that are not UTF-8 stop the run naming their line; what was issued is kept", () =>
    Effect.gen(function*() {
      const content = Buffer.concat([Buffer.from("consumer_id\nv-1\nv-2\nv-"), Buffer.from([0xff, 0xfe]), Buffer.from("3\nv-4\n")])
      const ran = yield* batchOf("latin.csv", content)
      const error = errorOf(ran)
      assert.strictEqual(error._tag, "InputFormatError")
      assert.include(error.message, "line 4")
      assert.include(error.message, "UTF-8")
      yield* recordsEverythingIssued(ran)
    }))

  it.scopedLive("a 10 MB line stops the run naming its line; what was issued is kept", () =>
    Effect.gen(function*() {
      const huge = "x".repeat(10 * 1024 * 1024)
      for (const name of ["huge.csv", "huge.txt"]) {
        const ran = yield* batchOf(name, `${name.endsWith(".csv") ? "consumer_id\n" : ""}l-1\n${huge}\nl-3\n`)
        const error = errorOf(ran)
        assert.strictEqual(error._tag, "InputFormatError", name)
        assert.include(error.message, `line ${name.endsWith(".csv") ? 3 : 2}`, name)
        assert.include(error.message, "longer than 1048576", name)
        yield* recordsEverythingIssued(ran)
      }
    }))

  it.scopedLive(`${sizes.copiesOfOneId} copies of one ID: issued once, the rest counted as duplicates`, () =>
    Effect.gen(function*() {
      const started = Date.now()
      const ran = yield* batchOf("copies.csv", "consumer_id\n" + "same-id\n".repeat(sizes.copiesOfOneId))
      const summary = summaryOf(ran)
      console.error(`${sizes.copiesOfOneId} copies of one ID: ${Date.now() - started} ms`)
      assert.strictEqual(summary.counts.rows, sizes.copiesOfOneId)
      assert.strictEqual(summary.counts.issued, 1)
      assert.strictEqual(summary.counts.duplicates, sizes.copiesOfOneId - 1)
      assert.strictEqual(ran.records.length, 1)
      assert.deepStrictEqual((yield* ran.emulator.stats).routes.idp, { "201": 1 })
    }), timeout(30_000))

  it.scopedLive("IDs with leading or trailing spaces are rejected, the reason named, never trimmed", () =>
    Effect.gen(function*() {
      const ran = yield* batchOf("spaces.csv", "consumer_id\n sp-1\nsp-2 \n\" sp-3 \"\n\u00A0sp-4\nsp-5\n")
      assert.deepStrictEqual(issuedIds(ran), ["sp-5"])
      const reason = "a consumer ID has leading or trailing whitespace"
      assert.deepStrictEqual(rejected(ran), [
        { line: 2, consumer_id: " sp-1", message: reason },
        { line: 3, consumer_id: "sp-2 ", message: reason },
        { line: 4, consumer_id: " sp-3 ", message: reason },
        { line: 5, consumer_id: "\u00A0sp-4", message: reason }
      ])
      // Nothing was sent for them: "sp-1" was never issued under a trimmed name.
      assert.strictEqual((yield* ran.emulator.stats).distinctConsumerIds, 1)
    }))

  it.scopedLive("Unicode IDs are issued as they are, and the token names the same ID", () =>
    Effect.gen(function*() {
      const unicode = ["José", "用户-1", "👩‍💻-dev", "Ωmega", "e\u0301"]
      const ran = yield* batchOf("unicode.csv", ["consumer_id", ...unicode].join("\n") + "\n")
      assert.deepStrictEqual(issuedIds(ran), [...unicode].sort())
      for (const record of ran.records) {
        const decoded = Effect.runSync(ConsumerJwsClaims.decode(Redacted.make(record.token ?? "")))
        assert.strictEqual(decoded.claims.ext_consumer_id, record.consumer_id)
      }
    }))

  it.scopedLive("an ID of 256 code points is issued; one of 257 is rejected", () =>
    Effect.gen(function*() {
      const longest = ["😀".repeat(256), "a".repeat(256)]
      const tooLong = ["😀".repeat(257), "a".repeat(257)]
      const ran = yield* batchOf("lengths.csv", ["consumer_id", ...longest, ...tooLong].join("\n") + "\n")
      assert.deepStrictEqual(issuedIds(ran), [...longest].sort())
      assert.deepStrictEqual(rejected(ran).map((row) => [row.line, row.message]), [
        [4, "a consumer ID is longer than 256 characters"],
        [5, "a consumer ID is longer than 256 characters"]
      ])
    }))

  it.scopedLive("through the CLI: a malformed file is one error line naming the line, exit 2, what was issued kept", () =>
    Effect.gen(function*() {
      const emulator = yield* Emulator.make({ keyBits: 1024 })
      const directory = yield* Support.tempDirectory
      const input = Path.join(directory, "bad.csv")
      const output = Path.join(directory, "tokens.jsonl")
      Fs.writeFileSync(input, Buffer.concat([Buffer.from("consumer_id\nc-1\nc-2\n"), Buffer.from([0xc3, 0x28]), Buffer.from("\n")]))
      const result = yield* Effect.promise(() => Support.runCli(["batch", input, "-o", output, "--progress", "none"], Support.envOf(emulator)))
      assert.strictEqual(result.code, 2, result.stderr)
      assert.match(result.stderr, /^InputFormatError: .*line 4.*UTF-8.*\n$/)
      // Whatever was issued before the error is in the output.
      assert.strictEqual(Support.readRecords(output).length, (yield* emulator.stats).tokensIssued)

      const noColumn = Path.join(directory, "nocolumn.csv")
      Fs.writeFileSync(noColumn, "name,email\nann,ann@example.com\n")
      const missing = yield* Effect.promise(() =>
        Support.runCli(["batch", noColumn, "-o", Path.join(directory, "none.jsonl"), "--progress", "none"], Support.envOf(emulator))
      )
      assert.strictEqual(missing.code, 2)
      assert.match(missing.stderr, /^MissingColumnError: /)
    }))
})
