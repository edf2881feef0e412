import { HttpClient, HttpClientError, HttpClientRequest } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Duration, Effect, Exit, Fiber, Layer, Tracer } from "effect"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { Agent } from "undici"
import { UndiciHttpClient } from "../src/index.js"

/** A server on loopback for the scope, answering with `handler`; gives its URL. */
const server = (handler: Http.RequestListener) =>
  Effect.acquireRelease(
    Effect.async<Http.Server>((resume) => {
      const listening = Http.createServer(handler).listen(0, "127.0.0.1", () => resume(Effect.succeed(listening)))
    }),
    (listening) => Effect.async<void>((resume) => {
      listening.closeAllConnections()
      listening.close(() => resume(Effect.void))
    })
  ).pipe(Effect.map((listening) => `http://127.0.0.1:${(listening.address() as AddressInfo).port}`))

const readBody = (request: Http.IncomingMessage) =>
  new Promise<string>((resolve) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk)).on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
  })

/**
 * A server that takes requests and never answers: `arrived` completes at the first request,
 * `closed` with the time its connection closed.
 */
const silentServer = Effect.gen(function*() {
  const arrived = yield* Deferred.make<void>()
  const closed = yield* Deferred.make<number>()
  const url = yield* server((request) => {
    request.socket.on("close", () => Deferred.unsafeDone(closed, Effect.succeed(Date.now())))
    Deferred.unsafeDone(arrived, Effect.void)
  })
  return { url, arrived, closed }
})

// The client for the test's scope (its agent is closed with it).
const client = Effect.map(Layer.build(UndiciHttpClient.layer), Context.get(HttpClient.HttpClient))

/** A client on its own agent, with `options`, for the test's scope. */
const clientWith = (agentOptions: Agent.Options, options: UndiciHttpClient.Options = {}) =>
  Effect.acquireRelease(Effect.sync(() => new Agent(agentOptions)), (agent) => Effect.promise(() => agent.destroy())).pipe(
    Effect.map((agent) => UndiciHttpClient.make(agent, options))
  )

/** Runs `effect` with a tracer that records the names of the spans it starts. */
const spanNames = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const base = yield* Effect.tracer
    const names: Array<string> = []
    const recording = Tracer.make({ span: (name, ...rest) => (names.push(name), base.span(name, ...rest)), context: base.context })
    yield* Effect.withTracer(effect, recording)
    return names
  })

const timeoutCause = (error: HttpClientError.HttpClientError) => error.cause instanceof UndiciHttpClient.RequestTimedOut

