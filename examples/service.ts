/**
 * An HTTP service that hands out ConsumerJWS tokens: `POST /consumers/{id}/token`, cached per ID
 * (a ConsumerJWS never expires), with each typed error mapped to a status a caller can act on.
 *
 *   pnpm build && node examples/dist/service.js     # listens on 127.0.0.1:8080 against an emulator
 */
import {
  HttpApi,
  HttpApiBuilder,
  HttpApiEndpoint,
  HttpApiGroup,
  HttpApiSchema,
  HttpApp,
  HttpServer,
  HttpServerResponse
} from "@effect/platform"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { ConsumerJwsClient, ConsumerJwsError, ConsumerJwsIssuer, UndiciHttpClient } from "@consumer-jws/core"
import { Emulator } from "@consumer-jws/emulator"
import { Cache, Duration, Effect, Layer, Redacted, Schema } from "effect"
import { createServer } from "node:http"
import { pathToFileURL } from "node:url"

/** The answer: the consumer's token. */
export class ConsumerToken extends Schema.Class<ConsumerToken>("ConsumerToken")({
  consumer_id: Schema.String,
  lp_consumer_id: Schema.String,
  token: Schema.String
}) {}

/** 400: the consumer ID is not valid; fix the request. */
export class InvalidConsumerId extends Schema.TaggedError<InvalidConsumerId>()(
  "InvalidConsumerId",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 400 })
) {}

/** 503 with `Retry-After`: LivePerson is rate limiting or briefly failing; try again later. */
export class TemporarilyUnavailable extends Schema.TaggedError<TemporarilyUnavailable>()(
  "TemporarilyUnavailable",
  { message: Schema.String, retryAfterSeconds: Schema.Number },
  HttpApiSchema.annotations({ status: 503 })
) {}

/** 502: LivePerson refused this service's credentials or configuration; an operator must act. */
export class UpstreamMisconfigured extends Schema.TaggedError<UpstreamMisconfigured>()(
  "UpstreamMisconfigured",
  { error: Schema.String, message: Schema.String },
  HttpApiSchema.annotations({ status: 502 })
) {}

/** 504: LivePerson did not answer in time. */
export class UpstreamTimeout extends Schema.TaggedError<UpstreamTimeout>()(
  "UpstreamTimeout",
  { message: Schema.String },
  HttpApiSchema.annotations({ status: 504 })
) {}

/** The API: one endpoint. */
export class TokenApi extends HttpApi.make("consumer-jws").add(
  HttpApiGroup.make("tokens").add(
    HttpApiEndpoint.post("issueToken", "/consumers/:id/token")
      .setPath(Schema.Struct({ id: Schema.String }))
      .addSuccess(ConsumerToken)
      .addError(InvalidConsumerId)
      .addError(TemporarilyUnavailable)
      .addError(UpstreamMisconfigured)
      .addError(UpstreamTimeout)
  )
) {}

/** Maps each issuance error to what the service's caller can act on. */
const toApiError = (
  error: ConsumerJwsError.ConsumerJwsError
): Effect.Effect<never, InvalidConsumerId | TemporarilyUnavailable | UpstreamMisconfigured | UpstreamTimeout> => {
  switch (error._tag) {
    case "InvalidInputError":
      return Effect.fail(new InvalidConsumerId({ message: error.message }))
    case "RateLimitedError":
    case "ServerError":
    case "TransportError": {
      const seconds = error._tag === "RateLimitedError" ? Math.max(1, Math.ceil(Duration.toSeconds(error.retryAfter))) : 5
      // The standard header, so that HTTP clients back off without reading the body.
      return HttpApp.appendPreResponseHandler((_, response) =>
        Effect.succeed(HttpServerResponse.setHeader(response, "retry-after", String(seconds)))
      ).pipe(Effect.zipRight(Effect.fail(new TemporarilyUnavailable({ message: error.message, retryAfterSeconds: seconds }))))
    }
    case "TimeoutError":
      return Effect.fail(new UpstreamTimeout({ message: error.message }))
    default:
      return Effect.fail(new UpstreamMisconfigured({ error: error._tag, message: error.message }))
  }
}

/** The handlers: a per-ID cache in front of the issuer; failures are not cached. */
export const TokensLive = HttpApiBuilder.group(TokenApi, "tokens", (handlers) =>
  Effect.gen(function*() {
    const issuer = yield* ConsumerJwsIssuer.ConsumerJwsIssuer
    const tokens = yield* Cache.make({ capacity: 100_000, timeToLive: Duration.days(1), lookup: issuer.issue })
    return handlers.handle("issueToken", ({ path }) =>
      tokens.get(path.id).pipe(
        Effect.tapError(() => tokens.invalidate(path.id)),
        Effect.map((issued) =>
          new ConsumerToken({
            consumer_id: issued.consumerId,
            lp_consumer_id: issued.claims.lp_consumer_id,
            token: Redacted.value(issued.token)
          })
        ),
        Effect.catchAll(toApiError)
      )
    )
  }))

/** The service on `port` (0: any free port), issuing through the client in its context. */
export const layer = (port: number) =>
  HttpApiBuilder.serve().pipe(
    Layer.provide(HttpApiBuilder.api(TokenApi).pipe(Layer.provide(TokensLive))),
    HttpServer.withLogAddress,
    Layer.provide(NodeHttpServer.layer(createServer, { port, host: "127.0.0.1" }))
  )

/** The service against an in-process emulator (with a real account: `ConsumerJwsClient.layerConfig`). */
export const layerWithEmulator = (port: number, emulatorOptions: Emulator.Options = {}) =>
  Layer.unwrapScoped(
    Effect.map(Emulator.make(emulatorOptions), (emulator) =>
      layer(port).pipe(
        Layer.provide(ConsumerJwsClient.layer(ConsumerJwsClient.makeSettings({
          accountId: emulator.accountId,
          clientId: emulator.clientId,
          clientSecret: emulator.clientSecret,
          csdsUrl: emulator.url
        }))),
        Layer.provide(UndiciHttpClient.layer)
      ))
  )

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  NodeRuntime.runMain(Layer.launch(layerWithEmulator(8080)))
}
