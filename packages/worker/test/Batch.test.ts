import { assert, describe, it } from "@effect/vitest"
import { RetryPolicy } from "@consumer-jws/core"
import { Deferred, Duration, Effect, Fiber, Layer, Tracer } from "effect"
import { execFileSync, spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Batch, type Progress, Shard, Summary } from "../src/index.js"
import { consumerIds, fastRetries, ids, readJsonl, run, start, stopOnceIssued, tempDir, writeFile } from "./support/Harness.js"

describe("Batch.run", () => {
  it.scopedLive("issues 10,000 IDs, exactly one record per ID, one token per ID at the IDP", () =>
    Effect.gen(function*() {
      const { client, emulator } = yield* start()
      const dir = yield* tempDir
      const all = ids(10_000)
      const input = writeFile(dir, "in.csv", `consumer_id,name\n${all.map((id) => `${id},x`).join("\n")}\n`)
      const output = Path.join(dir, "out.jsonl")
      const summary = yield* Batch.run({ input, output, progress: "none" }).pipe(Effect.provide(client))
      assert.strictEqual(summary.outcome, "completed")
      assert.strictEqual(summary.counts.issued, 10_000)
      assert.strictEqual(Batch.exitCode(summary), 0)
      const records = readJsonl(output)
      assert.strictEqual(records.length, 10_000)
      assert.strictEqual(new Set(records.map((r) => r.consumer_id)).size, 10_000)
      assert.isTrue(records.every((r) => r.status === "issued" && typeof r.token === "string" && typeof r.lp_consumer_id === "string"))
      const stats = yield* emulator.stats
      assert.strictEqual(stats.distinctConsumerIds, 10_000)
      // One token per ID at the IDP, but for a retry of an attempt that timed out (1 s in these tests)
      // after the server had answered, which a loaded CI machine can cause.
      assert.isAtMost(stats.duplicateIssuances, summary.retries)
      assert.strictEqual(Fs.statSync(output).mode & 0o777, 0o600)
    }))
})

describe("tracing", () => {
  it.scopedLive("a batch is one span, not a span per ID and per request", () =>
    Effect.gen(function*() {
      const { client } = yield* start()
      const dir = yield* tempDir
      const names: Array<string> = []
      const native = yield* Effect.tracer
      const recording = Tracer.make({
        span: (name, ...rest) => {
          names.push(name)
          return native.span(name, ...rest)
        },
        context: (f) => f()
      })
      const summary = yield* run(client, { input: writeFile(dir, "in.txt", ids(20).join("\n")), output: Path.join(dir, "out.jsonl") }).pipe(
        Effect.withTracer(recording)
      )
      assert.strictEqual(summary.counts.issued, 20)
      assert.include(names, "Batch.run")
      assert.notInclude(names, "ConsumerJwsIssuer.issueOutcome")
      assert.isAtMost(names.length, 10, names.join(", "))
    }))
})

