/**
 * The `consumer-jws` command tree, and running it to an exit code: every failure becomes one line on
 * stderr with its tag, and a code from `ExitCode`.
 *
 * @since 0.1.0
 */
import * as EffectCliConfig from "@effect/cli/CliConfig"
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as ValidationError from "@effect/cli/ValidationError"
import type * as CliApp from "@effect/cli/CliApp"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import { createRequire } from "node:module"
import { stripVTControlCharacters } from "node:util"
import * as BatchCommand from "./BatchCommand.js"
import * as DecodeCommand from "./DecodeCommand.js"
import * as DemoCommand from "./DemoCommand.js"
import * as DomainsCommand from "./DomainsCommand.js"
import * as EmulatorCommand from "./EmulatorCommand.js"
import * as ExitCode from "./ExitCode.js"
import * as IssueCommand from "./IssueCommand.js"
import * as Help from "./internal/help.js"

/** The package's version, shown by `--version`. */
export const version: string = (createRequire(import.meta.url)("../package.json") as { readonly version: string }).version

const subcommands = [
  IssueCommand.command,
  BatchCommand.command,
  EmulatorCommand.command,
  DecodeCommand.command,
  DomainsCommand.command,
  DemoCommand.command
] as const

const description = Help.describe(
  [
    "Issues LivePerson ConsumerJWS tokens: one at a time (issue), in bulk from a CSV (batch), or against a " +
    "local emulator (emulator, demo). Settings come from LP_ACCOUNT_ID, LP_CLIENT_ID, LP_CLIENT_SECRET and " +
    "LP_CSDS_URL, or the flags --account, --client-id, --client-secret-file and --csds-url.",
    "Exit codes: 0 all issued; 1 some IDs or rows failed or were rejected; 2 bad usage or configuration; " +
    "3 credentials rejected or domains unresolvable (stopped early); 130 interrupted (a batch can be resumed)."
  ],
  [
    { does: "issue one token", command: "consumer-jws issue alice" },
    { does: "see it work end to end, against an in-process emulator", command: "consumer-jws demo" },
    { does: "help on one command", command: "consumer-jws batch --help" }
  ]
)

// Run without a command, the tool shows its help, as a usage error.
const helpOnStderr: Effect.Effect<void, ValidationError.ValidationError> = Effect.suspend(() =>
  Console.error(HelpDoc.toAnsiText(Command.getHelp(command, EffectCliConfig.defaultConfig)))
).pipe(Effect.zipRight(Effect.fail(ValidationError.missingValue(HelpDoc.p("No command given.")))))

/** The command tree. */
export const command = Command.make("consumer-jws", {}, () => helpOnStderr).pipe(
  Command.withDescription(description),
  Command.withSubcommands(subcommands),
  // Where `--log-level` is in force: the full cause of a failure, for `--log-level debug` only.
  Command.transformHandler((effect) =>
    Effect.tapErrorCause(effect, (cause) =>
      Cause.isInterruptedOnly(cause) ? Effect.void : Effect.logDebug("The command failed", cause)
    )
  )
)

const cli = Command.run(command, { name: "consumer-jws", version })

/** An error as the one line a person reads: its tag and message, without a stack. */
export const formatError = (error: { readonly _tag: string; readonly message: string }): string =>
  `${error._tag}: ${error.message.replace(/\s*\n\s*/g, " ")}`

const hasTag = (error: unknown): error is { readonly _tag: string; readonly message: string } =>
  typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string" &&
  "message" in error && typeof error.message === "string"

/** The exit code of an error that ended a command. */
export const exitCodeOf = (error: { readonly _tag: string }): ExitCode.ExitCode => {
  switch (error._tag) {
    case "MissingConfigurationError":
    case "InvalidConfigurationError":
    // The worker's errors: input, output and options a person must fix.
    case "OutputExistsError":
    case "InputReadError":
    case "InputFormatError":
    case "MissingColumnError":
    case "OutputFormatError":
    case "OutputWriteError":
    case "OutputLockedError":
    case "InvalidOptionError":
    case "WorkerThreadError":
      return ExitCode.usage
    case "EmulatorError":
      return "reason" in error && error.reason === "InvalidOptions" ? ExitCode.usage : ExitCode.someFailed
    // Every row would fail alike: the run stopped early.
    case "StoppedEarlyError":
    case "AuthenticationError":
    case "DomainLookupError":
    case "BadDomainError":
      return ExitCode.stoppedEarly
    default:
      return ExitCode.someFailed
  }
}

