/**
 * `consumer-jws batch <input> --output <file>`: bulk issuance from a CSV with the worker's `Batch.run`,
 * a summary at the end, and an exit code from how the run ended.
 *
 * @since 0.1.0
 */
import { ConsumerJwsClient, type ConsumerJwsIssuer } from "@consumer-jws/core"
import { Batch, type BatchError, Shard, Summary } from "@consumer-jws/worker"
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import type * as FileSystem from "@effect/platform/FileSystem"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Fs from "node:fs"
import { fileURLToPath } from "node:url"
import * as CliConfig from "./CliConfig.js"
import { NotAllIssuedError, StoppedEarlyError } from "./CliError.js"
import * as Help from "./internal/help.js"
import * as Numeric from "./internal/numeric.js"
import * as Shell from "./internal/shell.js"

/** The batch's own flags (the connection flags come from `CliConfig.options`). */
export const options = {
  output: Options.text("output").pipe(
    Options.withAlias("o"),
    Options.withDescription("The results file: CSV when it ends in .csv, else JSON Lines. Tokens are written here.")
  ),
  format: Options.choice("format", ["auto", "csv", "list"]).pipe(
    Options.withDescription("auto: .txt is one ID a line, anything else a CSV with a header; csv; list."),
    Options.withDefault("auto" as const)
  ),
  column: Options.text("column").pipe(
    Options.withDescription("The CSV column of the IDs (default consumer_id, else ext_consumer_id, else the only one)."),
    Options.optional
  ),
  concurrency: Numeric.integer("concurrency").pipe(
    Options.withDescription(`IDs issued at once (default ${Batch.defaults.concurrency}).`),
    Options.withDefault(Batch.defaults.concurrency)
  ),
  rate: Numeric.number("rate").pipe(
    Options.withDescription("A cap on IDP requests per second, retries included (default: none; 429s slow it down anyway)."),
    Options.optional
  ),
  resume: Options.boolean("resume").pipe(
    Options.withDescription("Carry on from an existing output: issued IDs are skipped, failed ones retried.")
  ),
  overwrite: Options.boolean("overwrite").pipe(
    Options.withDescription("Start again over an existing output (its tokens are lost).")
  ),
  progress: Options.choice("progress", ["auto", "bar", "json", "none"]).pipe(
    Options.withDescription("Progress on stderr: auto is a bar on a terminal, JSON lines otherwise."),
    Options.withDefault("auto" as const)
  ),
  summary: Options.text("summary").pipe(
    Options.withDescription("Also write the summary as JSON to this file."),
    Options.optional
  ),
  threads: Numeric.integer("threads").pipe(
    Options.withDescription(
      "Worker threads issuing IDs (each ID to thread hash(ID) mod N), sharing one rate limit and 429 pause. " +
        "1: fibers on the main thread. See the worker README for when more helps."
    ),
    Options.withDefault(Batch.defaults.threads)
  ),
  shard: Options.text("shard").pipe(
    Options.withDescription(
      "Take only shard i of n (0-based), e.g. 3/8; else from JOB_COMPLETION_INDEX/SHARD_COUNT or AWS_BATCH_JOB_ARRAY_*."
    ),
    Options.optional
  )
}

/** The parsed flags of `batch`. */
export interface Flags {
  readonly input: string
  readonly connection: CliConfig.Flags
  readonly output: string
  readonly format: "auto" | "csv" | "list"
  readonly column: Option.Option<string>
  readonly concurrency: number
  readonly rate: Option.Option<number>
  readonly resume: boolean
  readonly overwrite: boolean
  readonly progress: "auto" | "bar" | "json" | "none"
  readonly summary: Option.Option<string>
  readonly threads: number
  readonly shard: Option.Option<string>
}

const optionWords = (name: string, value: Option.Option<string | number>) =>
  Option.match(value, { onNone: () => [], onSome: (v) => [name, String(v)] })

/** The command that carries a run on from where it stopped: the same flags, with `--resume`. */
export const resumeCommand = (flags: Flags): string =>
  Shell.commandLine([
    "consumer-jws",
    "batch",
    "--output",
    flags.output,
    ...(flags.format === "auto" ? [] : ["--format", flags.format]),
    ...optionWords("--column", flags.column),
    ...(flags.concurrency === Batch.defaults.concurrency ? [] : ["--concurrency", String(flags.concurrency)]),
    ...(flags.threads === Batch.defaults.threads ? [] : ["--threads", String(flags.threads)]),
    ...optionWords("--rate", flags.rate),
    ...optionWords("--summary", flags.summary),
    ...optionWords("--shard", flags.shard),
    ...optionWords("--account", flags.connection.account),
    ...optionWords("--client-id", flags.connection.clientId),
    ...optionWords("--client-secret-file", flags.connection.clientSecretFile),
    ...optionWords("--csds-url", flags.connection.csdsUrl),
    ...(flags.connection.emulator ? ["--emulator"] : []),
    "--resume",
    // The input last, as the usage shows it; `-` (stdin) there needs no moving (Cli.stdinLast).
    flags.input
  ])

/** The shard from `--shard i/n`, else from an array job's environment, else none. */
export const shardOf = (flag: Option.Option<string>): Effect.Effect<Shard.Shard | undefined, BatchError.InvalidOptionError> =>
  Option.match(flag, {
    onSome: (text) => Shard.parse(text),
    onNone: () =>
      Shard.config().pipe(
        Effect.map(Option.getOrUndefined),
        Effect.orElseSucceed(() => undefined)
      )
  })

