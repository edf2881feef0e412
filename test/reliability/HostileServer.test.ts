/**
 * A hostile or broken server: CSDS answering a baseURI that is not a bare host (nothing is sent
 * there), a non-loopback host (never sent plain HTTP), a 100 MB answer (cut off at 64 KiB, memory
 * bounded), and a server that accepts connections and never answers (timed out).
 */
import { type ConsumerJwsError, ConsumerJwsIssuer, UndiciHttpClient } from "@consumer-jws/core"
import { Batch } from "@consumer-jws/worker"
import { assert, describe, it } from "@effect/vitest"
import { HttpClient } from "@effect/platform"
import { Duration, Effect, Layer, Redacted } from "effect"
import * as Fs from "node:fs"
import type * as Http from "node:http"
import * as Net from "node:net"
import * as Path from "node:path"
import { Agent } from "undici"
import * as Support from "./support/Support.js"

const account = { accountId: "12345678", clientId: "client", clientSecret: Redacted.make("hostile-test-secret") }

// Short attempts, two tries: enough to show what is retried without waiting.
const quick = { attemptTimeout: Duration.millis(300), maxAttempts: 2, baseDelay: Duration.millis(10), maxDelay: Duration.millis(20) }

const issueWith = (csdsUrl: string) =>
  Effect.flatMap(ConsumerJwsIssuer.ConsumerJwsIssuer, (issuer) => issuer.issue("hostile-1")).pipe(
    Effect.provide(Support.clientLayer({ ...account, url: csdsUrl }, quick)),
    Effect.flip
  )

type Service = "csds" | "sentinel" | "idp"

// An AppJWT-shaped token valid for long enough (the client does not verify Sentinel's signature).
const fakeAppJwt = `${Buffer.from("{\"alg\":\"RS256\"}").toString("base64url")}.${
  Buffer.from(JSON.stringify({ exp: Math.floor(Date.now() / 1000) + 3600 })).toString("base64url")
}.c2lnbmF0dXJl`

/** Answers with `total` bytes, chunked (no length), writing only as fast as the client reads. */
const hugeBody = (response: Http.ServerResponse, total: number, sent: { bytes: number }) => {
  response.writeHead(200, { "content-type": "application/json" })
  const chunk = Buffer.alloc(64 * 1024, "a")
  const pump = () => {
    while (sent.bytes < total) {
      sent.bytes += chunk.length
      if (!response.write(chunk)) return void response.once("drain", pump)
    }
    response.end()
  }
  response.on("error", () => undefined)
  pump()
}

/** A fake LivePerson on one port: CSDS names itself for every service; `huge` answers 100 MB. */
const fakeLivePerson = (huge: Service, declared: boolean) =>
  Effect.gen(function*() {
    const sent = { bytes: 0 }
    let port = 0
    const server = yield* Support.httpServer((request, response) => {
      const url = request.url ?? ""
      const service: Service = url.includes("/baseURI.json") ? "csds" : url.includes("/sentinel/") ? "sentinel" : "idp"
      request.resume()
      if (service === huge) {
        if (declared) {
          // A declared length beyond the bound is refused without reading a byte of it.
          response.writeHead(200, { "content-type": "application/json", "content-length": String(100 * 1024 * 1024) })
          response.on("error", () => undefined)
          response.write(Buffer.alloc(64 * 1024, "a"))
          sent.bytes += 64 * 1024
          return
        }
        return hugeBody(response, 100 * 1024 * 1024, sent)
      }
      response.writeHead(service === "idp" ? 201 : 200, { "content-type": "application/json" })
      if (service === "csds") return response.end(JSON.stringify({ baseURI: `127.0.0.1:${port}` }))
      if (service === "sentinel") return response.end(JSON.stringify({ access_token: fakeAppJwt, token_type: "Bearer" }))
      response.end("{}")
    })
    port = server.port
    return { url: server.url, sent }
  })

// The names the client looked up, each answered with 127.0.0.1 (as `net.connect`'s `lookup`).
const looked: Array<string> = []
const resolveToLoopback: Net.LookupFunction = (hostname, options, callback) => {
  looked.push(hostname)
  if (options.all === true) callback(null, [{ address: "127.0.0.1", family: 4 }])
  else callback(null, "127.0.0.1", 4)
}