describe("input forms", () => {
  it.scopedLive("reads a CSV with a BOM, CRLF, quoted fields, escaped quotes and blank lines", () =>
    Effect.gen(function*() {
      const { client } = yield* start()
      const dir = yield* tempDir
      const input = writeFile(
        dir,
        "in.csv",
        "\uFEFFname,ext_consumer_id\r\n\"Smith, J\",a-1\r\n\r\nx,\"b \"\"quoted\"\"\"\r\n\"multi\nline\",c-3\r\n"
      )
      const output = Path.join(dir, "out.jsonl")
      const summary = yield* run(client, { input, output })
      assert.deepStrictEqual(consumerIds(output).sort(), ["a-1", "b \"quoted\"", "c-3"])
      assert.strictEqual(summary.counts.rows, 3)
    }))

  it.scopedLive("reads a .txt list, a headerless one-column CSV, stdin-less `column` choice", () =>
    Effect.gen(function*() {
      const { client } = yield* start()
      const dir = yield* tempDir
      const list = writeFile(dir, "ids.txt", "consumer_id\nl-1\r\nl-2\n\nl-3")
      yield* run(client, { input: list, output: Path.join(dir, "a.jsonl") })
      // A list has no header: "consumer_id" is an ID like any other.
      assert.deepStrictEqual(consumerIds(Path.join(dir, "a.jsonl")).sort(), ["consumer_id", "l-1", "l-2", "l-3"])
      const bare = writeFile(dir, "bare.csv", "h-1\nh-2\n")
      yield* run(client, { input: bare, output: Path.join(dir, "b.jsonl") })
      assert.deepStrictEqual(consumerIds(Path.join(dir, "b.jsonl")).sort(), ["h-1", "h-2"])
      const named = writeFile(dir, "named.csv", "id,user\n1,u-1\n2,u-2\n")
      yield* run(client, { input: named, output: Path.join(dir, "c.jsonl"), column: "user" })
      assert.deepStrictEqual(consumerIds(Path.join(dir, "c.jsonl")).sort(), ["u-1", "u-2"])
    }))

  it.scopedLive("a named pipe: each ID is issued as it arrives, not held for more, a burst included, and no row is lost", () =>
    Effect.gen(function*() {
      const { client } = yield* start()
      const dir = yield* tempDir
      const input = Path.join(dir, "ids.txt")
      execFileSync("mkfifo", [input])
      const output = Path.join(dir, "out.jsonl")
      const firstIssued = yield* Deferred.make<void>()
      const burstIssued = yield* Deferred.make<void>()
      let issued = 0
      const batch = yield* Effect.forkScoped(run(client, {
        input,
        output,
        concurrency: 4,
        progressInterval: Duration.millis(20),
        onProgress: (snapshot) => {
          issued = snapshot.issued
          if (snapshot.issued >= 1) Effect.runSync(Deferred.succeed(firstIssued, undefined))
          if (snapshot.issued >= 43) Effect.runSync(Deferred.succeed(burstIssued, undefined))
        }
      }))
      // Closed first when the test ends: a failed test does not leave the batch waiting on the pipe.
      const writer = yield* Effect.acquireRelease(Effect.sync(() => Fs.createWriteStream(input)), (writer) => Effect.sync(() => writer.destroy()))
      writer.write("first\n")
      // The pipe stays open: the first ID must be issued without waiting for more rows or the end.
      yield* Deferred.await(firstIssued).pipe(
        Effect.timeoutFail({ duration: Duration.seconds(10), onTimeout: () => new Error("the first ID was held back") })
      )
      // A burst the workers could take in runs, then a stall: every ID of it is issued while the
      // pipe stays open, none held for a run to fill up.
      const burst = ids(42, "burst")
      writer.write(burst.join("\n") + "\n")
      yield* Deferred.await(burstIssued).pipe(
        Effect.timeoutFail({ duration: Duration.seconds(10), onTimeout: () => new Error(`IDs of the burst were held back: ${issued} issued`) })
      )
      const rest = ids(500, "p")
      yield* Effect.async<void>((resume) => void writer.end(rest.join("\n") + "\n", () => resume(Effect.void)))
      const summary = yield* Fiber.join(batch)
      assert.strictEqual(summary.counts.issued, 543)
      assert.deepStrictEqual(consumerIds(output).sort(), ["first", ...burst, ...rest].sort())
    }))

  it.scopedLive("progress handed to onProgress counts the file's rows, its header left out", () =>
    Effect.gen(function*() {
      const { client } = yield* start()
      const dir = yield* tempDir
      const input = writeFile(dir, "in.csv", `consumer_id\n${ids(40).join("\n")}\n`)
      const snapshots: Array<Progress.Snapshot> = []
      yield* run(client, {
        input,
        output: Path.join(dir, "out.jsonl"),
        progressInterval: Duration.millis(20),
        onProgress: (snapshot) => snapshots.push(snapshot)
      })
      // The last report comes as the run ends, when the count has long finished; its rate is the
      // whole run's, not that of its last moments (when no row is left to read).
      const last = snapshots.at(-1)
      assert.strictEqual(last?.total, 40)
      assert.strictEqual(last?.rows, 40)
      assert.strictEqual(last?.issued, 40)
      assert.strictEqual(last?.ratePerSecond, 40 * 1000 / last!.elapsedMillis)
      assert.strictEqual(last?.etaSeconds, 0)
    }))

  it.scopedLive("a CSV delimited by semicolons or tabs is read by its header's delimiter, not issued as whole lines", () =>
    Effect.gen(function*() {
      const { client, emulator } = yield* start()
      const dir = yield* tempDir
      const semicolons = writeFile(dir, "excel.csv", "\"consumer_id\";note\r\ns-1;\"a, b\"\r\ns-2;x,y\r\n")
      yield* run(client, { input: semicolons, output: Path.join(dir, "semicolons.jsonl") })
      assert.deepStrictEqual(consumerIds(Path.join(dir, "semicolons.jsonl")).sort(), ["s-1", "s-2"])
      const tabs = writeFile(dir, "export.tsv", "name\tid\nSmith, J\tt-1\n")
      yield* run(client, { input: tabs, output: Path.join(dir, "tabs.jsonl"), column: "id" })
      assert.deepStrictEqual(consumerIds(Path.join(dir, "tabs.jsonl")), ["t-1"])
      // No known column: still split by its delimiter, so the header is refused rather than issued.
      const unnamed = writeFile(dir, "unnamed.csv", "user;name\nu-1;x\n")
      const error = yield* Effect.flip(run(client, { input: unnamed, output: Path.join(dir, "unnamed.jsonl") }))
      assert.deepStrictEqual(error._tag === "MissingColumnError" && error.header, ["user", "name"])
      assert.strictEqual((yield* emulator.stats).tokensIssued, 3)
      // A pipe that brings the header in pieces: the delimiter is told from the whole first line.
      const piped = Path.join(dir, "piped.csv")
      execFileSync("mkfifo", [piped])
      const batch = yield* Effect.forkScoped(run(client, { input: piped, output: Path.join(dir, "piped.jsonl") }))
      const writer = yield* Effect.acquireRelease(Effect.sync(() => Fs.createWriteStream(piped)), (writer) => Effect.sync(() => writer.destroy()))
      writer.write("consumer_id")
      yield* Effect.sleep(Duration.millis(100))
      yield* Effect.async<void>((resume) => void writer.end(";note\np-1;x\n", () => resume(Effect.void)))
      yield* Fiber.join(batch)
      assert.deepStrictEqual(consumerIds(Path.join(dir, "piped.jsonl")), ["p-1"])
    }))

  it.scopedLive("the ID column is found however its header is spelled: a one-column file's header is not issued", () =>
    Effect.gen(function*() {
      const { client, emulator } = yield* start()
      const dir = yield* tempDir
      const single = writeFile(dir, "export.csv", "ConsumerId\ne-1\ne-2\n")
      yield* run(client, { input: single, output: Path.join(dir, "single.jsonl") })
      assert.deepStrictEqual(consumerIds(Path.join(dir, "single.jsonl")).sort(), ["e-1", "e-2"])
      const several = writeFile(dir, "crm.csv", "Name,Consumer ID\nSmith,e-3\n")
      yield* run(client, { input: several, output: Path.join(dir, "several.jsonl") })
      assert.deepStrictEqual(consumerIds(Path.join(dir, "several.jsonl")), ["e-3"])
      assert.strictEqual((yield* emulator.stats).tokensIssued, 3)
    }))

  it.scopedLive("a header without an ID column fails before any request", () =>
    Effect.gen(function*() {
      const { client, emulator } = yield* start()
      const dir = yield* tempDir
      const input = writeFile(dir, "in.csv", "id,name\n1,a\n")
      const error = yield* Effect.flip(run(client, { input, output: Path.join(dir, "out.jsonl") }))
      assert.strictEqual(error._tag, "MissingColumnError")
      assert.deepStrictEqual(error._tag === "MissingColumnError" && error.header, ["id", "name"])
      const stats = yield* emulator.stats
      assert.deepStrictEqual(stats.routes.idp, {})
    }))

  it.scopedLive("records rejected rows with their line and counts duplicates, issuing each ID once", () =>
    Effect.gen(function*() {
      const { client, emulator } = yield* start()
      const dir = yield* tempDir
      const input = writeFile(dir, "in.csv", "consumer_id,n\nok-1,1\n\" padded \",2\nok-1,3\nok-2\n,5\n")
      const output = Path.join(dir, "out.jsonl")
      const summary = yield* run(client, { input, output })
      const records = readJsonl(output)
      assert.deepStrictEqual(
        records.filter((r) => r.status === "rejected").map((r) => [r.line, r.consumer_id, r.error]).sort(),
        [[3, " padded ", "InvalidInputError"], [6, "", "InvalidInputError"]]
      )
      assert.deepStrictEqual(records.filter((r) => r.status === "issued").map((r) => r.consumer_id).sort(), ["ok-1", "ok-2"])
      assert.strictEqual(summary.counts.duplicates, 1)
      assert.strictEqual(summary.counts.rejected, 2)
      assert.strictEqual(Batch.exitCode(summary), 1)
      assert.strictEqual((yield* emulator.stats).tokensIssued, 2)
    }))

  it.scopedLive("a rejected row's line counts blank lines, CRLF and quoted fields that span lines", () =>
    Effect.gen(function*() {
      const { client } = yield* start()
      const dir = yield* tempDir
      const input = writeFile(
        dir,
        "in.csv",
        "consumer_id,note\r\n\r\nok-1,\"two\r\nlines\"\r\n\" a \",x\r\n\r\n\r\n\"b\nc\",y\r\nok-2,\"\n\n\"\n\tz,w"
      )
      const output = Path.join(dir, "out.jsonl")
      yield* run(client, { input, output })
      const records = readJsonl(output)
      assert.deepStrictEqual(
        records.filter((r) => r.status === "rejected").map((r) => [r.line, r.consumer_id]).sort(),
        [[13, "\tz"], [5, " a "], [8, "b\nc"]]
      )
      assert.deepStrictEqual(records.filter((r) => r.status === "issued").map((r) => r.consumer_id).sort(), ["ok-1", "ok-2"])
      const open = writeFile(dir, "open.csv", "consumer_id\r\n\"a\r\nb\"\r\n\"open\r\nrest\r\n")
      const error = yield* Effect.flip(run(client, { input: open, output: Path.join(dir, "open.jsonl") }))
      assert.deepStrictEqual(error._tag === "InputFormatError" && [error.line, error.reason], [4, "a quoted field opened here is never closed"])
    }))

  it.scopedLive("an unclosed quote stops the run naming the line; the rows before are kept; resume finishes", () =>
    Effect.gen(function*() {
      const { client } = yield* start()
      const dir = yield* tempDir
      const good = ids(50, "q")
      const input = writeFile(dir, "in.csv", `consumer_id\n${good.join("\n")}\n"broken\nmore\n`)
      const output = Path.join(dir, "out.jsonl")
      const error = yield* Effect.flip(run(client, { input, output }))
      assert.strictEqual(error._tag, "InputFormatError")
      assert.strictEqual(error._tag === "InputFormatError" && error.line, 52)
      Fs.writeFileSync(input, `consumer_id\n${good.join("\n")}\n"fixed"\nmore\n`)
      yield* run(client, { input, output, resume: true })
      assert.deepStrictEqual(consumerIds(output).sort(), [...good, "fixed", "more"].sort())
    }))

  it.scopedLive("bytes that are not UTF-8 stop the run naming the line", () =>
    Effect.gen(function*() {
      const { client } = yield* start()
      const dir = yield* tempDir
      const input = writeFile(dir, "in.txt", Buffer.concat([Buffer.from("a\nb\nc"), Buffer.from([0xff, 0xfe]), Buffer.from("\nd\n")]))
      const error = yield* Effect.flip(run(client, { input, output: Path.join(dir, "out.jsonl") }))
      assert.deepStrictEqual(error._tag === "InputFormatError" && [error.line], [3])
      // A spreadsheet's "Unicode text" is UTF-16 with a byte order mark: named as such.
      const utf16 = Buffer.from("\uFEFFconsumer_id\r\nu-1\r\n", "utf16le")
      for (const [name, bytes] of [["le.csv", utf16], ["be.txt", Buffer.from(utf16).swap16()]] as const) {
        const wide = yield* Effect.flip(run(client, { input: writeFile(dir, name, bytes), output: Path.join(dir, `${name}.jsonl`) }))
        assert.deepStrictEqual(
          wide._tag === "InputFormatError" && [wide.line, wide.reason],
          [1, "the file is UTF-16, not UTF-8 (save it as UTF-8)"],
          name
        )
      }
    }))

  it.scopedLive("an existing output is refused without resume or overwrite; overwrite starts again", () =>
    Effect.gen(function*() {
      const { client } = yield* start()
      const dir = yield* tempDir
      const input = writeFile(dir, "in.txt", "o-1\n")
      const output = writeFile(dir, "out.jsonl", "{\"consumer_id\":\"x\",\"status\":\"issued\"}\n")
      const error = yield* Effect.flip(run(client, { input, output }))
      assert.strictEqual(error._tag, "OutputExistsError")
      yield* run(client, { input, output, overwrite: true })
      assert.deepStrictEqual(consumerIds(output), ["o-1"])
    }))
})

