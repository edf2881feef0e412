/**
 * Where secrets go: `issue` and `batch` run as processes with `--log-level debug`, against a server
 * that succeeds and one that fails. The client secret and the AppJWT appear nowhere; a ConsumerJWS
 * appears only in the results file (mode 0600) or, for `issue`, in its documented stdout line; the
 * secret is never in the process's argv.
 */
import { Emulator } from "@consumer-jws/emulator"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Support from "./support/Support.js"

const secret = () => `secret-${Crypto.randomBytes(12).toString("hex")}`

const payloadOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split(".")[1] ?? "", "base64url").toString("utf8")) as Record<string, unknown>

/** Asserts `text` holds neither the secret nor anything shaped like a JWT. */
const clean = (text: string, clientSecret: string, what: string) => {
  assert.notInclude(text, clientSecret, `${what} holds the client secret`)
  assert.deepStrictEqual(text.match(Support.jwtShape) ?? [], [], `${what} holds a JWT`)
}

const modeOf = (path: string) => Fs.statSync(path).mode & 0o777

describe("secrets", () => {
  it.scopedLive("batch, succeeding and failing: tokens only in the 0600 results file, secret nowhere, not in argv", () =>
    Effect.gen(function*() {
      const clientSecret = secret()
      const emulator = yield* Emulator.make({ keyBits: 1024, clientSecret, faults: { latencyMs: 30 } })
      const directory = yield* Support.tempDirectory
      const secretFile = Path.join(directory, "secret")
      Fs.writeFileSync(secretFile, `${clientSecret}\n`)
      const input = Path.join(directory, "ids.csv")
      Fs.writeFileSync(input, ["consumer_id", ...Support.idsOf("secret", 300)].join("\n"))

      for (const via of ["file", "env"] as const) {
        const output = Path.join(directory, `tokens-${via}.jsonl`)
        const summary = Path.join(directory, `summary-${via}.json`)
        const args = ["batch", input, "-o", output, "--summary", summary, "--progress", "json", "--log-level", "debug", "--concurrency", "4"]
        const cli = Support.startCli(
          via === "file" ? [...args, "--client-secret-file", secretFile] : args,
          Support.envOf(emulator, { LP_CLIENT_SECRET: via === "file" ? "" : clientSecret })
        )
        // While it runs: the secret is not in its command line.
        while (!Fs.existsSync(output) && cli.child.exitCode === null) yield* Effect.sleep("10 millis")
        const cmdline = Fs.readFileSync(`/proc/${cli.child.pid}/cmdline`, "utf8")
        assert.include(cmdline, "batch")
        assert.notInclude(cmdline, clientSecret)
        const result = yield* Effect.promise(() => cli.done)
        assert.strictEqual(result.code, 0, result.stderr)
        clean(result.stdout, clientSecret, `${via}: stdout`)
        clean(result.stderr, clientSecret, `${via}: stderr`)
        clean(Fs.readFileSync(summary, "utf8"), clientSecret, `${via}: summary`)
        assert.strictEqual(modeOf(output), 0o600)
        assert.strictEqual(modeOf(summary), 0o600)
        // The results file holds the ConsumerJWS tokens, and no other JWT (no AppJWT).
        const text = Fs.readFileSync(output, "utf8")
        assert.notInclude(text, clientSecret)
        const records = Support.readRecords(output)
        assert.strictEqual(records.length, 300)
        const jwts = text.match(Support.jwtShape) ?? []
        assert.deepStrictEqual(jwts, records.map((record) => record.token))
        for (const jwt of jwts) {
          assert.isTrue(Support.verifies(jwt, emulator.jwks))
          assert.containsAllKeys(payloadOf(jwt), ["ext_consumer_id", "lp_consumer_id"])
          assert.notProperty(payloadOf(jwt), "scope")
        }
      }

      // Failing: every IDP answer a 503; the failed records and messages hold no secret and no token.
      yield* emulator.setFaults({ rate503: 1, latencyMs: 0 })
      const output = Path.join(directory, "failing.jsonl")
      const failing = yield* Effect.promise(() =>
        Support.runCli(
          ["batch", input, "-o", output, "--progress", "json", "--log-level", "debug", "--client-secret-file", secretFile],
          Support.envOf(emulator, { LP_CLIENT_SECRET: "", LP_MAX_ATTEMPTS: "2", LP_RETRY_BASE_DELAY: "1 millis" })
        )
      )
      assert.strictEqual(failing.code, 1, failing.stderr)
      clean(failing.stdout, clientSecret, "failing: stdout")
      clean(failing.stderr, clientSecret, "failing: stderr")
      clean(Fs.readFileSync(output, "utf8"), clientSecret, "failing: results")
      assert.strictEqual(modeOf(output), 0o600)
      assert.isTrue(Support.readRecords(output).every((record) => record.status === "failed"))
    }), 60_000)

  it.scopedLive("issue, succeeding and failing: only the documented tokens on stdout, nothing on stderr", () =>
    Effect.gen(function*() {
      const clientSecret = secret()
      const emulator = yield* Emulator.make({ keyBits: 1024, clientSecret })
      const env = Support.envOf(emulator)
      const ok = yield* Effect.promise(() => Support.runCli(["issue", "alice", "bob", "--log-level", "debug"], env))
      assert.strictEqual(ok.code, 0, ok.stderr)
      clean(ok.stderr, clientSecret, "issue: stderr")
      assert.notInclude(ok.stdout, clientSecret)
      const lines = ok.stdout.split("\n").filter((line) => line.length > 0).map((line) => JSON.parse(line) as { token: string })
      assert.deepStrictEqual(ok.stdout.match(Support.jwtShape), lines.map((line) => line.token))
      for (const line of lines) assert.isTrue(Support.verifies(line.token, emulator.jwks))

      yield* emulator.setFaults({ rate503: 1 })
      const failing = yield* Effect.promise(() =>
        Support.runCli(["issue", "carol", "--log-level", "debug"], { ...env, LP_MAX_ATTEMPTS: "2", LP_RETRY_BASE_DELAY: "1 millis" })
      )
      assert.strictEqual(failing.code, 1, failing.stderr)
      assert.strictEqual(failing.stdout, "")
      clean(failing.stderr, clientSecret, "failing issue: stderr")
    }))

  it.scopedLive("a server echoing the request back in an error never gets the secret or the AppJWT onto the screen or the results file", () =>
    Effect.gen(function*() {
      const clientSecret = secret()
      const emulator = yield* Emulator.make({ keyBits: 1024, clientSecret })
      // A proxy in front of the emulator that, for Sentinel, answers an undocumented 418 echoing the
      // form body it was sent (client_secret included), and, for the IDP, one echoing the Authorization header.
      let sentinelCalls = 0
      const proxy = yield* Support.httpServer((request, response) => {
        const url = request.url ?? ""
        let body = ""
        request.setEncoding("utf8").on("data", (chunk: string) => (body += chunk)).on("end", () => {
          if (url.includes("/baseURI.json")) return Support.csdsAnswer(response, `127.0.0.1:${proxy.port}`)
          if (url.includes("/sentinel/") && sentinelCalls++ === 0) {
            response.writeHead(418, { "content-type": "text/plain" })
            return response.end(`you sent: ${body}`)
          }
          if (url.includes("/sentinel/")) {
            // The second time, the real emulator's answer, so that the IDP step runs.
            return void fetch(`${emulator.url}${url}`, { method: "POST", body, headers: { "content-type": "application/x-www-form-urlencoded" } })
              .then(async (answer) => response.writeHead(answer.status, { "content-type": "application/json" }).end(await answer.text()))
          }
          response.writeHead(418, { "content-type": "text/plain" })
          response.end(`you sent: ${request.headers.authorization} ${body}`)
        })
      })
      proxy.port
      const env = Support.envOf({ ...emulator, url: proxy.url }, { LP_MAX_ATTEMPTS: "1" })
      const first = yield* Effect.promise(() => Support.runCli(["issue", "dave", "--log-level", "debug"], env))
      assert.notStrictEqual(first.code, 0)
      clean(first.stdout + first.stderr, clientSecret, "echoed Sentinel")
      assert.include(first.stderr, "418")
      const second = yield* Effect.promise(() => Support.runCli(["issue", "erin", "--log-level", "debug"], env))
      assert.notStrictEqual(second.code, 0)
      clean(second.stdout + second.stderr, clientSecret, "echoed IDP")
      assert.include(second.stderr, "418")
      assert.strictEqual((yield* emulator.stats).appJwtsIssued, 1)
      void Redacted
    }))
})
