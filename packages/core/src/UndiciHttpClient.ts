/**
 * An `HttpClient` on undici made for API calls in bulk. Its time limit per request costs no fiber:
 * the limit is a timer that aborts the request, not a race. Core's calls use it when they find it (a
 * forked race per request was the largest cost of a bulk issuance); any other `HttpClient` works
 * too, timed out by `Effect.timeoutFail`. Requests go through undici's dispatch API and answers are
 * read whole (up to `maxBodyBytes`) before they are handed over, so a response's body is never a
 * stream to drain or abort. Its time limits are Node's timers, not Effect's `Clock`: `TestClock`
 * does not move them.
 *
 * @since 0.1.0
 */
import * as Cookies from "@effect/platform/Cookies"
import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as UrlParams from "@effect/platform/UrlParams"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FiberRef from "effect/FiberRef"
import * as Inspectable from "effect/Inspectable"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { Readable } from "node:stream"
import type { Dispatcher } from "undici"
import { Agent } from "./internal/undiciAgent.js"

/**
 * The time limit of the requests made where it is set, from sending to the end of the response
 * body; none by default. Set it with {@link withTimeout}.
 */
export const currentTimeout: FiberRef.FiberRef<number | undefined> = FiberRef.unsafeMake<number | undefined>(undefined)

/** Runs `effect` with a time limit on each request it makes through this client. */
export const withTimeout = (timeout: Duration.DurationInput) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.locally(effect, currentTimeout, Duration.toMillis(timeout))

/**
 * Whether interrupting a call aborts its request: yes by default. Off (see
 * {@link withoutAbortOnInterrupt}), a call with a time limit (`executeWithin`) registers no canceler:
 * an interrupted call ends its fiber at once, and its request runs on to its answer or its limit.
 * That is a third of a call's runtime steps (Effect wraps an `async` with a canceler in an
 * interruption finalizer), worth saving for calls in bulk whose interruption ends the run.
 */
export const abortOnInterrupt: FiberRef.FiberRef<boolean> = FiberRef.unsafeMake(true)

/** Runs `effect` with {@link abortOnInterrupt} off: made for a batch, where each call is one of millions. */
export const withoutAbortOnInterrupt = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.locally(effect, abortOnInterrupt, false)

/** The cause of the `RequestError` or `ResponseError` of a request that ran out of time. */
export class RequestTimedOut extends Error {
  constructor(readonly timeoutMillis: number) {
    super(`no complete answer within ${timeoutMillis} ms`)
    this.name = "RequestTimedOut"
  }
}

const TypeId: unique symbol = Symbol.for("@consumer-jws/core/UndiciHttpClient")

/** This module's client: an `HttpClient` that can also be given a time limit per call. */
export interface UndiciHttpClient extends HttpClient.HttpClient {
  readonly [TypeId]: typeof TypeId
  /**
   * Sends `request` within `timeout` (from sending to the end of the body), as {@link withTimeout}
   * does, without setting a FiberRef for it (`Effect.locally` costs ~20 runtime steps a call).
   * Interrupted, it aborts its request, unless {@link abortOnInterrupt} is off.
   */
  readonly executeWithin: (
    request: HttpClientRequest.HttpClientRequest,
    timeout: Duration.DurationInput
  ) => Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError>
}

/** A response of this client, read synchronously: its answers come read whole. */
export interface ReadResponse {
  readonly status: number
  /** One header as it came (`name` in lower case), without building the response's `Headers`. */
  readonly header: (name: string) => string | undefined
  /** The size of the body in bytes. */
  readonly bodyBytes: number
  /** The body as UTF-8 text. */
  readonly bodyText: () => string
}

/** `response` as a {@link ReadResponse} when this client made it; `undefined` for another client's. */
export const readResponse = (response: HttpClientResponse.HttpClientResponse): ReadResponse | undefined =>
  response instanceof UndiciResponse ? response : undefined

/** Whether `client` is this module's client (so it honours {@link currentTimeout} and has `executeWithin`). */
export const isUndiciHttpClient = (client: HttpClient.HttpClient): client is UndiciHttpClient => TypeId in client

type RequestBody = Exclude<Dispatcher.DispatchOptions["body"], undefined>

const bodyOf = (body: HttpClientRequest.HttpClientRequest["body"]): RequestBody => {
  switch (body._tag) {
    case "Empty":
      return null
    case "Uint8Array":
      return body.body
    case "Raw":
      return body.body as RequestBody
    case "FormData":
      return body.formData as unknown as RequestBody
    case "Stream":
      return Readable.from(Stream.toAsyncIterable(body.stream))
  }
}

/** The cause of the `ResponseError` of an answer whose body is larger than the client reads. */
export class BodyTooLarge extends Error {
  constructor(readonly maxBodyBytes: number) {
    super(`the response body is larger than ${maxBodyBytes} bytes`)
    this.name = "BodyTooLarge"
  }
}

/** The cause of a request given up because its fiber was interrupted. */
class Interrupted extends Error {
  constructor() {
    super("the request was interrupted")
    this.name = "Interrupted"
  }
}

