/**
 * A local LivePerson server (CSDS, Sentinel, IDP) with fault injection, as a scoped Effect resource.
 *
 * @since 0.1.0
 */
import { AccountId } from "@consumer-jws/core"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as FaultsPatch from "./internal/FaultsPatch.js"
import * as Server from "./internal/Server.js"
import * as Signer from "./internal/Signer.js"

/**
 * Faults the emulator injects. The six IDP rates are probabilities of mutually exclusive outcomes of
 * one seeded draw per IDP request, so together they are at most 1.
 */
export interface Faults {
  /** IDP: answer 429 with `Retry-After: retryAfterSeconds`. */
  readonly rate429: number
  /** The `Retry-After` of injected 429s, in whole seconds. */
  readonly retryAfterSeconds: number
  /** IDP: answer 500. */
  readonly rate500: number
  /** IDP: answer 503. */
  readonly rate503: number
  /** IDP: destroy the socket (TCP RST) without answering. */
  readonly rateReset: number
  /** IDP: never answer; the socket stays open until the client gives up or the emulator stops. */
  readonly rateHang: number
  /** IDP: answer 201 with a truncated body (`{"tok`). */
  readonly rateMalformed: number
  /** IDP: fixed latency added to every answer, in milliseconds. */
  readonly latencyMs: number
  /** IDP: random extra latency, uniform in 0..latencyJitterMs milliseconds. */
  readonly latencyJitterMs: number
  /** IDP: server-side limit in requests per second (token bucket); beyond it 429 with Retry-After. */
  readonly rateLimitPerSecond: number | undefined
  /** CSDS: answer 503. */
  readonly csds503Rate: number
  /** Sentinel: answer 503. */
  readonly sentinel503Rate: number
  /** Lifetime of newly issued AppJWTs in seconds; 0 issues already-expired tokens. */
  readonly appJwtLifetimeSeconds: number
}

/** How to start an emulator; every field has a default in {@link defaults}. */
export interface Options {
  /** 0 picks any free port. */
  readonly port?: number
  /** The emulator binds loopback only. */
  readonly host?: "127.0.0.1"
  readonly accountId?: string
  readonly clientId?: string
  readonly clientSecret?: string
  /** Size of the RSA key made at start; ignored with `privateKeyFile`. */
  readonly keyBits?: number
  /** A PEM file (PKCS#8 or PKCS#1) with the RSA private key to sign with, instead of a fresh key. */
  readonly privateKeyFile?: string
  /** Initial AppJWT lifetime; `faults.appJwtLifetimeSeconds` wins when both are given. */
  readonly appJwtLifetimeSeconds?: number
  /** Add `expires_in` to Sentinel's answer (LivePerson's v1 examples have none). */
  readonly includeExpiresIn?: boolean
  /** Seed of the fault draws: the same seed and request sequence give the same faults. */
  readonly seed?: number
  /**
   * How long after sending a 429 the emulator still accepts requests without counting them in
   * `requestsDuringRetryAfter`: those a client had in flight before the 429 reached it.
   */
  readonly retryAfterGraceMillis?: number
  readonly faults?: Partial<Faults>
}

/** Requests answered per status code (`"201"`, `"429"`, ...), plus `"reset"` and `"hang"` on the IDP. */
export type StatusCounts = Readonly<Record<string, number>>

/** How many of each fault the emulator injected. */
export interface FaultCounts {
  readonly resets: number
  readonly hangs: number
  readonly malformed: number
  /** Injected 429s (`rate429`); rate-limit 429s are counted in `rateLimited`. */
  readonly "429": number
  readonly "500": number
  readonly "503": number
  readonly rateLimited: number
  readonly csds503: number
  readonly sentinel503: number
}