describe("options", () => {
  it.scopedLive("an output that is a directory, or an output or summary that is the input or the output however spelled, is refused before anything is touched", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const input = writeFile(dir, "in.csv", "consumer_id\nq-1\n")
      const output = writeFile(dir, "out.jsonl", "{\"consumer_id\":\"x\",\"status\":\"issued\"}\n")
      Fs.symlinkSync(input, Path.join(dir, "link.csv"))
      Fs.linkSync(output, Path.join(dir, "hard.jsonl"))
      const refused = [
        [{ input, output: Path.join(dir, ".", "in.csv"), overwrite: true }, "output", "it is the input file"],
        [{ input, output: Path.join(dir, "link.csv"), overwrite: true }, "output", "it is the input file"],
        [{ input, output, resume: true, summary: Path.join(dir, "hard.jsonl") }, "summary", "it is the output file"],
        [{ input, output, resume: true, summary: `${dir}/../${Path.basename(dir)}/in.csv` }, "summary", "it is the input file"],
        [{ input, output: dir, overwrite: true }, "output", "it is a directory"]
      ] as const
      for (const [options, option, reason] of refused) {
        const error = yield* Effect.flip(Batch.resolve(options))
        assert.strictEqual(error.option, option, JSON.stringify(options))
        assert.include(error.reason, reason)
      }
      assert.strictEqual(Fs.readFileSync(input, "utf8"), "consumer_id\nq-1\n")
      assert.strictEqual(Fs.readFileSync(output, "utf8"), "{\"consumer_id\":\"x\",\"status\":\"issued\"}\n")
      // A summary beside the output is fine.
      const options = yield* Batch.resolve({ input, output, summary: Path.join(dir, "summary.json") })
      assert.strictEqual(options.summary, Path.join(dir, "summary.json"))
    }))
})