/** Options of {@link make}. */
export interface Options {
  /** The largest response body read, in bytes; a larger one fails with {@link BodyTooLarge}. 1 MiB by default. */
  readonly maxBodyBytes?: number
}

type Resume = (effect: Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError>) => void

/**
 * One request and its answer, as undici's dispatch handler: the body is gathered as it comes and
 * the caller is answered once, at its end, at the time limit, or with the first error. No promise,
 * stream or AbortController per request: those were most of what a request cost on top of the
 * socket work.
 */
class Exchange implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined
  private settled = false
  private status = 0
  private headers: Record<string, string | Array<string> | undefined> | undefined
  private chunks: Array<Buffer> = []
  private size = 0
  private timer: ReturnType<typeof setTimeout> | undefined

  constructor(
    private readonly request: HttpClientRequest.HttpClientRequest,
    private readonly maxBodyBytes: number,
    timeoutMillis: number | undefined,
    private readonly resume: Resume
  ) {
    if (timeoutMillis !== undefined && Number.isFinite(timeoutMillis)) {
      this.timer = setTimeout(() => this.fail(new RequestTimedOut(timeoutMillis)), timeoutMillis)
    }
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller
    // Given up while it waited for a connection: it is not sent.
    if (this.settled) controller.abort(new Interrupted())
  }

  onResponseStart(_: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | Array<string> | undefined>): void {
    this.status = statusCode
    this.headers = headers
    // A declared length over the bound fails now, not after a megabyte has been read.
    if (Number(headers["content-length"]) > this.maxBodyBytes) this.fail(new BodyTooLarge(this.maxBodyBytes))
  }

  onResponseData(_: Dispatcher.DispatchController, chunk: Buffer): void {
    this.size += chunk.length
    if (this.size > this.maxBodyBytes) return this.fail(new BodyTooLarge(this.maxBodyBytes))
    this.chunks.push(chunk)
  }

  onResponseEnd(): void {
    if (this.settled) return
    this.settle()
    const body = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size)
    this.resume(Effect.succeed(new UndiciResponse(this.request, this.status, this.headers ?? {}, body)))
  }

  onResponseError(_: Dispatcher.DispatchController, error: Error): void {
    this.fail(error)
  }

  /** Stops the request on the fiber's interruption; the fiber is not resumed. */
  interrupt(): void {
    if (this.settled) return
    this.settle()
    this.controller?.abort(new Interrupted())
  }

  // Before the answer started, a `RequestError`; after, a `ResponseError` on what came.
  private fail(cause: Error): void {
    if (this.settled) return
    this.settle()
    this.controller?.abort(cause)
    const request = this.request
    this.resume(Effect.fail(
      this.headers === undefined
        ? new HttpClientError.RequestError({ request, reason: "Transport", cause })
        : new HttpClientError.ResponseError({
          request,
          response: new UndiciResponse(request, this.status, this.headers, Buffer.alloc(0)),
          reason: "Decode",
          cause
        })
    ))
  }

  private settle(): void {
    this.settled = true
    if (this.timer !== undefined) clearTimeout(this.timer)
  }
}

/**
 * Builds the client on `dispatcher` (an undici `Agent`, `Pool` or `Client`). It reads each answer
 * whole before handing it over (bounded by `maxBodyBytes`): it is made for API calls, not downloads.
 * With tracing on, requests get the platform's client spans; with it off (as in a batch), they go
 * straight to undici.
 */
export const make = (dispatcher: Dispatcher, options: Options = {}): UndiciHttpClient => {
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024
  const dispatch = (request: HttpClientRequest.HttpClientRequest, origin: string, path: string, exchange: Exchange) =>
    dispatcher.dispatch({ method: request.method, headers: request.headers, origin, path, body: bodyOf(request.body) }, exchange)
  const send = (request: HttpClientRequest.HttpClientRequest, origin: string, path: string, timeoutMillis: number | undefined) =>
    Effect.async<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError>((resume) => {
      const exchange = new Exchange(request, maxBodyBytes, timeoutMillis, resume)
      dispatch(request, origin, path, exchange)
      return Effect.sync(() => exchange.interrupt())
    })
  // A call with a time limit and no canceler (`abortOnInterrupt` off): its timer ends the request.
  const sendUntilLimit = (request: HttpClientRequest.HttpClientRequest, origin: string, path: string, timeoutMillis: number | undefined) =>
    Effect.async<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError>((resume) => {
      dispatch(request, origin, path, new Exchange(request, maxBodyBytes, timeoutMillis, resume))
    })

  // With spans: the platform's client around `send` (it builds the URL, the span and its attributes).
  const traced = HttpClient.make((request, url, _signal, fiber) =>
    send(request, url.origin, url.pathname + url.search + url.hash, fiber.getFiberRef(currentTimeout))
  )

  // Without: the URL split once per distinct URL rather than parsed on every request (a batch
  // sends every request to the same URL).
  let last: { readonly url: string; readonly origin: string; readonly path: string } | undefined
  const untraced = (
    request: HttpClientRequest.HttpClientRequest,
    timeoutMillis: number | undefined,
    sender: typeof send
  ) => {
    if (request.hash._tag === "None" && request.urlParams.length === 0) {
      if (last?.url !== request.url) {
        const url = new URL(request.url)
        last = { url: request.url, origin: url.origin, path: url.pathname + url.search }
      }
      return sender(request, last.origin, last.path, timeoutMillis)
    }
    return Either.match(UrlParams.makeUrl(request.url, request.urlParams, request.hash), {
      onLeft: (cause) => Effect.fail(new HttpClientError.RequestError({ request, reason: "InvalidUrl", cause })),
      onRight: (url) => sender(request, url.origin, url.pathname + url.search + url.hash, timeoutMillis)
    })
  }

  const client: HttpClient.HttpClient = HttpClient.makeWith(
    (effect: Effect.Effect<HttpClientRequest.HttpClientRequest>) =>
      Effect.flatMap(effect, (request) =>
        Effect.withFiberRuntime<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError>((fiber) =>
          fiber.getFiberRef(FiberRef.currentTracerEnabled)
            ? traced.execute(request)
            : untraced(request, fiber.getFiberRef(currentTimeout), send)
        )),
    Effect.succeed
  )
  const executeWithin = (request: HttpClientRequest.HttpClientRequest, timeout: Duration.DurationInput) => {
    const millis = Duration.toMillis(timeout)
    return Effect.withFiberRuntime<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError>((fiber) =>
      fiber.getFiberRef(FiberRef.currentTracerEnabled)
        ? Effect.locally(traced.execute(request), currentTimeout, millis)
        : untraced(request, millis, Number.isFinite(millis) && !fiber.getFiberRef(abortOnInterrupt) ? sendUntilLimit : send)
    )
  }
  return Object.assign(client, { [TypeId]: TypeId, executeWithin } as const)
}