/** What the emulator saw since it started or was last reset; also served at `GET /__stats`. */
export interface Stats {
  readonly routes: {
    readonly csds: StatusCounts
    readonly sentinel: StatusCounts
    readonly idp: StatusCounts
    readonly jwks: StatusCounts
    readonly other: StatusCounts
  }
  /** 201s with a token (malformed 201s excluded). */
  readonly tokensIssued: number
  readonly appJwtsIssued: number
  readonly distinctConsumerIds: number
  /** True once more than `maxTrackedConsumerIds` distinct IDs were seen: later ones are not tracked. */
  readonly distinctConsumerIdsTruncated: boolean
  /** Tokens issued for an ID that already had one. */
  readonly duplicateIssuances: number
  /** IDP requests being handled now (hanging ones included). */
  readonly inFlight: number
  /** The most IDP requests handled at once. */
  readonly maxInFlight: number
  /**
   * IDP requests that arrived more than `retryAfterGraceMillis` (default 100 ms) after the emulator
   * sent a 429 and before that 429's Retry-After ended. Requests arriving within the grace are not
   * counted: with several connections, a client has some already on the wire when a 429 reaches it.
   * A client that honours Retry-After across all its connections keeps this at 0.
   */
  readonly requestsDuringRetryAfter: number
  readonly faults: FaultCounts
}

/** One public key as a JWK. */
export interface PublicJwk {
  readonly kty: "RSA"
  readonly n: string
  readonly e: string
  readonly kid: string
  readonly alg: "RS256"
  readonly use: "sig"
}

/** The key set served at `/.well-known/jwks.json`. */
export interface JsonWebKeySet {
  readonly keys: ReadonlyArray<PublicJwk>
}

/** A running emulator. */
export interface Emulator {
  /** The CSDS URL, `http://127.0.0.1:{port}`; every service's baseURI is `127.0.0.1:{port}`. */
  readonly url: string
  readonly port: number
  readonly accountId: string
  readonly clientId: string
  readonly clientSecret: Redacted.Redacted<string>
  /** The `kid` of the signing key, in every token header. */
  readonly kid: string
  readonly jwks: JsonWebKeySet
  readonly stats: Effect.Effect<Stats>
  /** Clears stats and issued-ID tracking, and restarts the seeded fault sequence and the rate limiter. */
  readonly reset: Effect.Effect<void>
  /** The faults in force. */
  readonly faults: Effect.Effect<Faults>
  /** Changes some faults; an invalid value (a rate outside 0..1, ...) is a defect. */
  readonly setFaults: (faults: Partial<Faults>) => Effect.Effect<void>
}

/** The emulator could not start; `message` says why. */
export class EmulatorError extends Schema.TaggedError<EmulatorError>()("EmulatorError", {
  reason: Schema.Literal("InvalidOptions", "KeyUnavailable", "ListenFailed"),
  message: Schema.String
}) {}

/** The CSDS services the emulator knows; all point at the emulator itself. */
export const services: ReadonlyArray<string> = Server.services

/** Beyond this many distinct consumer IDs, `distinctConsumerIds` stops growing (about 100 bytes an ID). */
export const maxTrackedConsumerIds: number = Server.maxTrackedConsumerIds

/** The body of every IDP 401. */
export const unauthorizedBody: string = Server.unauthorizedBody

/** No faults at all, and a one-hour AppJWT. */
export const noFaults: Faults = {
  rate429: 0,
  retryAfterSeconds: 1,
  rate500: 0,
  rate503: 0,
  rateReset: 0,
  rateHang: 0,
  rateMalformed: 0,
  latencyMs: 0,
  latencyJitterMs: 0,
  rateLimitPerSecond: undefined,
  csds503Rate: 0,
  sentinel503Rate: 0,
  appJwtLifetimeSeconds: 3600
}

/** The values used for options that are not given. */
export const defaults = {
  port: 0,
  host: "127.0.0.1",
  accountId: "12345678",
  clientId: "emulator-client-id",
  clientSecret: "emulator-client-secret",
  keyBits: 2048,
  appJwtLifetimeSeconds: 3600,
  includeExpiresIn: false,
  seed: 1,
  retryAfterGraceMillis: 100,
  faults: noFaults
} as const

const invalid = (message: string) => new EmulatorError({ reason: "InvalidOptions", message })

const isAccountId = Schema.is(AccountId.AccountId)

