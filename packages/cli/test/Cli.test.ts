import { Emulator } from "@consumer-jws/emulator"
import { Effect, Exit, Redacted, Scope } from "effect"
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "vitest"
import * as Cli from "../src/Cli.js"
import * as CliProcess from "./support/CliProcess.js"

// The example answer of LivePerson's "Get ConsumerJWS" page.
const exampleToken =
  "eyJraWQiOiJhcHBqd3QtMTMtMDUtMTciLCJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhY2NvdW50X2lkIjoibGUzMTQ1Nzc4MCIsImV4dF9jb25zdW1lcl9pZCI6InJhbmRvbV9pZDAuMTczMDc3OTY4NzUiLCJscF9jb25zdW1lcl9pZCI6IjI5Y2FmMGMxMTQ4Njk5NmQ5Mzg3ZTNhNDRlYzM0MjI5ZDEyNzMwNGRiNDk2NmQ3NzUyNzE2YmNlYjUzOGZhMjQifQ.TAJgP31rmpHvGKqb_yLP9yzVi_7tu7YoRfoqQ3RfuXGwR_AOV7DWL5Njy1m2YpC5kd9L_oRmytjFwfckwyuFJewwPGYxeZAY1q1jR5tPdb0nsvRyrMdKzO1_AFWUJtD013H9fjyjxHvxwV_Q2xe6Xp00J0T_-I6d6BkUpUFSPww"

const scope = Effect.runSync(Scope.make())
let emulator: Emulator.Emulator
let slow: Emulator.Emulator
let directory: string

beforeAll(async () => {
  CliProcess.assertBuilt()
  directory = Fs.mkdtempSync(Path.join(Os.tmpdir(), "consumer-jws-cli-test-"))
  emulator = await Effect.runPromise(Scope.extend(Emulator.make({ keyBits: 1024 }), scope))
  // For the interrupted batch: slow enough that a signal comes mid-run.
  slow = await Effect.runPromise(Scope.extend(Emulator.make({ keyBits: 1024, faults: { latencyMs: 200 } }), scope))
})

afterAll(async () => {
  await Effect.runPromise(Scope.close(scope, Exit.void))
  Fs.rmSync(directory, { recursive: true, force: true })
})

const envOf = (server: Emulator.Emulator, overrides: Record<string, string> = {}) => ({
  LP_ACCOUNT_ID: server.accountId,
  LP_CLIENT_ID: server.clientId,
  LP_CLIENT_SECRET: Redacted.value(server.clientSecret),
  LP_CSDS_URL: server.url,
  ...overrides
})

const file = (name: string, content?: string) => {
  const path = Path.join(directory, name)
  if (content !== undefined) Fs.writeFileSync(path, content)
  return path
}

const lines = (text: string) => text.split("\n").filter((line) => line.length > 0)

const jsonLines = (text: string) => lines(text).map((line) => JSON.parse(line) as Record<string, unknown>)

/** Whether the token's signature verifies with the emulator's published key. */
const verifies = (token: string, server: Emulator.Emulator) => {
  const [header, payload, signature] = token.split(".")
  const key = Crypto.createPublicKey({ key: { ...server.jwks.keys[0] }, format: "jwk" })
  return Crypto.verify("RSA-SHA256", Buffer.from(`${header}.${payload}`), key, Buffer.from(signature ?? "", "base64url"))
}

