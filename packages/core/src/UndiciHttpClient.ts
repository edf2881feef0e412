/**
 * An `HttpClient` on undici with a time limit per request that costs no fiber: the limit is a
 * timer that aborts the request, not a race. Core's calls use it when they find it (a forked race per
 * request was the largest cost of a bulk issuance); any other `HttpClient` works too, timed out by
 * `Effect.timeoutFail`.
 *
 * @since 0.1.0
 */
import {
  Cookies,
  Headers,
  HttpClient,
  HttpClientError,
  type HttpClientRequest,
  HttpClientResponse,
  HttpIncomingMessage,
  UrlParams
} from "@effect/platform"
import { Duration, Effect, FiberRef, Inspectable, Layer, Option, Stream } from "effect"
import { Readable } from "node:stream"
import { Agent, type Dispatcher } from "undici"

/**
 * The time limit of the requests made where it is set, from sending to the end of the response
 * body; none by default. Set it with {@link withTimeout}.
 */
export const currentTimeout: FiberRef.FiberRef<number | undefined> = FiberRef.unsafeMake<number | undefined>(undefined)

/** Runs `effect` with a time limit on each request it makes through this client. */
export const withTimeout = (timeout: Duration.DurationInput) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.locally(effect, currentTimeout, Duration.toMillis(timeout))

/** The cause of the `RequestError` or `ResponseError` of a request that ran out of time. */
export class RequestTimedOut extends Error {
  constructor(readonly timeoutMillis: number) {
    super(`no complete answer within ${timeoutMillis} ms`)
    this.name = "RequestTimedOut"
  }
}

const TypeId: unique symbol = Symbol.for("@consumer-jws/core/UndiciHttpClient")

/** Whether `client` is this module's client (so it honours {@link currentTimeout}). */
export const isUndiciHttpClient = (client: HttpClient.HttpClient): boolean => TypeId in client

type RequestBody = Exclude<Dispatcher.RequestOptions["body"], undefined>

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

/** Builds the client on `dispatcher` (an undici `Agent`, `Pool` or `Client`). */
export const make = (dispatcher: Dispatcher): HttpClient.HttpClient => {
  const client = HttpClient.make((request, url, signal, fiber) =>
    Effect.async<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError>((resume) => {
      const timeoutMillis = fiber.getFiberRef(currentTimeout)
      // One controller for both ends of the request: the fiber's interruption and the time limit.
      const controller = new AbortController()
      const onInterrupt = () => controller.abort(signal.reason)
      signal.addEventListener("abort", onInterrupt, { once: true })
      let answered = false
      const onTimeout = () => {
        const cause = new RequestTimedOut(timeoutMillis!)
        controller.abort(cause)
        signal.removeEventListener("abort", onInterrupt)
        // undici does not end a request still connecting when it is aborted (it waits for its own
        // connect timeout, 10 s), so the caller is answered here rather than by undici.
        if (answered) return
        answered = true
        resume(Effect.fail(new HttpClientError.RequestError({ request, reason: "Transport", cause })))
      }
      const timer = timeoutMillis === undefined || !Number.isFinite(timeoutMillis) ? undefined : setTimeout(onTimeout, timeoutMillis)
      const done = () => {
        if (timer !== undefined) clearTimeout(timer)
        signal.removeEventListener("abort", onInterrupt)
      }
      dispatcher.request({
        signal: controller.signal,
        method: request.method,
        headers: request.headers,
        origin: url.origin,
        path: url.pathname + url.search + url.hash,
        body: bodyOf(request.body)
      }).then(
        (source) => {
          if (answered) return void source.body.destroy()
          answered = true
          // The limit runs on until the body has been read (or dropped).
          source.body.once("close", done)
          resume(Effect.succeed(new UndiciResponse(request, source)))
        },
        (cause) => {
          done()
          if (answered) return
          answered = true
          resume(Effect.fail(new HttpClientError.RequestError({ request, reason: "Transport", cause })))
        }
      )
      return Effect.sync(() => {
        answered = true
        done()
        controller.abort()
      })
    })
  )
  return Object.assign(client, { [TypeId]: TypeId })
}

/** The client on a new undici `Agent`, closed with the layer. */
export const layer: Layer.Layer<HttpClient.HttpClient> = Layer.scoped(
  HttpClient.HttpClient,
  Effect.map(
    Effect.acquireRelease(Effect.sync(() => new Agent()), (agent) => Effect.promise(() => agent.destroy())),
    make
  )
)

class UndiciResponse extends Inspectable.Class implements HttpClientResponse.HttpClientResponse {
  readonly [HttpClientResponse.TypeId]: HttpClientResponse.TypeId = HttpClientResponse.TypeId
  readonly [HttpIncomingMessage.TypeId]: HttpIncomingMessage.TypeId = HttpIncomingMessage.TypeId
  private cachedHeaders: Headers.Headers | undefined
  private textRead: Promise<string> | undefined

  constructor(readonly request: HttpClientRequest.HttpClientRequest, private readonly source: Dispatcher.ResponseData) {
    super()
    // An error after the caller stopped reading (an abort) must not become an uncaught exception.
    source.body.on("error", () => undefined)
  }

  get status(): number {
    return this.source.statusCode
  }

  get headers(): Headers.Headers {
    return this.cachedHeaders ??= Headers.fromInput(this.source.headers as Headers.Input)
  }

  get cookies(): Cookies.Cookies {
    const header = this.source.headers["set-cookie"]
    return header === undefined ? Cookies.empty : Cookies.fromSetCookie(Array.isArray(header) ? header : [header])
  }

  get remoteAddress(): Option.Option<string> {
    return Option.none()
  }

  private decodeError(cause: unknown, description?: string): HttpClientError.ResponseError {
    return new HttpClientError.ResponseError({
      request: this.request,
      response: this,
      reason: "Decode",
      cause,
      ...(description === undefined ? {} : { description })
    })
  }

  get text(): Effect.Effect<string, HttpClientError.ResponseError> {
    // Read once and kept: a body can only be consumed once.
    return Effect.tryPromise({
      try: () => this.textRead ??= this.source.body.text(),
      catch: (cause) => this.decodeError(cause)
    })
  }

  get json(): Effect.Effect<unknown, HttpClientError.ResponseError> {
    return Effect.flatMap(this.text, (text) =>
      Effect.try({
        try: (): unknown => text === "" ? null : JSON.parse(text),
        catch: (cause) => this.decodeError(cause, "the body is not JSON")
      }))
  }

  get urlParamsBody(): Effect.Effect<UrlParams.UrlParams, HttpClientError.ResponseError> {
    return Effect.map(this.text, (text) => UrlParams.fromInput(new URLSearchParams(text)))
  }

  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpClientError.ResponseError> {
    return Effect.tryPromise({
      try: () => this.source.body.arrayBuffer(),
      catch: (cause) => this.decodeError(cause)
    })
  }

  get formData(): Effect.Effect<FormData, HttpClientError.ResponseError> {
    return Effect.tryPromise({
      try: () => this.source.body.formData() as Promise<FormData>,
      catch: (cause) => this.decodeError(cause)
    })
  }

  get stream(): Stream.Stream<Uint8Array, HttpClientError.ResponseError> {
    return Stream.fromAsyncIterable(this.source.body as AsyncIterable<Uint8Array>, (cause) => this.decodeError(cause))
  }

  toJSON(): unknown {
    return { _id: "@effect/platform/HttpClientResponse", request: this.request.toJSON(), status: this.status }
  }
}