const resolveConfig = (
  options: Options
): Either.Either<Omit<Server.Config, "signer"> & { readonly keySource: Signer.KeySource }, EmulatorError> => {
  const port = options.port ?? defaults.port
  const accountId = options.accountId ?? defaults.accountId
  const clientId = options.clientId ?? defaults.clientId
  const clientSecret = options.clientSecret ?? defaults.clientSecret
  const keyBits = options.keyBits ?? defaults.keyBits
  const seed = options.seed ?? defaults.seed
  const lifetime = options.appJwtLifetimeSeconds ?? defaults.appJwtLifetimeSeconds
  const retryAfterGraceMillis = options.retryAfterGraceMillis ?? defaults.retryAfterGraceMillis
  if (!Number.isInteger(port) || port < 0 || port > 65535) return Either.left(invalid(`port ${port} is not 0..65535`))
  if (options.host !== undefined && options.host !== "127.0.0.1") {
    return Either.left(invalid("the emulator binds 127.0.0.1 only"))
  }
  if (!isAccountId(accountId)) {
    return Either.left(invalid(`account ${JSON.stringify(accountId)} is not 1 to 64 letters, digits, '-' or '_'`))
  }
  if (clientId.length === 0) return Either.left(invalid("the client ID is empty"))
  if (clientSecret.length === 0) return Either.left(invalid("the client secret is empty"))
  if (options.privateKeyFile === undefined && (!Number.isInteger(keyBits) || keyBits < 1024 || keyBits > 16384)) {
    return Either.left(invalid(`key size ${keyBits} is not a whole number of bits in 1024..16384`))
  }
  if (!Number.isFinite(seed)) return Either.left(invalid(`seed ${seed} is not a number`))
  if (!(Number.isFinite(retryAfterGraceMillis) && retryAfterGraceMillis >= 0)) {
    return Either.left(invalid(`retryAfterGraceMillis ${retryAfterGraceMillis} is not a non-negative number`))
  }
  const faults = FaultsPatch.apply(noFaults, { appJwtLifetimeSeconds: lifetime, ...options.faults })
  if (Either.isLeft(faults)) return Either.left(invalid(`invalid faults: ${faults.left}`))
  return Either.right({
    port,
    accountId,
    clientId,
    clientSecret,
    includeExpiresIn: options.includeExpiresIn ?? defaults.includeExpiresIn,
    seed: seed >>> 0,
    retryAfterGraceMillis,
    faults: faults.right,
    keySource: options.privateKeyFile === undefined
      ? { _tag: "Generate", keyBits }
      : { _tag: "File", path: options.privateKeyFile }
  })
}

const messageOf = (cause: unknown): string => cause instanceof Error ? cause.message : String(cause)

/**
 * Starts an emulator on 127.0.0.1. Closing the scope stops it: pending latencies end, every socket
 * (hanging ones included) is destroyed.
 */
export const make: (options?: Options) => Effect.Effect<Emulator, EmulatorError, Scope.Scope> = Effect.fn(
  "Emulator.make"
)(function*(options: Options = {}) {
  const { keySource, ...config } = yield* resolveConfig(options)
  const signer = yield* Effect.tryPromise({
    try: () => Signer.make(keySource),
    catch: (cause) =>
      new EmulatorError({
        reason: "KeyUnavailable",
        message: keySource._tag === "File"
          ? `cannot load an RSA private key from ${keySource.path}: ${messageOf(cause)}`
          : `cannot generate a ${keySource.keyBits}-bit RSA key: ${messageOf(cause)}`
      })
  })
  const server = yield* Effect.acquireRelease(
    Effect.tryPromise({
      try: () => Server.start({ ...config, signer }),
      catch: (cause) =>
        new EmulatorError({ reason: "ListenFailed", message: `cannot listen on 127.0.0.1:${config.port}: ${messageOf(cause)}` })
    }),
    (running) => Effect.promise(() => running.close())
  )
  const emulator: Emulator = {
    url: `http://127.0.0.1:${server.port}`,
    port: server.port,
    accountId: config.accountId,
    clientId: config.clientId,
    clientSecret: Redacted.make(config.clientSecret),
    kid: signer.kid,
    jwks: signer.jwks,
    stats: Effect.sync(server.stats),
    reset: Effect.sync(server.reset),
    faults: Effect.sync(server.faults),
    setFaults: (faults) =>
      Effect.suspend(() => {
        const applied = server.setFaults(faults)
        return Either.isLeft(applied) ? Effect.die(invalid(`invalid faults: ${applied.left}`)) : Effect.void
      })
  }
  return emulator
})

/** The emulator as a service, for tests and programs that start one in a layer. */
export class EmulatorServer extends Context.Tag("@consumer-jws/emulator/EmulatorServer")<EmulatorServer, Emulator>() {}

/** A layer that starts an emulator and stops it when the layer is released. */
export const layer = (options?: Options): Layer.Layer<EmulatorServer, EmulatorError> =>
  Layer.scoped(EmulatorServer, make(options))