describe.concurrent("consumer-jws", () => {
  it("--help lists every command, --version prints the version", async () => {
    const help = await CliProcess.run(["--help"])
    assert.strictEqual(help.code, 0)
    for (const command of ["issue", "batch", "emulator", "decode", "domains", "demo"]) {
      assert.include(help.stdout, `- ${command}`)
    }
    // Piped, not a terminal: plain text, no colour codes.
    assert.notInclude(help.stdout, "\u001b[")
    const batchHelp = await CliProcess.run(["batch", "--help"])
    assert.include(batchHelp.stdout, "--resume")
    assert.notInclude(batchHelp.stdout, "\u001b[")
    const usage = await CliProcess.run(["batch"])
    assert.strictEqual(usage.code, 2)
    assert.include(usage.stderr, "--output")
    assert.notInclude(usage.stderr, "\u001b[")
    assert.include(batchHelp.stdout, "$ consumer-jws batch consumers.csv --output tokens.jsonl")
    const version = await CliProcess.run(["--version"])
    assert.strictEqual(version.code, 0)
    assert.strictEqual(version.stdout.trim(), "0.1.0")
  })

  it("issue writes one JSON line per ID with a token that verifies, and a stable lp_consumer_id", async () => {
    const first = await CliProcess.run(["issue", "alice", "bob"], envOf(emulator))
    assert.strictEqual(first.code, 0, first.stderr)
    const records = jsonLines(first.stdout)
    assert.deepStrictEqual(records.map((record) => Object.keys(record)), [
      ["consumer_id", "lp_consumer_id", "token"],
      ["consumer_id", "lp_consumer_id", "token"]
    ])
    assert.deepStrictEqual(records.map((record) => record.consumer_id), ["alice", "bob"])
    for (const record of records) assert.isTrue(verifies(String(record.token), emulator))
    assert.notStrictEqual(records[0]?.lp_consumer_id, records[1]?.lp_consumer_id)

    const again = await CliProcess.run(["issue", "alice"], envOf(emulator))
    assert.strictEqual(jsonLines(again.stdout)[0]?.lp_consumer_id, records[0]?.lp_consumer_id)
    assert.strictEqual(again.stderr, "")
  })

  it("issue exits 1 when some IDs fail, reporting each on stderr and issuing the others", async () => {
    const result = await CliProcess.run(["issue", "carol", " padded"], envOf(emulator))
    assert.strictEqual(result.code, 1)
    assert.deepStrictEqual(jsonLines(result.stdout).map((record) => record.consumer_id), ["carol"])
    assert.include(result.stderr, `" padded": InvalidInputError: `)
    assert.include(result.stderr, "NotAllIssuedError: 1 of 2 were not issued.")
  })

  it("issue --emulator runs against an in-process emulator", async () => {
    const result = await CliProcess.run(["issue", "--emulator", "dave"])
    assert.strictEqual(result.code, 0, result.stderr)
    assert.strictEqual(jsonLines(result.stdout)[0]?.consumer_id, "dave")
    assert.include(result.stderr, "Using an in-process emulator at http://127.0.0.1:")
  })

  it("missing configuration is one line naming each missing setting, exit 2", async () => {
    const none = await CliProcess.run(["issue", "alice"])
    assert.strictEqual(none.code, 2)
    assert.strictEqual(none.stdout, "")
    assert.deepStrictEqual(lines(none.stderr), [
      "MissingConfigurationError: Missing configuration: LP_ACCOUNT_ID (or --account), LP_CLIENT_ID (or --client-id), " +
      "LP_CLIENT_SECRET (or --client-secret-file)"
    ])
    const noSecret = await CliProcess.run(["batch", "in.csv", "-o", "out.jsonl", "--account", "123"], { LP_CLIENT_ID: "x" })
    assert.strictEqual(noSecret.code, 2)
    assert.deepStrictEqual(lines(noSecret.stderr), [
      "MissingConfigurationError: Missing configuration: LP_CLIENT_SECRET (or --client-secret-file)"
    ])
    const domains = await CliProcess.run(["domains"])
    assert.strictEqual(domains.code, 2)
    assert.deepStrictEqual(lines(domains.stderr), ["MissingConfigurationError: Missing configuration: LP_ACCOUNT_ID (or --account)"])
  })

  it("a malformed setting is one line naming it and why, exit 2", async () => {
    const cases: ReadonlyArray<readonly [Record<string, string>, string]> = [
      [{ LP_MAX_ATTEMPTS: "abc" }, "InvalidConfigurationError: Invalid LP_MAX_ATTEMPTS: expected an integer value but received \"abc\"."],
      [{ LP_MAX_ATTEMPTS: "0" }, "InvalidConfigurationError: Invalid LP_MAX_ATTEMPTS: expected a whole number of at least 1."],
      [
        { LP_MAX_ATTEMPTS: "x", LP_DEADLINE: "soon" },
        "InvalidConfigurationError: Invalid LP_DEADLINE: expected a duration but received \"soon\"; " +
        "LP_MAX_ATTEMPTS: expected an integer value but received \"x\"."
      ],
      [
        { LP_CSDS_URL: "not-a-url" },
        "InvalidConfigurationError: Invalid LP_CSDS_URL: a CSDS URL is not a URL (expected e.g. https://api.liveperson.net)."
      ]
    ]
    for (const [env, expected] of cases) {
      const result = await CliProcess.run(["issue", "alice"], { LP_ACCOUNT_ID: "123", LP_CLIENT_ID: "x", LP_CLIENT_SECRET: "y", ...env })
      assert.strictEqual(result.code, 2, result.stderr)
      assert.deepStrictEqual(lines(result.stderr), [expected])
    }
  })

  it("decode prints the header and claims of the API page's example token", async () => {
    const result = await CliProcess.run(["decode", exampleToken])
    assert.strictEqual(result.code, 0, result.stderr)
    assert.deepStrictEqual(JSON.parse(result.stdout), {
      header: { alg: "RS256", typ: "JWT", kid: "appjwt-13-05-17" },
      claims: {
        account_id: "le31457780",
        ext_consumer_id: "random_id0.17307796875",
        lp_consumer_id: "29caf0c11486996d9387e3a44ec34229d127304db4966d7752716bceb538fa24"
      }
    })
    const fromStdin = await CliProcess.run(["decode", "-"], {}, `${exampleToken}\n`)
    assert.deepStrictEqual(JSON.parse(fromStdin.stdout), JSON.parse(result.stdout))
    const garbage = await CliProcess.run(["decode", "not-a-token"])
    assert.strictEqual(garbage.code, 1)
    assert.match(garbage.stderr, /^InvalidInputError: Invalid ConsumerJWS: .*\n$/)
  })

  it("domains lists the account's services as JSON lines and as a table", async () => {
    const host = `127.0.0.1:${emulator.port}`
    const json = await CliProcess.run(["domains", "--account", emulator.accountId, "--csds-url", emulator.url])
    assert.strictEqual(json.code, 0, json.stderr)
    const domains = jsonLines(json.stdout)
    assert.deepInclude(domains, { service: "idp", baseURI: host })
    assert.deepInclude(domains, { service: "sentinel", baseURI: host })
    const table = await CliProcess.run(["domains", "--format", "table"], envOf(emulator))
    assert.match(lines(table.stdout)[0] ?? "", /^SERVICE\s+BASE URI$/)
    assert.match(table.stdout, new RegExp(`\\nidp\\s+${host.replace(/\./g, "\\.")}\\n`))
  })

  it("domains exits 3 when the Domain API cannot be reached", async () => {
    const result = await CliProcess.run(["domains", "--account", "123", "--csds-url", "http://127.0.0.1:9"], {
      LP_MAX_ATTEMPTS: "1"
    })
    assert.strictEqual(result.code, 3)
    assert.match(result.stderr, /^DomainLookupError: Could not look up the domain of service 'all services'/)
    // The cause once, one piece of advice, one full stop each (it read "... LP_CSDS_URL.. Check ...").
    assert.include(result.stderr, "the Domain API (CSDS) could not be reached: connect ECONNREFUSED 127.0.0.1:9")
    assert.notInclude(result.stderr, "..")
    assert.strictEqual(result.stderr.split("LP_CSDS_URL").length - 1, 1, result.stderr)
  })

  it("batch exits 0 when every row is issued, and 2 when the output exists", async () => {
    const input = file("clean.csv", "consumer_id\nb-1\nb-2\nb-3\nb-2\n")
    const output = file("clean.jsonl")
    const result = await CliProcess.run(["batch", input, "--output", output, "--progress", "none"], envOf(emulator))
    assert.strictEqual(result.code, 0, result.stderr)
    const records = jsonLines(Fs.readFileSync(output, "utf8"))
    // Records come in the order IDs finish, not the input's.
    assert.deepStrictEqual(records.map((record) => `${record.consumer_id} ${record.status}`).sort(), [
      "b-1 issued",
      "b-2 issued",
      "b-3 issued"
    ])
    assert.include(result.stderr, "completed: 3 issued, 0 failed, 0 rejected, 1 duplicates")

    const again = await CliProcess.run(["batch", input, "--output", output, "--progress", "none"], envOf(emulator))
    assert.strictEqual(again.code, 2)
    assert.match(again.stderr, /^OutputExistsError: The output file .* already holds results\. .*\n$/)
  })

  it("batch --threads 2 issues every row once from worker threads, with the bundled thread entry", async () => {
    const all = Array.from({ length: 500 }, (_, i) => `w-${i}`)
    const input = file("threads.csv", ["consumer_id", ...all, "w-7"].join("\n"))
    const output = file("threads.jsonl")
    const result = await CliProcess.run(
      ["batch", input, "--output", output, "--threads", "2", "--progress", "none"],
      envOf(emulator)
    )
    assert.strictEqual(result.code, 0, result.stderr)
    const records = jsonLines(Fs.readFileSync(output, "utf8"))
    assert.deepStrictEqual(records.map((record) => record.consumer_id).sort(), [...all].sort())
    assert.isTrue(records.every((record) => record.status === "issued" && verifies(String(record.token), emulator)))
    assert.include(result.stderr, "completed: 500 issued, 0 failed, 0 rejected, 1 duplicates")
    assert.notInclude(result.stdout + result.stderr, Redacted.value(emulator.clientSecret))
  })

  it("batch exits 1 with rejected rows, and writes the summary", async () => {
    const input = file("mixed.csv", `consumer_id\nm-1\n" m-2"\nm-3\n${"x".repeat(300)}\n`)
    const output = file("mixed.jsonl")
    const summary = file("mixed-summary.json")
    const result = await CliProcess.run(
      ["batch", input, "-o", output, "--summary", summary, "--progress", "none"],
      envOf(emulator)
    )
    assert.strictEqual(result.code, 1, result.stderr)
    const statuses = jsonLines(Fs.readFileSync(output, "utf8")).map((record) => record.status).sort()
    assert.deepStrictEqual(statuses, ["issued", "issued", "rejected", "rejected"])
    const written = JSON.parse(Fs.readFileSync(summary, "utf8"))
    assert.strictEqual(written.counts.rejected, 2)
    assert.include(result.stderr, "NotAllIssuedError: 2 of 4 were not issued.")
    // Resumed with the rows still invalid: nothing new to record, and still not all issued.
    const resumed = await CliProcess.run(["batch", input, "-o", output, "--progress", "none", "--resume"], envOf(emulator))
    assert.strictEqual(resumed.code, 1, resumed.stderr)
    assert.include(resumed.stderr, "2 already issued, 2 still rejected")
    assert.include(resumed.stderr, "NotAllIssuedError: 2 of 4 were not issued.")
  })

  it("batch exits 2 on a missing column and on bad options", async () => {
    const input = file("column.csv", "consumer_id\nc-1\n")
    const missing = await CliProcess.run(
      ["batch", input, "-o", file("column.jsonl"), "--column", "nope", "--progress", "none"],
      envOf(emulator)
    )
    assert.strictEqual(missing.code, 2)
    assert.match(missing.stderr, /^MissingColumnError: /m)
    const shard = await CliProcess.run(["batch", input, "-o", file("shard.jsonl"), "--shard", "4/4"], envOf(emulator))
    assert.strictEqual(shard.code, 2)
    assert.match(shard.stderr, /^InvalidOptionError: Invalid option shard/m)
    // A number that does not parse is named by its flag (@effect/cli alone says "'abc' is not a float").
    for (const [flag, value, expected] of [["--rate", "abc", "a number"], ["--concurrency", "1.5", "a whole number"]]) {
      const bad = await CliProcess.run(["batch", input, "-o", file("number.jsonl"), flag!, value!], envOf(emulator))
      assert.strictEqual(bad.code, 2)
      assert.include(bad.stderr, `Invalid option ${flag}: expected ${expected}, got '${value}'.`)
    }
  })

  it("batch says when it reads the first line of a one-column CSV as an ID although it looks like a header", async () => {
    const headed = await CliProcess.run(
      ["batch", file("headed.csv", "user_id\nu-1\n"), "-o", file("headed.jsonl"), "--progress", "none"],
      envOf(emulator)
    )
    assert.strictEqual(headed.code, 0, headed.stderr)
    assert.include(headed.stderr, 'Line 1 ("user_id") is read as an ID')
    assert.include(headed.stderr, "--column")
    // An ID-like first line (a digit in it) is read without a word.
    const bare = await CliProcess.run(
      ["batch", file("bare.csv", "u-1\nu-2\n"), "-o", file("bare.jsonl"), "--progress", "none"],
      envOf(emulator)
    )
    assert.strictEqual(bare.code, 0, bare.stderr)
    assert.notInclude(bare.stderr, "is read as an ID")
  })

  it("batch exits 2 when its output or summary cannot be written, saying why in a person's words", async () => {
    const input = file("unwritable.csv", "consumer_id\nu-1\n")
    const nowhere = Path.join(file("no-such-directory"), "out.jsonl")
    const output = await CliProcess.run(["batch", input, "-o", nowhere, "--progress", "none"], envOf(emulator))
    assert.strictEqual(output.code, 2, output.stderr)
    assert.include(output.stderr, `OutputWriteError: Cannot write ${nowhere}: its directory does not exist.`)
    const written = file("unwritable.jsonl")
    const summary = await CliProcess.run(
      ["batch", input, "-o", written, "--summary", Path.join(file("no-such-directory"), "summary.json"), "--progress", "none"],
      envOf(emulator)
    )
    assert.strictEqual(summary.code, 2, summary.stderr)
    assert.include(summary.stderr, "summary.json: its directory does not exist.")
    // The run itself was done and kept.
    assert.deepStrictEqual(jsonLines(Fs.readFileSync(written, "utf8")).map((record) => record.status), ["issued"])
  })

  it("batch exits 2 while another run writes the same output, and takes over a dead run's lock", async () => {
    const input = file("locked.csv", "consumer_id\nk-1\n")
    const output = file("locked.jsonl")
    // This test's own process stands for a live run holding the output.
    file("locked.jsonl.lock", `${process.pid}\n${Os.hostname()}\n`)
    const refused = await CliProcess.run(["batch", input, "-o", output, "--progress", "none"], envOf(emulator))
    assert.strictEqual(refused.code, 2, refused.stderr)
    assert.deepStrictEqual(lines(refused.stderr), [
      `OutputLockedError: The output file ${output} is being written by another run (process ${process.pid} on ${Os.hostname()}). ` +
      `Wait for it to end; if it is gone, delete ${output}.lock.`
    ])
    assert.isFalse(Fs.existsSync(output))
    // A run killed outright leaves its lock behind, naming a process that is gone: the next run takes it over.
    file("locked.jsonl.lock", `${ChildProcess.spawnSync(process.execPath, ["-e", "0"]).pid}\n${Os.hostname()}\n`)
    const resumed = await CliProcess.run(["batch", input, "-o", output, "--progress", "none", "--resume"], envOf(emulator))
    assert.strictEqual(resumed.code, 0, resumed.stderr)
    assert.isFalse(Fs.existsSync(`${output}.lock`))
  })

  it("batch exits 3 on rejected credentials, and no secret or token ever reaches the output", async () => {
    const secret = "wrong-secret-5f1c2a9e"
    const secretFile = file("wrong-secret", `${secret}\n`)
    const input = file("auth.csv", "consumer_id\na-1\na-2\n")
    const result = await CliProcess.run(
      ["batch", input, "-o", file("auth.jsonl"), "--client-secret-file", secretFile, "--progress", "json", "--log-level", "debug"],
      envOf(emulator, { LP_CLIENT_SECRET: "" })
    )
    assert.strictEqual(result.code, 3)
    assert.include(result.stderr, "StoppedEarlyError: AuthenticationError: Sentinel rejected the application's credentials")
    // Why is said in the last line only; the summary above it starts "stopped early:".
    assert.notMatch(result.stderr, /^why: /m)
    assert.match(result.stderr, /^stopped early: 0 issued/m)
    assert.include(result.stderr, "--resume")
    assert.notInclude(result.stdout + result.stderr, secret)
    assert.notInclude(result.stdout + result.stderr, "eyJ")

    // A failing server, with the secret in the environment.
    const unreachable = await CliProcess.run(
      ["issue", "x-1", "--log-level", "debug"],
      envOf(emulator, { LP_CLIENT_SECRET: secret, LP_CSDS_URL: "http://127.0.0.1:9", LP_MAX_ATTEMPTS: "1" })
    )
    assert.strictEqual(unreachable.code, 3)
    assert.notInclude(unreachable.stdout + unreachable.stderr, secret)
  })

  for (const from of ["a file", "stdin"] as const) {
    it(`batch from ${from} stopped by SIGINT exits 130 and prints a command that resumes it`, async () => {
      const ids = ["consumer_id", ...Array.from({ length: 150 }, (_, i) => `s-${i}`)].join("\n")
      const input = from === "stdin" ? "-" : file("slow.csv", ids)
      const output = file(`slow-${from === "stdin" ? "stdin" : "file"}.jsonl`)
      // The input first, as people write it (`-` first needs moving: see Cli.stdinLast).
      const batch = CliProcess.start(["batch", input, "-o", output, "--progress", "json", "--concurrency", "4"], envOf(slow))
      batch.child.stdin.end(from === "stdin" ? ids : "")
      // The first progress line comes once the run is under way.
      await batch.waitFor(`{"progress"`, "stderr")
      batch.child.kill("SIGINT")
      const result = await batch.done
      assert.strictEqual(result.code, 130, result.stderr)
      const printed = /Interrupted\. Carry on with: (.+)/.exec(result.stderr)?.[1]
      assert.strictEqual(printed, `consumer-jws batch --output ${output} --concurrency 4 --resume ${input}`)
      const issued = lines(Fs.readFileSync(output, "utf8")).length
      assert.isAbove(issued, 0)
      assert.isBelow(issued, 150)
      // The printed command, run as printed, finishes the batch.
      const resumed = await CliProcess.run(printed!.split(" ").slice(1), envOf(slow), from === "stdin" ? ids : "")
      assert.strictEqual(resumed.code, 0, resumed.stderr)
      const records = lines(Fs.readFileSync(output, "utf8")).map((line) => JSON.parse(line) as { consumer_id: string })
      assert.deepStrictEqual(records.map((r) => r.consumer_id).sort(), Array.from({ length: 150 }, (_, i) => `s-${i}`).sort())
    })
  }

  it("batch from stdin that stalls stops on SIGINT with exit 130, keeping what it issued", async () => {
    const output = file("stalled.jsonl")
    const batch = CliProcess.start(["batch", "-", "--format", "list", "-o", output, "--progress", "json"], envOf(emulator))
    // One ID, and the pipe left open: the batch waits for more input.
    batch.child.stdin.write("stalled-1\n")
    await batch.waitFor(`"issued":1`, "stderr")
    batch.child.kill("SIGINT")
    // Within the 5 s grace and some: not held until the pipe closes.
    const stopped = await Promise.race([batch.done, new Promise<"still running">((resolve) => setTimeout(() => resolve("still running"), 15_000))])
    batch.child.stdin.end()
    assert.notStrictEqual(stopped, "still running", "the batch waited for input after SIGINT")
    const result = await batch.done
    assert.strictEqual(result.code, 130, result.stderr)
    assert.deepStrictEqual(lines(Fs.readFileSync(output, "utf8")).map((line) => JSON.parse(line).consumer_id), ["stalled-1"])
  })

  it("emulator writes its URL first and exits 0 on SIGTERM", async () => {
    const server = CliProcess.start(["emulator", "--key-bits", "1024", "--account", "le31457780"])
    server.child.stdin.end()
    await server.waitFor("\n")
    const url = lines(server.stdout())[0] ?? ""
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/)
    const answer = await fetch(`${url}/api/account/le31457780/service/idp/baseURI.json?version=1.0`)
    assert.strictEqual(answer.status, 200)
    server.child.kill("SIGTERM")
    const result = await server.done
    assert.strictEqual(result.code, 0, result.stderr)
  })
})