/**
 * The worker-thread entry bundled next to the CLI (`dist/thread-worker.mjs`, built with the CLI's
 * bundle), when it is there; else the worker package finds its own.
 */
export const threadEntry = (): URL | undefined => {
  const url = new URL("./thread-worker.mjs", import.meta.url)
  return Fs.existsSync(fileURLToPath(url)) ? url : undefined
}

/**
 * Runs a batch with the client in context (with `threads` > 1, on worker threads built from
 * `client`), prints its summary on stderr, and fails when not every row was issued:
 * `NotAllIssuedError` (exit 1) or `StoppedEarlyError` (exit 3). Interrupted, it prints the summary
 * and the command that resumes.
 */
export const execute = Effect.fn("BatchCommand.execute")(function*(
  input: Batch.Input,
  resume: string,
  client?: ConsumerJwsClient.Settings
) {
  let interrupted: Summary.Summary | undefined
  const options: Batch.Input = { ...input, onSummary: (summary) => void (interrupted = summary) }
  const run = client !== undefined && (input.threads ?? Batch.defaults.threads) !== 1
    ? Batch.runThreaded(options, client)
    : Batch.run(options)
  const summary = yield* run.pipe(
    Effect.onInterrupt(() =>
      Effect.suspend(() =>
        Console.error(
          [...(interrupted === undefined ? [] : [Summary.render(interrupted)]), `Interrupted. Carry on with: ${resume}`]
            .join("\n")
        )
      )
    )
  )
  // Why it stopped early is the last line, StoppedEarlyError's: not said twice.
  yield* Console.error(Summary.render(summary, { reason: false }))
  switch (summary.outcome) {
    case "interrupted":
      yield* Console.error(`Interrupted. Carry on with: ${resume}`)
      return yield* Effect.interrupt
    case "stoppedEarly":
      return yield* new StoppedEarlyError({
        error: summary.stoppedEarly?.error ?? "Error",
        reason: summary.stoppedEarly?.message ?? "every row would fail alike.",
        resumeCommand: resume
      })
    case "completed": {
      const notIssued = Summary.notIssued(summary)
      if (notIssued > 0) {
        return yield* new NotAllIssuedError({
          notIssued,
          total: summary.counts.rows,
          hint: summary.counts.failed > 0
            ? `The failed ones are recorded in ${summary.output}; retry them with: ${resume}`
            : `The rejected ones are recorded in ${summary.output}; fix them in the input.`
        })
      }
    }
  }
}) satisfies (
  input: Batch.Input,
  resume: string,
  client?: ConsumerJwsClient.Settings
) => Effect.Effect<void, unknown, ConsumerJwsIssuer.ConsumerJwsIssuer | FileSystem.FileSystem>

/** The `batch` command. */
export const command = Command.make(
  "batch",
  {
    input: Args.text({ name: "input" }).pipe(
      Args.withDescription("The CSV (or .txt list) of consumer IDs, or - for stdin.")
    ),
    connection: CliConfig.options,
    ...options
  },
  (flags) =>
    Effect.gen(function*() {
      const shard = yield* shardOf(flags.shard)
      const settings = yield* CliConfig.settings(flags.connection)
      yield* execute({
        input: flags.input,
        output: flags.output,
        format: flags.format,
        column: Option.getOrUndefined(flags.column),
        concurrency: flags.concurrency,
        rate: Option.getOrUndefined(flags.rate),
        resume: flags.resume,
        overwrite: flags.overwrite,
        progress: flags.progress,
        summary: Option.getOrUndefined(flags.summary),
        shard,
        threads: flags.threads,
        threadEntry: threadEntry()
      }, resumeCommand(flags), settings).pipe(
        Effect.provide(ConsumerJwsClient.layer(settings)),
        Effect.provide(CliConfig.retryPolicyLayer)
      )
    }).pipe(Effect.scoped)
).pipe(
  Command.withDescription(Help.describe(
    [
      "Issues a ConsumerJWS for every ID of a CSV, concurrently and within LivePerson's rate limits, appending " +
      "one record per ID to the output (issued, failed or rejected) as it goes. Duplicates are issued once. " +
      "Stopped by Ctrl-C, it keeps what it issued and prints the command that resumes.",
      "Exit code: 0 all issued; 1 some rows failed or were rejected; 2 bad configuration, input or options, " +
      "or the output exists; 3 credentials rejected or domain unresolvable (stopped early); 130 interrupted."
    ],
    [
      { does: "issue a CSV's IDs", command: "consumer-jws batch consumers.csv --output tokens.jsonl" },
      {
        does: "carry on after a stop, retrying the failed ones",
        command: "consumer-jws batch consumers.csv --output tokens.jsonl --resume"
      },
      {
        does: "one of 4 processes, capped at 50 requests/s, with a JSON summary",
        command: "consumer-jws batch ids.csv -o part-1.csv --shard 1/4 --rate 50 --summary summary-1.json"
      },
      { does: "IDs from another program, one a line, each issued as it arrives", command: "list-ids | consumer-jws batch - --format list -o tokens.jsonl" },
      { does: "try it against a local emulator", command: "consumer-jws batch examples/consumers.csv -o /tmp/out.jsonl --emulator" }
    ]
  ))
)
