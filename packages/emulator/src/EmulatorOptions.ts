/**
 * Emulator options from command-line flags, shared by the `consumer-jws-emulator` bin and the CLI.
 *
 * @since 0.1.0
 */
import * as Fs from "node:fs/promises"
import type { ParseArgsConfig } from "node:util"
import * as Effect from "effect/Effect"
import { EmulatorError } from "./Emulator.js"
import type { Faults, Options } from "./Emulator.js"

/** The flags, as a `node:util` `parseArgs` options object (names without the leading `--`). */
export const flags = {
  port: { type: "string" },
  account: { type: "string" },
  "client-id": { type: "string" },
  "client-secret-file": { type: "string" },
  "private-key-file": { type: "string" },
  "key-bits": { type: "string" },
  seed: { type: "string" },
  "expires-in": { type: "boolean" },
  "appjwt-lifetime": { type: "string" },
  "rate-429": { type: "string" },
  "retry-after": { type: "string" },
  "rate-500": { type: "string" },
  "rate-503": { type: "string" },
  "rate-reset": { type: "string" },
  "rate-hang": { type: "string" },
  "rate-malformed": { type: "string" },
  "latency-ms": { type: "string" },
  "latency-jitter-ms": { type: "string" },
  "rate-limit": { type: "string" },
  "csds-503": { type: "string" },
  "sentinel-503": { type: "string" },
  help: { type: "boolean", short: "h" }
} as const satisfies NonNullable<ParseArgsConfig["options"]>

/** The environment variable that may hold the client secret (a secret is never a flag value). */
export const clientSecretEnv = "LP_CLIENT_SECRET"

/** Usage text of the bin. */
export const usage = `Usage: consumer-jws-emulator [flags]

Starts a local LivePerson server (CSDS, Sentinel, IDP) on 127.0.0.1 and prints its CSDS URL as the
first line of stdout. Stops on SIGINT or SIGTERM.

  --port N                 port (default 0: any free port)
  --account ID             account ID (default 12345678)
  --client-id ID           Sentinel client_id (default emulator-client-id)
  --client-secret-file F   read the client secret from F (else $${clientSecretEnv}, else emulator-client-secret)
  --private-key-file F     sign with the RSA key in this PEM file
  --key-bits N             size of the key made at start (default 2048)
  --seed N                 seed of the fault draws (default 1)
  --expires-in             add expires_in to Sentinel's answer
  --appjwt-lifetime S      AppJWT lifetime in seconds (default 3600)
Faults (IDP unless noted; rates are probabilities 0..1):
  --rate-429 R  --retry-after S  --rate-500 R  --rate-503 R  --rate-reset R  --rate-hang R
  --rate-malformed R  --latency-ms MS  --latency-jitter-ms MS  --rate-limit N (requests/s)
  --csds-503 R (CSDS)  --sentinel-503 R (Sentinel)
`

/** Parsed flags: `parseArgs` values, or plain strings from another parser. */
export type Flags = Readonly<Record<string, string | boolean | undefined>>

const faultFlags: ReadonlyArray<readonly [string, keyof Faults]> = [
  ["rate-429", "rate429"],
  ["retry-after", "retryAfterSeconds"],
  ["rate-500", "rate500"],
  ["rate-503", "rate503"],
  ["rate-reset", "rateReset"],
  ["rate-hang", "rateHang"],
  ["rate-malformed", "rateMalformed"],
  ["latency-ms", "latencyMs"],
  ["latency-jitter-ms", "latencyJitterMs"],
  ["rate-limit", "rateLimitPerSecond"],
  ["csds-503", "csds503Rate"],
  ["sentinel-503", "sentinel503Rate"],
  ["appjwt-lifetime", "appJwtLifetimeSeconds"]
]

const invalid = (message: string) => new EmulatorError({ reason: "InvalidOptions", message })

const stringFlag = (values: Flags, name: string): string | undefined => {
  const value = values[name]
  return typeof value === "string" ? value : undefined
}

const numberFlag = (values: Flags, name: string): Effect.Effect<number | undefined, EmulatorError> => {
  const text = stringFlag(values, name)
  if (text === undefined) return Effect.succeed(undefined)
  const value = Number(text)
  return text.trim() === "" || !Number.isFinite(value)
    ? Effect.fail(invalid(`--${name} ${JSON.stringify(text)} is not a number`))
    : Effect.succeed(value)
}

const booleanFlag = (values: Flags, name: string): Effect.Effect<boolean | undefined, EmulatorError> => {
  const value = values[name]
  if (value === undefined || typeof value === "boolean") return Effect.succeed(value)
  if (["", "true", "1", "yes"].includes(value)) return Effect.succeed(true)
  if (["false", "0", "no"].includes(value)) return Effect.succeed(false)
  return Effect.fail(invalid(`--${name} ${JSON.stringify(value)} is not true or false`))
}

const readSecretFile = (path: string): Effect.Effect<string, EmulatorError> =>
  Effect.tryPromise({
    try: () => Fs.readFile(path, "utf8"),
    catch: (cause) =>
      invalid(`cannot read the client secret file ${path}: ${cause instanceof Error ? cause.message : String(cause)}`)
  }).pipe(
    // A file written by `echo` ends in a newline that is not part of the secret.
    Effect.map((text) => text.replace(/\r?\n$/, "")),
    Effect.filterOrFail((secret) => secret.length > 0, () => invalid(`the client secret file ${path} is empty`))
  )

/**
 * Builds emulator options from flags. The client secret comes from `--client-secret-file`, else the
 * `LP_CLIENT_SECRET` environment variable, else the default. Validation of values happens in `make`.
 */
export const fromFlags = (
  values: Flags,
  env: Readonly<Record<string, string | undefined>> = process.env
): Effect.Effect<Options, EmulatorError> =>
  Effect.gen(function*() {
    const options: { -readonly [K in keyof Options]: Options[K] } = {}
    const faults: { -readonly [K in keyof Faults]?: Faults[K] } = {}
    const port = yield* numberFlag(values, "port")
    if (port !== undefined) options.port = port
    const account = stringFlag(values, "account")
    if (account !== undefined) options.accountId = account
    const clientId = stringFlag(values, "client-id")
    if (clientId !== undefined) options.clientId = clientId
    const secretFile = stringFlag(values, "client-secret-file")
    const envSecret = env[clientSecretEnv]
    if (secretFile !== undefined) options.clientSecret = yield* readSecretFile(secretFile)
    else if (envSecret !== undefined && envSecret.length > 0) options.clientSecret = envSecret
    const keyFile = stringFlag(values, "private-key-file")
    if (keyFile !== undefined) options.privateKeyFile = keyFile
    const keyBits = yield* numberFlag(values, "key-bits")
    if (keyBits !== undefined) options.keyBits = keyBits
    const seed = yield* numberFlag(values, "seed")
    if (seed !== undefined) options.seed = seed
    const expiresIn = yield* booleanFlag(values, "expires-in")
    if (expiresIn !== undefined) options.includeExpiresIn = expiresIn
    for (const [flag, field] of faultFlags) {
      const value = yield* numberFlag(values, flag)
      if (value !== undefined) faults[field] = value
    }
    if (Object.keys(faults).length > 0) options.faults = faults
    return options as Options
  })
