/**
 * `consumer-jws emulator`: runs the local LivePerson server until SIGINT or SIGTERM. Its flags are the
 * emulator package's own (`EmulatorOptions.flags`), read by its `fromFlags`: one set of options, two bins.
 *
 * @since 0.1.0
 */
import { Emulator, EmulatorOptions } from "@consumer-jws/emulator"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import * as ExitCode from "./ExitCode.js"
import * as Help from "./internal/help.js"

type FlagName = Exclude<keyof typeof EmulatorOptions.flags, "help">

// Help for each flag: what its value is (shown for it in the usage line) and what it does. One the
// emulator adds later shows up as text without a description.
const help: Partial<Record<FlagName, readonly [value: string, description: string]>> = {
  port: ["port", "The port to listen on (default 0: any free port)."],
  account: ["id", "The account ID it serves (default 12345678)."],
  "client-id": ["id", "The Sentinel client_id it accepts (default emulator-client-id)."],
  "client-secret-file": ["file", "A file holding the client secret it accepts (else LP_CLIENT_SECRET, else emulator-client-secret)."],
  "private-key-file": ["file", "Sign tokens with the RSA private key in this PEM file instead of a fresh one."],
  "key-bits": ["bits", "The size of the RSA key made at start (default 2048)."],
  seed: ["integer", "The seed of the fault draws (default 1): the same seed gives the same faults."],
  "expires-in": ["", "Add expires_in to Sentinel's answer."],
  "appjwt-lifetime": ["seconds", "AppJWT lifetime in seconds (default 3600; 0 issues expired ones)."],
  "rate-429": ["probability", "Fault: probability (0..1) of an IDP 429."],
  "retry-after": ["seconds", "Fault: the Retry-After of injected 429s, in seconds."],
  "rate-500": ["probability", "Fault: probability of an IDP 500."],
  "rate-503": ["probability", "Fault: probability of an IDP 503."],
  "rate-reset": ["probability", "Fault: probability of an IDP connection reset."],
  "rate-hang": ["probability", "Fault: probability of an IDP request never answered."],
  "rate-malformed": ["probability", "Fault: probability of a truncated IDP answer."],
  "latency-ms": ["ms", "Fault: latency added to every IDP answer, in milliseconds."],
  "latency-jitter-ms": ["ms", "Fault: random extra IDP latency, up to this many milliseconds."],
  "rate-limit": ["per-second", "Fault: the IDP's limit in requests per second; beyond it, 429 with Retry-After."],
  "csds-503": ["probability", "Fault: probability of a CSDS 503."],
  "sentinel-503": ["probability", "Fault: probability of a Sentinel 503."]
}

const flagNames = Object.keys(EmulatorOptions.flags).filter((name): name is FlagName => name !== "help")

type Parsed = Option.Option<string> | boolean

const optionOf = (name: FlagName): Options.Options<Parsed> => {
  const [value, description] = help[name] ?? ["text", ""]
  return EmulatorOptions.flags[name].type === "boolean"
    ? Options.boolean(name).pipe(Options.withDescription(description))
    : Options.text(name).pipe(Options.withPseudoName(value), Options.withDescription(description), Options.optional)
}

/** The emulator's flags as `@effect/cli` options, keyed by flag name. */
export const options: Readonly<Record<string, Options.Options<Parsed>>> = Object.fromEntries(
  flagNames.map((name) => [name, optionOf(name)])
)

/** The parsed options as the `parseArgs`-shaped values `EmulatorOptions.fromFlags` reads: absent flags left out. */
export const toFlags = (parsed: Readonly<Record<string, Parsed>>): EmulatorOptions.Flags => {
  const flags: Record<string, string | boolean> = {}
  for (const [name, value] of Object.entries(parsed)) {
    if (value === true) flags[name] = true
    else if (typeof value !== "boolean" && Option.isSome(value)) flags[name] = value.value
  }
  return flags
}

/** Starts the emulator, writes its CSDS URL as the first line of stdout, and serves until a signal. */
export const serve = Effect.fn("EmulatorCommand.serve")(function*(flags: EmulatorOptions.Flags) {
  const emulator = yield* Emulator.make(yield* EmulatorOptions.fromFlags(flags))
  yield* Console.log(emulator.url)
  yield* Console.error(
    `Emulator serving account ${emulator.accountId} (client ID ${emulator.clientId}) at ${emulator.url}. ` +
      "Stop it with Ctrl-C."
  )
  // A signal is how this command is meant to end.
  yield* FiberRef.set(ExitCode.whenInterrupted, ExitCode.success)
  return yield* Effect.never
}, Effect.scoped)

/** The `emulator` command. */
export const command = Command.make("emulator", options, (parsed) => serve(toFlags(parsed))).pipe(
  Command.withDescription(Help.describe(
    [
      "Starts a local LivePerson server (CSDS, Sentinel, IDP) on 127.0.0.1 and writes its CSDS URL as the first " +
      "line of stdout. Runs until SIGINT or SIGTERM, then exits 0. Point a client at it with LP_CSDS_URL.",
      "The client secret it accepts comes from --client-secret-file or LP_CLIENT_SECRET, never from a flag value."
    ],
    [
      { does: "an emulator on port 8080", command: "consumer-jws emulator --port 8080" },
      { does: "with faults: 10% 429s and 50 ms latency", command: "consumer-jws emulator --rate-429 0.1 --latency-ms 50" }
    ]
  ))
)