describe("one run at a time per output", () => {
  it.scopedLive("a second run on an output a live run is writing fails before any request; the first ends with one record per ID", () =>
    Effect.gen(function*() {
      const { client, emulator } = yield* start()
      const dir = yield* tempDir
      const input = writeFile(dir, "in.txt", ids(2_000, "l").join("\n"))
      const output = Path.join(dir, "out.jsonl")
      const lock = `${output}.lock`
      const first = yield* Effect.fork(run(client, { input, output }))
      while (!Fs.existsSync(lock)) yield* Effect.sleep(Duration.millis(5))
      for (const again of [{ resume: true }, { overwrite: true }]) {
        const error = yield* Effect.flip(run(client, { input, output, ...again }))
        assert.strictEqual(error._tag, "OutputLockedError")
        assert.strictEqual(error._tag === "OutputLockedError" && error.pid, process.pid)
      }
      const summary = yield* Fiber.join(first)
      assert.strictEqual(summary.counts.issued, 2_000)
      assert.strictEqual(new Set(consumerIds(output)).size, 2_000)
      assert.strictEqual(consumerIds(output).length, 2_000)
      // No ID was issued twice: the refused runs sent nothing (but a retry of an attempt that timed
      // out after the server answered, as in the first test).
      const stats = yield* emulator.stats
      assert.strictEqual(stats.distinctConsumerIds, 2_000)
      assert.isAtMost(stats.duplicateIssuances, summary.retries)
      assert.isFalse(Fs.existsSync(lock), "the lock outlived its run")
      // Released, the output is the next run's: a resume finds everything issued.
      const resumed = yield* run(client, { input, output, resume: true })
      assert.strictEqual(resumed.counts.alreadyIssued, 2_000)
    }))

  it.scopedLive("a lock left by a process of this host that is gone is taken over; another host's is respected", () =>
    Effect.gen(function*() {
      const { client } = yield* start()
      const dir = yield* tempDir
      const input = writeFile(dir, "in.txt", "s-1\ns-2\n")
      const output = Path.join(dir, "out.jsonl")
      const gone = spawnSync(process.execPath, ["-e", "0"]).pid
      writeFile(dir, "out.jsonl.lock", `${gone}\n${Os.hostname()}\n`)
      const summary = yield* run(client, { input, output })
      assert.strictEqual(summary.counts.issued, 2)
      assert.isFalse(Fs.existsSync(`${output}.lock`))

      writeFile(dir, "out.jsonl.lock", `${gone}\nsome-other-host\n`)
      const error = yield* Effect.flip(run(client, { input, output, resume: true }))
      assert.strictEqual(error._tag, "OutputLockedError")
      assert.include(error.message, `process ${gone} on some-other-host`)
      assert.include(error.message, `delete ${output}.lock`)
      // Refused, it left the other run's lock in place.
      assert.strictEqual(Fs.readFileSync(`${output}.lock`, "utf8"), `${gone}\nsome-other-host\n`)
    }))
})