describe("UndiciHttpClient", () => {
  it.scopedLive("sends the method, headers and body, and reads status, headers and body", () =>
    Effect.gen(function*() {
      const url = yield* server(async (request, response) => {
        const body = await readBody(request)
        response.writeHead(201, { "content-type": "application/json", "retry-after": "3" })
        response.end(JSON.stringify({ method: request.method, path: request.url, authorization: request.headers.authorization, body }))
      })
      const http = yield* client
      const response = yield* http.execute(
        HttpClientRequest.post(`${url}/api/x?v=1.0`).pipe(
          HttpClientRequest.setHeader("authorization", "raw-token"),
          HttpClientRequest.bodyUnsafeJson({ ext_consumer_id: "abc" })
        )
      )
      assert.strictEqual(response.status, 201)
      assert.strictEqual(response.headers["retry-after"], "3")
      assert.deepStrictEqual(yield* response.json, {
        method: "POST",
        path: "/api/x?v=1.0",
        authorization: "raw-token",
        body: JSON.stringify({ ext_consumer_id: "abc" })
      })
      assert.include(yield* response.text, "\"method\":\"POST\"", "the body can be read again")
    }))

  it.scopedLive("a request with no answer fails at its time limit with RequestTimedOut", () =>
    Effect.gen(function*() {
      let received = 0
      const url = yield* server(() => void received++)
      const http = yield* client
      const error = yield* http.get(url).pipe(UndiciHttpClient.withTimeout(Duration.millis(200)), Effect.flip)
      assert.strictEqual(error._tag, "RequestError")
      assert.isTrue(timeoutCause(error), String(error.cause))
      assert.strictEqual((error.cause as UndiciHttpClient.RequestTimedOut).timeoutMillis, 200)
      assert.strictEqual(received, 1)
    }))

  it.scopedLive("executeWithin bounds one call, traced or not, and leaves calls without a limit alone", () =>
    Effect.gen(function*() {
      const url = yield* server((request, response) => {
        if (request.url === "/slow") return void setTimeout(() => response.end("late"), 300)
      })
      const http = yield* client
      assert.isTrue(UndiciHttpClient.isUndiciHttpClient(http))
      if (!UndiciHttpClient.isUndiciHttpClient(http)) return
      for (const tracing of [true, false]) {
        const error = yield* http.executeWithin(HttpClientRequest.get(`${url}/hang`), Duration.millis(150)).pipe(
          Effect.withTracerEnabled(tracing),
          Effect.flip
        )
        assert.isTrue(timeoutCause(error), `tracing ${tracing}: ${String(error.cause)}`)
      }
      // The limit was this call's only: a later plain call waits for a slow answer.
      const text = yield* http.get(`${url}/slow`).pipe(Effect.flatMap((response) => response.text))
      assert.strictEqual(text, "late")
    }))

  it.scopedLive("a body that stops coming fails at the same time limit", () =>
    Effect.gen(function*() {
      const url = yield* server((_, response) => {
        response.writeHead(200, { "content-type": "text/plain" })
        response.write("the start of a body that never ends")
      })
      const http = yield* client
      const error = yield* http.get(url).pipe(
        Effect.flatMap((response) => response.text),
        UndiciHttpClient.withTimeout(Duration.millis(200)),
        Effect.flip
      )
      assert.strictEqual(error._tag, "ResponseError")
      assert.isTrue(timeoutCause(error), String(error.cause))
    }))

  it.scopedLive("without a time limit a slow answer is waited for", () =>
    Effect.gen(function*() {
      const url = yield* server((_, response) => void setTimeout(() => response.end("late"), 300))
      const http = yield* client
      const text = yield* http.get(url).pipe(Effect.flatMap((response) => response.text))
      assert.strictEqual(text, "late")
    }))

  it.scopedLive("interrupting the request closes its connection", () =>
    Effect.gen(function*() {
      const { arrived, closed, url } = yield* silentServer
      const http = yield* client
      const fiber = yield* Effect.fork(http.get(url))
      yield* Deferred.await(arrived)
      yield* Fiber.interrupt(fiber)
      yield* Deferred.await(closed)
    }))

  it.scopedLive("an interrupted executeWithin aborts its request", () =>
    Effect.gen(function*() {
      const { arrived, closed, url } = yield* silentServer
      const http = yield* client
      if (!UndiciHttpClient.isUndiciHttpClient(http)) return assert.fail("the layer's client is an UndiciHttpClient")
      const fiber = yield* Effect.fork(
        http.executeWithin(HttpClientRequest.get(url), Duration.seconds(30)).pipe(Effect.withTracerEnabled(false))
      )
      yield* Deferred.await(arrived)
      const interruptedAt = Date.now()
      const exit = yield* Fiber.interrupt(fiber)
      assert.isTrue(Exit.isInterrupted(exit))
      // Closed by the abort, not 30 s later at the time limit.
      const closedAt = yield* Deferred.await(closed).pipe(Effect.timeoutFail({ duration: Duration.seconds(5), onTimeout: () => new Error("not aborted") }))
      assert.isBelow(closedAt - interruptedAt, 5000)
    }))

  it.scopedLive("with abortOnInterrupt off, an interrupted executeWithin ends its fiber at once, and its request ends at its time limit", () =>
    Effect.gen(function*() {
      const { arrived, closed, url } = yield* silentServer
      const http = yield* client
      if (!UndiciHttpClient.isUndiciHttpClient(http)) return assert.fail("the layer's client is an UndiciHttpClient")
      const sentAt = Date.now()
      const fiber = yield* Effect.fork(
        http.executeWithin(HttpClientRequest.get(url), Duration.millis(400)).pipe(
          Effect.withTracerEnabled(false),
          UndiciHttpClient.withoutAbortOnInterrupt
        )
      )
      yield* Deferred.await(arrived)
      const exit = yield* Fiber.interrupt(fiber)
      assert.isTrue(Exit.isInterrupted(exit))
      // No finalizer aborted it: the connection closes when the request's own timer ends it.
      const closedAt = yield* Deferred.await(closed)
      assert.isAtLeast(closedAt - sentAt, 390)
    }))

  it.scopedLive("an answer larger than maxBodyBytes fails with BodyTooLarge, its length declared or not", () =>
    Effect.gen(function*() {
      const url = yield* server((request, response) => {
        if (request.url === "/declared") return void response.end("x".repeat(2000))
        response.writeHead(200, { "content-type": "text/plain" })
        response.write("x".repeat(600))
        setTimeout(() => response.end("x".repeat(600)), 20)
      })
      const http = yield* clientWith({}, { maxBodyBytes: 1000 })
      for (const path of ["/declared", "/chunked"]) {
        const error = yield* Effect.flip(http.get(`${url}${path}`))
        assert.strictEqual(error._tag, "ResponseError", path)
        assert.instanceOf(error.cause, UndiciHttpClient.BodyTooLarge, path)
        assert.strictEqual(error._tag === "ResponseError" && error.response.status, 200, path)
      }
      // Within the bound, the same client reads a body whole.
      const small = yield* clientWith({}, { maxBodyBytes: 2000 })
      assert.strictEqual((yield* small.get(`${url}/declared`).pipe(Effect.flatMap((response) => response.text))).length, 2000)
    }))

  it.scopedLive("a request interrupted while it waits for a connection is never sent", () =>
    Effect.gen(function*() {
      const received: Array<string> = []
      const firstArrived = yield* Deferred.make<void>()
      let answerFirst: (() => void) | undefined
      const url = yield* server((request, response) => {
        received.push(request.url!)
        if (request.url !== "/first") return void response.end("ok")
        answerFirst = () => response.end("ok")
        Deferred.unsafeDone(firstArrived, Effect.void)
      })
      // One connection: the second request waits behind the first.
      const http = yield* clientWith({ connections: 1 })
      const first = yield* Effect.fork(http.get(`${url}/first`))
      yield* Deferred.await(firstArrived)
      const second = yield* Effect.fork(http.get(`${url}/second`))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(second)
      answerFirst!()
      yield* Fiber.join(first)
      yield* http.get(`${url}/third`)
      assert.deepStrictEqual(received, ["/first", "/third"])
    }))

  it.scopedLive("with tracing on a request gets the platform's client span; with it off, none", () =>
    Effect.gen(function*() {
      const url = yield* server((_, response) => response.end("ok"))
      const http = yield* client
      const traced = yield* spanNames(http.get(url))
      assert.deepStrictEqual(traced, ["http.client GET"])
      const untraced = yield* spanNames(http.get(url).pipe(Effect.withTracerEnabled(false)))
      assert.deepStrictEqual(untraced, [])
    }))

  it.scopedLive("is recognised by core, and a platform client is not", () =>
    Effect.gen(function*() {
      assert.isTrue(UndiciHttpClient.isUndiciHttpClient(yield* client))
      assert.isFalse(UndiciHttpClient.isUndiciHttpClient((yield* client).pipe(HttpClient.filterStatusOk)))
    }))
})