/**
 * The exit code of a finished command line, having written its failure, if any, as one line on
 * stderr. An interrupted command exits with `ExitCode.whenInterrupted`, as the command left it.
 */
export const exitCode = (exit: Exit.Exit<void, unknown>): Effect.Effect<ExitCode.ExitCode> =>
  Exit.isSuccess(exit) ? Effect.succeed(ExitCode.success) : report(exit.cause)

const report = (cause: Cause.Cause<unknown>): Effect.Effect<ExitCode.ExitCode> => {
  if (Cause.isInterruptedOnly(cause)) return FiberRef.get(ExitCode.whenInterrupted)
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const error = failure.value
    // @effect/cli has already printed what was wrong with the command line.
    if (ValidationError.isValidationError(error)) return Effect.succeed(ExitCode.usage)
    if (hasTag(error)) return Console.error(formatError(error)).pipe(Effect.as(exitCodeOf(error)))
  }
  // A defect is a bug: one line here; the trace is logged with --log-level debug.
  const squashed = Cause.squash(cause)
  const message = squashed instanceof Error ? squashed.message : String(squashed)
  return Console.error(formatError({ _tag: "Defect", message: `${message} (run with --log-level debug for the trace)` })).pipe(
    Effect.as(ExitCode.someFailed)
  )
}

/** Whether a stream may hold colour codes: a terminal, and `NO_COLOR` unset (https://no-color.org). */
const colours = (stream: { readonly isTTY?: boolean }): boolean =>
  stream.isTTY === true && (process.env.NO_COLOR ?? "") === ""

/**
 * The console with colour codes taken out of what goes to a stream that is not a terminal:
 * `@effect/cli` always styles its help, which piped into a file or a pager would show as `^[[0;1m`.
 */
const plainWhereNotTerminal = (console: Console.Console): Console.Console => {
  const toStdout = colours(process.stdout) ? (text: unknown) => text : plainText
  const toStderr = colours(process.stderr) ? (text: unknown) => text : plainText
  return {
    ...console,
    log: (...args) => console.log(...args.map(toStdout)),
    error: (...args) => console.error(...args.map(toStderr)),
    unsafe: {
      ...console.unsafe,
      log: (...args) => console.unsafe.log(...args.map(toStdout)),
      error: (...args) => console.unsafe.error(...args.map(toStderr))
    }
  }
}

const plainText = (text: unknown): unknown => typeof text === "string" ? stripVTControlCharacters(text) : text

// The flags of `batch` that take no value: a `-` after one of them is the input, not its value.
const batchSwitches = new Set(["--resume", "--overwrite", "--emulator"])

/**
 * `batch - --output FILE` as `batch --output FILE -`: @effect/cli takes a lone `-` among options for
 * an unknown flag, and every option after it fails to parse; as the last word it is the input
 * (stdin). A `-` that is an option's value (`--column -`) stays where it is.
 */
export const stdinLast = (argv: ReadonlyArray<string>): ReadonlyArray<string> => {
  const at = argv.indexOf("batch", 2)
  if (at === -1) return argv
  const stdin = argv.findIndex((word, i) => {
    if (i <= at || word !== "-") return false
    const before = argv[i - 1]!
    return i === at + 1 || !before.startsWith("-") || before.includes("=") || batchSwitches.has(before)
  })
  return stdin === -1 || stdin === argv.length - 1 ? argv : [...argv.slice(0, stdin), ...argv.slice(stdin + 1), "-"]
}

/** Runs a command line (`process.argv`: the runtime and script first). See {@link exitCode} for its code. */
export const run = (
  argv: ReadonlyArray<string>
): Effect.Effect<void, unknown, CliApp.CliApp.Environment | HttpClient.HttpClient> =>
  Console.consoleWith((console) => Console.withConsole(cli(stdinLast(argv)), plainWhereNotTerminal(console)))

/**
 * Runs a command line to its exit code, and hands the code to `onExitCode` even when a signal
 * interrupts the command: the command is interrupted and its finalizers run, but the code is still
 * computed and handed over, in an uninterruptible region.
 */
export const runToExitCode = (
  argv: ReadonlyArray<string>,
  onExitCode: (code: ExitCode.ExitCode) => void
): Effect.Effect<void, never, CliApp.CliApp.Environment | HttpClient.HttpClient> =>
  Effect.uninterruptibleMask((restore) =>
    restore(run(argv)).pipe(
      Effect.exit,
      Effect.flatMap(exitCode),
      Effect.flatMap((code) => Effect.sync(() => onExitCode(code)))
    )
  )