describe("resume", () => {
  it.scopedLive("cuts a torn last line, drops failed records, and ends with exactly one record per ID", () =>
    Effect.gen(function*() {
      const { client } = yield* start()
      const dir = yield* tempDir
      const all = ids(30, "r")
      const input = writeFile(dir, "in.txt", `${all.join("\n")}\nbad id \n`)
      const output = Path.join(dir, "out.jsonl")
      // A first run over 10 IDs, then a failed record, a rejected one, and a torn write.
      yield* run(client, { input: writeFile(dir, "first.txt", all.slice(0, 10).join("\n")), output })
      Fs.appendFileSync(output, JSON.stringify({ consumer_id: "r-10", status: "failed", error: "ServerError", message: "x", attempts: 5 }) + "\n")
      Fs.appendFileSync(output, JSON.stringify({ line: 31, consumer_id: "bad id ", status: "rejected", error: "InvalidInputError", message: "x" }) + "\n")
      Fs.appendFileSync(output, "{\"consumer_id\":\"r-11\",\"status\":\"iss")
      const summary = yield* run(client, { input, output, resume: true })
      assert.strictEqual(summary.counts.alreadyIssued, 10)
      assert.strictEqual(summary.counts.alreadyRejected, 1)
      assert.strictEqual(summary.counts.issued, 20)
      const records = readJsonl(output)
      assert.strictEqual(records.length, 31)
      assert.deepStrictEqual(records.filter((r) => r.status === "issued").map((r) => r.consumer_id).sort(), [...all].sort())
      assert.strictEqual(Fs.statSync(output).mode & 0o777, 0o600)
    }))

  it.scopedLive("a rejected row fixed in the input is issued on resume, and its old rejected record dropped", () =>
    Effect.gen(function*() {
      const { client } = yield* start()
      const dir = yield* tempDir
      for (const name of ["out.jsonl", "out.csv"]) {
        const output = Path.join(dir, name)
        const input = writeFile(dir, "in.txt", "f-1\n bad\nf-3\n still bad\n")
        const first = yield* run(client, { input, output })
        assert.deepStrictEqual([first.counts.issued, first.counts.rejected], [2, 2])
        writeFile(dir, "in.txt", "f-1\nf-2\nf-3\n still bad\n")
        const resumed = yield* run(client, { input, output, resume: true })
        assert.deepStrictEqual([resumed.counts.issued, resumed.counts.alreadyIssued, resumed.counts.alreadyRejected], [1, 2, 1])
        // The row still invalid is still not issued: the run does not end as if all were.
        assert.strictEqual(Batch.exitCode(resumed), 1)
        assert.include(Summary.render(resumed), "1 still rejected")
        const records = name.endsWith(".csv")
          ? Fs.readFileSync(output, "utf8").trim().split("\n").slice(1).map((line) => {
            const [recordLine, consumerId, status] = line.split(",")
            return `${status} ${consumerId?.replace(/^"|"$/g, "")}${status === "rejected" ? ` line ${recordLine}` : ""}`
          })
          : readJsonl(output).map((r) => `${r.status} ${r.consumer_id}${r.status === "rejected" ? ` line ${r.line}` : ""}`)
        assert.deepStrictEqual(records.sort(), ["issued f-1", "issued f-2", "issued f-3", "rejected  still bad line 4"].sort(), name)
        assert.strictEqual(Fs.statSync(output).mode & 0o777, 0o600)
      }
    }))

  it.scopedLive("resumes a CSV output", () =>
    Effect.gen(function*() {
      const { client, emulator } = yield* start()
      const dir = yield* tempDir
      const all = ids(20, "c")
      const output = Path.join(dir, "out.csv")
      yield* run(client, { input: writeFile(dir, "a.txt", all.slice(0, 8).join("\n")), output })
      yield* run(client, { input: writeFile(dir, "b.txt", all.join("\n")), output, resume: true })
      const lines = Fs.readFileSync(output, "utf8").trim().split("\n")
      assert.strictEqual(lines[0], "line,consumer_id,status,lp_consumer_id,token,attempts,error,message")
      assert.strictEqual(lines.length, 21)
      assert.strictEqual((yield* emulator.stats).tokensIssued, 20)
    }))
})