describe("hostile or broken server", () => {
  it.scopedLive("a baseURI with a scheme, a path, userinfo or whitespace is a BadDomainError, and nothing is sent there", () =>
    Effect.gen(function*() {
      let received = 0
      const target = yield* Support.httpServer((_, response) => {
        received++
        response.writeHead(500).end()
      })
      const host = `127.0.0.1:${target.port}`
      const hostile = [`http://${host}`, `${host}/x`, `a@b`, `a@${host}`, ` ${host}`, `${host} `, `127.0.0.1 :${target.port}`, `${host}\n`]
      for (const baseURI of hostile) {
        const csds = yield* Support.httpServer((_, response) => Support.csdsAnswer(response, baseURI))
        const error = yield* issueWith(csds.url)
        assert.strictEqual(error._tag, "BadDomainError", JSON.stringify(baseURI))
      }
      // Through a batch too: it stops at once, recording nothing (a resume retries every row).
      const csds = yield* Support.httpServer((_, response) => Support.csdsAnswer(response, `a@${host}`))
      const directory = yield* Support.tempDirectory
      const input = Path.join(directory, "ids.txt")
      const output = Path.join(directory, "tokens.jsonl")
      Fs.writeFileSync(input, Support.idsOf("bad-domain", 50).join("\n"))
      const summary = yield* Batch.run({ input, output, progress: "none" }).pipe(
        Effect.provide(Support.clientLayer({ ...account, url: csds.url }, quick))
      )
      assert.strictEqual(summary.outcome, "stoppedEarly")
      assert.strictEqual(summary.stoppedEarly?.error, "BadDomainError")
      assert.strictEqual(Batch.exitCode(summary), 3)
      assert.deepStrictEqual(Support.readRecords(output), [])
      assert.strictEqual(received, 0)
    }))

  it.scopedLive("a non-loopback host is never sent plain HTTP: the client speaks TLS to it, and fails typed", () =>
    Effect.gen(function*() {
      // CSDS names a host that is not this machine; the client's DNS answers 127.0.0.1 for it, so the
      // connection reaches a plain TCP listener here, and nothing leaves the host.
      const listener = yield* Support.silentServer()
      const csds = yield* Support.httpServer((_, response) => Support.csdsAnswer(response, `idp.hostile.invalid:${listener.port}`))
      const agent = yield* Effect.acquireRelease(
        Effect.sync(() => new Agent({ connect: { lookup: resolveToLoopback } })),
        (agent) => Effect.promise(() => agent.destroy())
      )
      const error = yield* Effect.flatMap(ConsumerJwsIssuer.ConsumerJwsIssuer, (issuer) => issuer.issue("hostile-1")).pipe(
        Effect.provide(Support.clientLayer({ ...account, url: csds.url }, quick, {
          httpClient: Layer.succeed(HttpClient.HttpClient, UndiciHttpClient.make(agent))
        })),
        Effect.flip
      )
      assert.include(["TimeoutError", "TransportError"], error._tag, error.message)
      // Only the made-up host was looked up (once an attempt): the rest of the flow is on 127.0.0.1.
      assert.deepStrictEqual([...new Set(looked)], ["idp.hostile.invalid"])
      assert.isAbove(listener.firstBytes.length, 0, "the client never connected")
      // 0x16: a TLS handshake record. A plain HTTP request would start with "POST" (0x50).
      for (const first of listener.firstBytes) assert.strictEqual(first, 0x16)
    }))

  for (const service of ["csds", "sentinel", "idp"] as const) {
    it.scopedLive(`a 100 MB answer from ${service} is cut off at 64 KiB with an error, memory bounded`, () =>
      Effect.gen(function*() {
        for (const declared of [false, true]) {
          const fake = yield* fakeLivePerson(service, declared)
          const rssBefore = process.memoryUsage().rss
          const error = yield* issueWith(fake.url)
          const growth = process.memoryUsage().rss - rssBefore
          const label = `${service}, length ${declared ? "declared" : "not declared"}: ${error.message}`
          if (service === "csds") {
            // CSDS failures reach the caller as a DomainLookupError naming the cause.
            assert.strictEqual(error._tag, "DomainLookupError", label)
            assert.include(error.message, "larger than 65536 bytes", label)
          } else {
            assert.strictEqual(error._tag, "UnexpectedResponseError", label)
            assert.include(error.message, "larger than 65536 bytes", label)
          }
          assert.isBelow(growth, 50 * 1024 * 1024, `RSS grew ${Math.round(growth / 1024 / 1024)} MB (${label})`)
          // Cut off: the server got to send a small part of the 100 MB (socket buffers included).
          assert.isBelow(fake.sent.bytes, 16 * 1024 * 1024, label)
        }
      }), 30_000)
  }

  for (const service of ["csds", "sentinel", "idp"] as const) {
    it.scopedLive(`${service} accepting the connection and never answering is timed out`, () =>
      Effect.gen(function*() {
        const silent = yield* Support.silentServer()
        const silentHost = `127.0.0.1:${silent.port}`
        let csdsUrl = `http://${silentHost}`
        if (service !== "csds") {
          // A CSDS naming the silent server for this service and a working fake for the other.
          let selfPort = 0
          const csds = yield* Support.httpServer((request, response) => {
            const url = request.url ?? ""
            if (url.includes("/baseURI.json")) {
              return Support.csdsAnswer(response, url.includes(`/${service}/`) ? silentHost : `127.0.0.1:${selfPort}`)
            }
            response.writeHead(200, { "content-type": "application/json" })
            response.end(JSON.stringify({ access_token: fakeAppJwt, token_type: "Bearer" }))
          })
          selfPort = csds.port
          csdsUrl = csds.url
        }
        const started = Date.now()
        const error = yield* issueWith(csdsUrl)
        const elapsed = Date.now() - started
        if (service === "csds") {
          assert.strictEqual(error._tag, "DomainLookupError", error.message)
          assert.include(error.message, "got no answer within 300 ms")
        } else {
          assert.strictEqual(error._tag, "TimeoutError", error.message)
          assert.strictEqual((error as ConsumerJwsError.TimeoutError).scope, "attempt")
        }
        // Two attempts of 300 ms each, and not much more.
        assert.isBelow(elapsed, 3_000)
        assert.isAtLeast(elapsed, 550)
      }))
  }
})