describe("Cli.stdinLast", () => {
  const node = ["node", "consumer-jws"]
  it("moves the input `-` of batch to the end, where @effect/cli parses it, and leaves everything else", () => {
    assert.deepStrictEqual(Cli.stdinLast([...node, "batch", "-", "-o", "out.jsonl"]), [...node, "batch", "-o", "out.jsonl", "-"])
    assert.deepStrictEqual(Cli.stdinLast([...node, "batch", "--resume", "-", "-o", "x"]), [...node, "batch", "--resume", "-o", "x", "-"])
    assert.deepStrictEqual(Cli.stdinLast([...node, "batch", "--rate=5", "-", "-o", "x"]), [...node, "batch", "--rate=5", "-o", "x", "-"])
    // An option's value, a `-` already last, and other commands stay as they are.
    const unchanged = [
      [...node, "batch", "in.csv", "--column", "-", "-o", "x"],
      [...node, "batch", "-o", "x", "-"],
      [...node, "decode", "-"],
      [...node, "issue", "alice"]
    ]
    for (const argv of unchanged) assert.deepStrictEqual(Cli.stdinLast(argv), argv)
  })

  it("takes a `-` after any flag of batch that has no value (as its help lists them) for the input", async () => {
    CliProcess.assertBuilt()
    const help = await CliProcess.run(["batch", "--help"])
    // A flag with no value is a help line of the flag alone; @effect/cli's own end the command line.
    const switches = help.stdout.split("\n").map((line) => line.trim())
      .filter((line) => /^--[a-z-]+$/.test(line) && !["--wizard", "--version"].includes(line))
    assert.includeMembers(switches, ["--resume", "--overwrite", "--emulator"])
    for (const flag of switches) {
      assert.deepStrictEqual(Cli.stdinLast([...node, "batch", flag, "-", "-o", "x"]), [...node, "batch", flag, "-o", "x", "-"], flag)
    }
  })
})

describe("the bundle", () => {
  // Loading it is most of the CLI's start-up and of its memory before any work. The sources import
  // Effect one module at a time (`effect/Effect`): one `import { Stream } from "effect"` would bring
  // back every function of Stream and of what it uses. With the index imported everywhere the two
  // bundles were 2.1 and 1.4 MB; they are 1.3 and 0.9 MB.
  it("holds only the Effect functions the program calls", () => {
    CliProcess.assertBuilt()
    const megabytes = (file: string) => Fs.statSync(Path.join(Path.dirname(CliProcess.bin), file)).size / (1024 * 1024)
    assert.isBelow(megabytes("consumer-jws.mjs"), 1.6)
    assert.isBelow(megabytes("thread-worker.mjs"), 1.1)
  })
})