describe("faults", () => {
  // The emulator does not count requests arriving within 100 ms of a 429 (those other fibers had
  // already sent before the 429 reached the client). The gate stops every request started after the
  // 429 arrived, on every fiber; without it the retries of all fibers land inside the Retry-After.
  it.scopedLive("a 429 storm at concurrency 16: no request arrives inside a Retry-After; every ID is issued", () =>
    Effect.gen(function*() {
      // The server's own limit (a token bucket at 150/s, beyond it 429 + Retry-After 1 s) and a few random 429s.
      const { client, emulator } = yield* start({ faults: { rateLimitPerSecond: 150, rate429: 0.01, retryAfterSeconds: 1 } })
      const dir = yield* tempDir
      const all = ids(600, "s")
      const output = Path.join(dir, "out.jsonl")
      const summary = yield* run(client, { input: writeFile(dir, "in.txt", all.join("\n")), output, concurrency: 16 })
      const stats = yield* emulator.stats
      // Injected 429s always come; the server's own limit only when the machine is fast enough to reach it.
      const sent429 = stats.faults.rateLimited + stats.faults["429"]
      assert.isTrue(sent429 > 0)
      assert.strictEqual(stats.requestsDuringRetryAfter, 0, `${stats.requestsDuringRetryAfter} for ${sent429} 429s`)
      assert.strictEqual(summary.counts.issued, 600)
      assert.isTrue(summary.rateLimited > 0)
      assert.strictEqual(new Set(consumerIds(output)).size, 600)
    }), { timeout: 120_000 })

  it.scopedLive("rows queued behind a slow rate do not fail on their deadline", () =>
    Effect.gen(function*() {
      const { client } = yield* start()
      const dir = yield* tempDir
      const output = Path.join(dir, "out.jsonl")
      // 40 fibers at 10 requests/s: the last row waits 4 s for its turn, four times its deadline.
      const summary = yield* Batch.run({
        input: writeFile(dir, "in.txt", ids(40).join("\n")),
        output,
        concurrency: 40,
        rate: 10,
        progress: "none"
      }).pipe(Effect.provide(Layer.merge(client, RetryPolicy.layer({ ...fastRetries, deadline: Duration.seconds(1) }))))
      assert.strictEqual(summary.counts.issued, 40, JSON.stringify(summary.errors))
    }))

  it.scopedLive("one at a time, no request ever arrives inside a Retry-After", () =>
    Effect.gen(function*() {
      const { client, emulator } = yield* start({ faults: { rate429: 0.1, retryAfterSeconds: 1 } })
      const dir = yield* tempDir
      const output = Path.join(dir, "out.jsonl")
      const summary = yield* run(client, { input: writeFile(dir, "in.txt", ids(30, "one").join("\n")), output, concurrency: 1 })
      const stats = yield* emulator.stats
      assert.isTrue(stats.faults["429"] > 0)
      assert.strictEqual(stats.requestsDuringRetryAfter, 0)
      assert.strictEqual(summary.counts.issued, 30)
    }))

  it.scopedLive("503s, resets and hangs are retried until every ID is issued", () =>
    Effect.gen(function*() {
      const { client, emulator } = yield* start({ faults: { rate503: 0.1, rateReset: 0.05, rateHang: 0.02 } })
      const dir = yield* tempDir
      const all = ids(300, "f")
      const output = Path.join(dir, "out.jsonl")
      const summary = yield* run(client, { input: writeFile(dir, "in.txt", all.join("\n")), output, concurrency: 32 })
      assert.strictEqual(summary.counts.issued, 300)
      assert.isTrue(summary.retries > 0)
      const stats = yield* emulator.stats
      assert.isTrue(stats.faults.hangs > 0 && stats.faults.resets > 0 && stats.faults["503"] > 0)
      assert.deepStrictEqual(consumerIds(output).sort(), [...all].sort())
    }))

  it.scopedLive("bad credentials stop the run early, recording nothing, so a resume retries every row", () =>
    Effect.gen(function*() {
      const { client } = yield* start({}, "wrong-secret")
      const dir = yield* tempDir
      const output = Path.join(dir, "out.jsonl")
      const summary = yield* run(client, { input: writeFile(dir, "in.txt", ids(500, "e").join("\n")), output })
      assert.strictEqual(summary.outcome, "stoppedEarly")
      assert.strictEqual(summary.stoppedEarly?.error, "AuthenticationError")
      assert.strictEqual(Batch.exitCode(summary), 3)
      assert.isTrue(summary.counts.rows < 500)
      assert.deepStrictEqual(readJsonl(output), [])
      const rendered = Summary.render(summary)
      assert.match(rendered, /^stopped early: 0 issued/)
      assert.include(rendered, "\nwhy: Sentinel rejected the application's credentials")
      assert.notInclude(Summary.render(summary, { reason: false }), "Sentinel")
    }))
})

