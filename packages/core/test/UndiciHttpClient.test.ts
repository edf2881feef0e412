import { HttpClient, HttpClientError, HttpClientRequest } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Duration, Effect, Fiber, Layer } from "effect"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
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

// The client for the test's scope (its agent is closed with it).
const client = Effect.map(Layer.build(UndiciHttpClient.layer), Context.get(HttpClient.HttpClient))

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
      const arrived = yield* Deferred.make<void>()
      const closed = yield* Deferred.make<void>()
      const url = yield* server((request) => {
        request.socket.on("close", () => Deferred.unsafeDone(closed, Effect.void))
        Deferred.unsafeDone(arrived, Effect.void)
      })
      const http = yield* client
      const fiber = yield* Effect.fork(http.get(url))
      yield* Deferred.await(arrived)
      yield* Fiber.interrupt(fiber)
      yield* Deferred.await(closed)
    }))

  it.scopedLive("is recognised by core, and a platform client is not", () =>
    Effect.gen(function*() {
      assert.isTrue(UndiciHttpClient.isUndiciHttpClient(yield* client))
      assert.isFalse(UndiciHttpClient.isUndiciHttpClient((yield* client).pipe(HttpClient.filterStatusOk)))
    }))
})