/** The client on a new undici `Agent`, closed with the layer. */
export const layer: Layer.Layer<HttpClient.HttpClient> = Layer.scoped(
  HttpClient.HttpClient,
  Effect.map(
    Effect.acquireRelease(Effect.sync(() => new Agent()), (agent) => Effect.promise(() => agent.destroy())),
    (agent) => make(agent)
  )
)

class UndiciResponse extends Inspectable.Class implements HttpClientResponse.HttpClientResponse {
  readonly [HttpClientResponse.TypeId]: HttpClientResponse.TypeId = HttpClientResponse.TypeId
  readonly [HttpIncomingMessage.TypeId]: HttpIncomingMessage.TypeId = HttpIncomingMessage.TypeId
  private cachedHeaders: Headers.Headers | undefined

  constructor(
    readonly request: HttpClientRequest.HttpClientRequest,
    readonly status: number,
    private readonly rawHeaders: Record<string, string | Array<string> | undefined>,
    private readonly body: Buffer
  ) {
    super()
  }

  get headers(): Headers.Headers {
    return this.cachedHeaders ??= Headers.fromInput(this.rawHeaders)
  }

  get cookies(): Cookies.Cookies {
    const header = this.rawHeaders["set-cookie"]
    return header === undefined ? Cookies.empty : Cookies.fromSetCookie(Array.isArray(header) ? header : [header])
  }

  get remoteAddress(): Option.Option<string> {
    return Option.none()
  }

  header(name: string): string | undefined {
    const value = this.rawHeaders[name]
    return Array.isArray(value) ? value.join(", ") : value
  }

  get bodyBytes(): number {
    return this.body.length
  }

  bodyText(): string {
    return this.body.toString("utf8")
  }

  get text(): Effect.Effect<string, HttpClientError.ResponseError> {
    return Effect.sync(() => this.bodyText())
  }

  get json(): Effect.Effect<unknown, HttpClientError.ResponseError> {
    return Effect.try({
      try: (): unknown => this.body.length === 0 ? null : JSON.parse(this.body.toString("utf8")),
      catch: (cause) =>
        new HttpClientError.ResponseError({ request: this.request, response: this, reason: "Decode", cause, description: "the body is not JSON" })
    })
  }

  get urlParamsBody(): Effect.Effect<UrlParams.UrlParams, HttpClientError.ResponseError> {
    return Effect.map(this.text, (text) => UrlParams.fromInput(new URLSearchParams(text)))
  }

  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpClientError.ResponseError> {
    return Effect.sync(() => this.body.buffer.slice(this.body.byteOffset, this.body.byteOffset + this.body.length) as ArrayBuffer)
  }

  get formData(): Effect.Effect<FormData, HttpClientError.ResponseError> {
    return Effect.tryPromise({
      try: () => new Response(this.body, { headers: { "content-type": String(this.rawHeaders["content-type"] ?? "") } }).formData(),
      catch: (cause) => new HttpClientError.ResponseError({ request: this.request, response: this, reason: "Decode", cause })
    })
  }

  get stream(): Stream.Stream<Uint8Array, HttpClientError.ResponseError> {
    return this.body.length === 0 ? Stream.empty : Stream.succeed(new Uint8Array(this.body.buffer, this.body.byteOffset, this.body.length))
  }

  toJSON(): unknown {
    return { _id: "@effect/platform/HttpClientResponse", request: this.request.toJSON(), status: this.status }
  }
}