describe("shards", () => {
  it.scopedLive("three shards of one file issue disjoint sets whose union is the whole file", () =>
    Effect.gen(function*() {
      const { client, emulator } = yield* start()
      const dir = yield* tempDir
      const all = ids(600, "k")
      const input = writeFile(dir, "in.txt", all.join("\n"))
      const outputs = [0, 1, 2].map((index) => Path.join(dir, `out-${index}.jsonl`))
      const summaries = yield* Effect.forEach([0, 1, 2], (index) =>
        run(client, { input, output: outputs[index]!, shard: new Shard.Shard({ index, count: 3 }) }), { concurrency: 3 })
      const parts = outputs.map(consumerIds)
      assert.isTrue(parts.every((part) => part.length > 100))
      assert.strictEqual(parts.flat().length, 600)
      assert.deepStrictEqual(parts.flat().sort(), [...all].sort())
      // No shard issues another's IDs: a second issuance at the API can only come from a retry of an
      // attempt that timed out (1 s here) on a loaded machine after the server had answered.
      const retries = summaries.reduce((sum, summary) => sum + summary.retries, 0)
      assert.isAtMost((yield* emulator.stats).duplicateIssuances, retries)
    }))
})

describe("interruption", () => {
  it.scopedLive("a stop request ends with an interrupted summary; resume completes with one record per ID", () =>
    Effect.gen(function*() {
      const { client, emulator } = yield* start({ faults: { latencyMs: 20 } })
      const dir = yield* tempDir
      const all = ids(2000, "i")
      const input = writeFile(dir, "in.txt", all.join("\n"))
      const output = Path.join(dir, "out.jsonl")
      const summary = yield* run(client, { input, output, ...(yield* stopOnceIssued(100)) })
      assert.strictEqual(summary.outcome, "interrupted")
      assert.strictEqual(Batch.exitCode(summary), 130)
      assert.isTrue(summary.counts.issued >= 100 && summary.counts.issued < 2000)
      assert.strictEqual(consumerIds(output).length, summary.counts.issued)
      const resumed = yield* run(client, { input, output, resume: true })
      assert.strictEqual(resumed.outcome, "completed")
      assert.strictEqual(resumed.counts.alreadyIssued, summary.counts.issued)
      assert.deepStrictEqual(consumerIds(output).sort(), [...all].sort())
      assert.strictEqual((yield* emulator.stats).distinctConsumerIds, 2000)
    }))

  it.scopedLive("interrupting the run's fiber drains, flushes and hands the summary to onSummary", () =>
    Effect.gen(function*() {
      const { client } = yield* start({ faults: { latencyMs: 20 } })
      const dir = yield* tempDir
      const output = Path.join(dir, "out.jsonl")
      const summaryPath = Path.join(dir, "summary.json")
      let handed: Summary.Summary | undefined
      const fiber = yield* Effect.fork(run(client, {
        input: writeFile(dir, "in.txt", ids(5000, "j").join("\n")),
        output,
        summary: summaryPath,
        onSummary: (summary) => {
          handed = summary
        }
      }))
      yield* Effect.sleep(Duration.millis(500))
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(handed?.outcome, "interrupted")
      assert.strictEqual(consumerIds(output).length, handed?.counts.issued)
      assert.strictEqual(JSON.parse(Fs.readFileSync(summaryPath, "utf8")).outcome, "interrupted")
    }))
})
