/**
 * Bulk issuance from a CSV: the input streamed, IDs issued concurrently through one shared gate,
 * results appended as they complete, resumable, losing no row.
 *
 * @since 0.1.0
 */
import {
  ConsumerId,
  type ConsumerJwsClient,
  ConsumerJwsError,
  ConsumerJwsIssuer,
  RequestGate,
  RetryPolicy,
  UndiciHttpClient
} from "@consumer-jws/core"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as NodeFs from "node:fs"
import * as NodePath from "node:path"
import {
  type BatchError,
  InputFormatError,
  InputReadError,
  InvalidOptionError,
  OutputExistsError,
  OutputWriteError
} from "./BatchError.js"
import * as Gate from "./Gate.js"
import { Histogram } from "./internal/histogram.js"
import { IdSet } from "./internal/idSet.js"
import * as InputSource from "./internal/input.js"
import * as Output from "./internal/output.js"
import * as OutputLock from "./internal/outputLock.js"
import * as Progress from "./Progress.js"
import * as Shard from "./Shard.js"
import * as Summary from "./Summary.js"
import * as Threads from "./Threads.js"

/** The options of a run, every one with a default but `input` and `output`. */
export interface Options {
  /** The input file, or `-` for stdin. */
  readonly input: string
  /** The results file: CSV when it ends in `.csv`, else JSON Lines. */
  readonly output: string
  /** `auto`: `.txt` is a list, anything else a CSV (header detected); `csv`: a CSV with a header; `list`: one ID a line. */
  readonly format: InputSource.Format
  /** The CSV column holding the IDs; default `consumer_id`, else `ext_consumer_id`, else the only column. */
  readonly column: string | undefined
  /** IDs issued at once. */
  readonly concurrency: number
  /** A cap on IDP requests started per second (retries included), shared by every fiber; none by default. */
  readonly rate: number | undefined
  /** Carry on from an existing output: issued IDs are skipped, failed ones retried. */
  readonly resume: boolean
  /** Start again over an existing output. */
  readonly overwrite: boolean
  /** How progress is shown on stderr. */
  readonly progress: Progress.Mode
  /** How often a JSON progress line (and `onProgress`) comes when not drawing a bar. */
  readonly progressInterval: Duration.Duration
  /** Called with each progress report. */
  readonly onProgress: ((snapshot: Progress.Snapshot) => void) | undefined
  /** Where to write the summary as JSON. */
  readonly summary: string | undefined
  /** Take only this shard's IDs. */
  readonly shard: Shard.Shard | undefined
  /**
   * Worker threads. 1 (`run`): fibers on this thread. More (`runThreaded`): each ID is issued by thread
   * `hash(id) % threads`, each with its own client; this thread reads, writes and holds the shared gate.
   */
  readonly threads: number
  /** The worker-thread entry file (a bundle passes its own); default the worker package's built one. */
  readonly threadEntry: string | URL | undefined
  /** After a stop request, how long requests in flight may take to finish before they are abandoned. */
  readonly grace: Duration.Duration
  /** When this effect completes, the run stops taking rows, drains, and returns an `interrupted` summary. */
  readonly stop: Effect.Effect<void> | undefined
  /** Called with the summary when the run's fiber is interrupted (no summary can be returned then). */
  readonly onSummary: ((summary: Summary.Summary) => void) | undefined
  /** The longest a buffered record waits before it is written. */
  readonly flushInterval: Duration.Duration
  /** Buffered records are written once they reach this many characters. */
  readonly flushBytes: number
  /** The longest input line (or CSV record), in characters. */
  readonly maxLineLength: number
}

/** The options of a run as a caller gives them: `input` and `output`, and any others. */
export type Input =
  & Pick<Options, "input" | "output">
  & { readonly [K in Exclude<keyof Options, "input" | "output">]?: Options[K] | undefined }

/** The defaults of every option but `input` and `output`. */
export const defaults: Omit<Options, "input" | "output"> = {
  format: "auto",
  column: undefined,
  concurrency: 16,
  rate: undefined,
  resume: false,
  overwrite: false,
  progress: "auto",
  progressInterval: Duration.seconds(5),
  onProgress: undefined,
  summary: undefined,
  shard: undefined,
  threads: 1,
  threadEntry: undefined,
  grace: Duration.seconds(5),
  stop: undefined,
  onSummary: undefined,
  flushInterval: Duration.millis(100),
  flushBytes: 64 * 1024,
  maxLineLength: 1024 * 1024
}

const invalid = (option: string, reason: string) => Effect.fail(new InvalidOptionError({ option, reason }))

const isDirectory = (path: string): boolean => {
  try {
    return NodeFs.statSync(path).isDirectory()
  } catch {
    return false
  }
}

// Whether two paths name one file: the same path once resolved, or (both existing) the same file,
// so that `./in.csv`, a symbolic link or a hard link to the input count as the input.
const sameFile = (a: string, b: string): boolean => {
  if (NodePath.resolve(a) === NodePath.resolve(b)) return true
  try {
    const first = NodeFs.statSync(a)
    const second = NodeFs.statSync(b)
    return first.dev === second.dev && first.ino === second.ino
  } catch {
    return false
  }
}

/** Merges the given options over {@link defaults} and checks them. */
export const resolve = (input: Input): Effect.Effect<Options, InvalidOptionError> => {
  const given = Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined))
  const options = { ...defaults, ...given } as Options
  if (options.input.length === 0) return invalid("input", "it is empty")
  if (options.output.length === 0 || options.output === "-") return invalid("output", "it must name a file (results are resumable)")
  if (isDirectory(options.output)) return invalid("output", "it is a directory; name a file in it")
  // Each would destroy what a run is for: the input truncated or appended to, the tokens overwritten.
  if (options.input !== "-" && sameFile(options.output, options.input)) return invalid("output", "it is the input file")
  if (options.summary !== undefined) {
    if (sameFile(options.summary, options.output)) return invalid("summary", "it is the output file (the summary would replace the tokens)")
    if (options.input !== "-" && sameFile(options.summary, options.input)) return invalid("summary", "it is the input file")
  }
  if (!Number.isInteger(options.concurrency) || options.concurrency < 1 || options.concurrency > 10_000) {
    return invalid("concurrency", `expected a whole number from 1 to 10000, got ${options.concurrency}`)
  }
  if (options.rate !== undefined && !(Number.isFinite(options.rate) && options.rate > 0)) {
    return invalid("rate", `expected a positive number of requests per second, got ${options.rate}`)
  }
  if (options.resume && options.overwrite) return invalid("resume", "it cannot be combined with overwrite")
  if (!Number.isInteger(options.threads) || options.threads < 1 || options.threads > Threads.maxThreads) {
    return invalid("threads", `expected a whole number from 1 to ${Threads.maxThreads}, got ${options.threads}`)
  }
  if (options.shard !== undefined && Either.isLeft(Shard.make(options.shard.index, options.shard.count))) {
    return invalid("shard", `expected 0 <= index < count, got ${options.shard.index}/${options.shard.count}`)
  }
  if (!Number.isInteger(options.flushBytes) || options.flushBytes < 1) return invalid("flushBytes", "expected a positive whole number")
  if (!Number.isInteger(options.maxLineLength) || options.maxLineLength < 1) return invalid("maxLineLength", "expected a positive whole number")
  return Effect.succeed(options)
}

/**
 * The exit code for a finished run: 0 when every row was issued (or skipped as issued before), 1
 * when some failed or were rejected (by this run, or by an earlier one and still invalid), 3 when
 * stopped early, 130 when interrupted.
 */
export const exitCode = (summary: Summary.Summary): 0 | 1 | 3 | 130 =>
  summary.outcome === "interrupted"
    ? 130
    : summary.outcome === "stoppedEarly"
    ? 3
    : Summary.notIssued(summary) > 0
    ? 1
    : 0

/** The exit code for a run that failed: 2 (bad usage, configuration or input). */
export const exitCodeOfError = (_error: BatchError): 2 => 2

/**
 * Completes when the process receives one of `signals` (default SIGINT and SIGTERM); pass it as
 * `stop` for Ctrl-C to end the run with a summary. The handlers are removed when it completes or
 * is interrupted.
 */
export const stopOnSignal = (signals: ReadonlyArray<NodeJS.Signals> = ["SIGINT", "SIGTERM"]): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    const onSignal = () => {
      for (const signal of signals) process.off(signal, onSignal)
      resume(Effect.void)
    }
    for (const signal of signals) process.on(signal, onSignal)
    return Effect.sync(() => {
      for (const signal of signals) process.off(signal, onSignal)
    })
  })

type StopReason =
  | { readonly _tag: "Interrupted" }
  | { readonly _tag: "Fatal"; readonly error: ConsumerJwsError.ConsumerJwsError }
  | { readonly _tag: "InputFailed"; readonly error: InputFormatError | InputReadError }
  | { readonly _tag: "WriteFailed"; readonly error: OutputWriteError }

// The rows' tallies: plain counters, updated between yields on the one JavaScript thread.
class Tally {
  rows = 0
  issued = 0
  failed = 0
  rejected = 0
  duplicates = 0
  alreadyIssued = 0
  alreadyRejected = 0
  otherShards = 0
  attempts = 0
  readonly errors: { [tag: string]: number } = {}
  readonly latency = new Histogram()

  countError(tag: string) {
    this.errors[tag] = (this.errors[tag] ?? 0) + 1
  }
}

const end = Symbol("end")

const outputSize = (path: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const exists = yield* fs.exists(path)
    if (!exists) return 0
    const info = yield* fs.stat(path)
    return Number(info.size)
  }).pipe(Effect.mapError(Output.writeError(path)))

/**
 * Runs a batch: reads the input, issues each new valid ID once through `ConsumerJwsIssuer` (the
 * caller provides the client), appends a record per ID to the output, and returns the summary.
 * Fails before any request on bad options, an existing output, or a header without an ID column;
 * fails after flushing what was issued on a malformed input line.
 */
export const run = Effect.fn("Batch.run")(function*(input: Input) {
  const options = yield* resolve(input)
  if (options.threads !== 1) {
    return yield* invalid("threads", "worker threads need the client settings: use Batch.runThreaded(options, settings)")
  }
  const issuer = yield* ConsumerJwsIssuer.ConsumerJwsIssuer
  return yield* Effect.scoped(execute(options, { _tag: "Fibers", issuer }))
})

/**
 * Runs a batch on `threads` worker threads (1 included: one thread besides this one). Each thread
 * builds its own client from `client` and the `RetryPolicy` in force here, and issues the IDs routed
 * to it (`Threads.threadOf`); this thread reads, validates, deduplicates, writes, reports, and holds
 * the one gate (rate cap, 429 pause) every thread's IDP requests pass. Same options, output, summary
 * and stopping as {@link run}.
 */
export const runThreaded = Effect.fn("Batch.runThreaded")(function*(input: Input, client: ConsumerJwsClient.Settings) {
  const options = yield* resolve(input)
  const retryPolicy = yield* RetryPolicy.RetryPolicy
  return yield* Effect.scoped(execute(options, { _tag: "Threads", client, retryPolicy }))
})

type Issuer = Context.Tag.Service<typeof ConsumerJwsIssuer.ConsumerJwsIssuer>

// Who issues the IDs: fibers of this thread with the caller's issuer, or worker threads.
type Issuing =
  | { readonly _tag: "Fibers"; readonly issuer: Issuer }
  | { readonly _tag: "Threads"; readonly client: ConsumerJwsClient.Settings; readonly retryPolicy: RetryPolicy.Settings }

const execute = (options: Options, issuing: Issuing): Effect.Effect<
  Summary.Summary,
  BatchError,
  FileSystem.FileSystem | import("effect").Scope.Scope
> =>
  Effect.gen(function*() {
    // Read synchronously on every ID (its latency), where a `Clock` step each would show.
    const clock = yield* Effect.clock
    const startedAt = clock.unsafeCurrentTimeMillis()
    const outputFormat = Output.formatOf(options.output)

    // The output first: one run at a time writes it; refuse to clobber, or read what a resume skips.
    yield* OutputLock.acquire(options.output)
    // Lines rejected by an earlier run and valid now (fixed in the input): their old records are
    // dropped once this run's writer has closed (a finalizer added before the writer's runs after
    // it), still under the lock.
    const fixedLines = new Set<number>()
    yield* Effect.addFinalizer(() =>
      fixedLines.size === 0 ? Effect.void : Output.dropRejected(options.output, outputFormat, fixedLines).pipe(Effect.ignoreLogged)
    )
    const size = yield* outputSize(options.output)
    let resumed: Output.Resumed | undefined
    if (size > 0 && !options.overwrite) {
      if (!options.resume) return yield* new OutputExistsError({ path: options.output })
      resumed = yield* Output.resume(options.output, outputFormat)
    }

    // The header next: a missing ID column fails before any request.
    const source = yield* InputSource.open({
      path: options.input,
      format: options.format,
      column: options.column,
      maxLineLength: options.maxLineLength
    })
    yield* Effect.addFinalizer(() => source.close)

    const writer = yield* Output.openWriter({
      path: options.output,
      format: outputFormat,
      truncate: options.overwrite,
      flushBytes: options.flushBytes
    })
    const gate = yield* Gate.make({ rate: options.rate })
    const tally = new Tally()
    // Kept whole through the run (a digest table has no delete): a resumed ID is held here and in
    // `seen`, some 17 bytes an ID twice.
    const issuedBefore = resumed?.issued ?? new IdSet()
    const rejectedBefore = resumed?.rejectedLines ?? new Set<number>()
    // Every ID taken from this input: for a million rows, digests, not strings (see IdSet).
    const seen = new IdSet()

    let stopping = false
    const stopped = yield* Deferred.make<StopReason>()
    const requestStop = (reason: StopReason) =>
      Effect.suspend(() => {
        if (stopping) return Effect.void
        stopping = true
        return Deferred.succeed(stopped, reason)
      })

    // A failed write stops the run (what was written stays, and a resume carries on from it).
    const flushOrStop = writer.flush.pipe(Effect.catchAll((error) => requestStop({ _tag: "WriteFailed", error })))
    const append = (record: Output.Record): Effect.Effect<void> =>
      Effect.suspend(() => writer.unsafeBuffer(Output.encode(record, outputFormat)) ? flushOrStop : Effect.void)

    const reject = (line: number, value: string, error: string, message: string) => {
      if (rejectedBefore.has(line)) {
        tally.alreadyRejected++
        return Effect.void
      }
      tally.rejected++
      tally.countError(error)
      return append({ status: "rejected", line, consumerId: value, error, message })
    }

    const queue = yield* Queue.bounded<string | typeof end>(options.concurrency * 4)

    // IDs are queued in runs while the workers have plenty to do: one wait for room per run rather
    // than per ID (a blocked offer costs more than handing an ID over); one at a time when the queue
    // runs low. Never held while the next read may wait: a slow input (a pipe) is never held back.
    const pending: Array<string> = []
    const enqueue = (value: string) => {
      pending.push(value)
      const queued = Option.getOrElse(queue.unsafeSize(), () => 0)
      if (pending.length < options.concurrency && queued >= options.concurrency && source.buffered() > 0) return Effect.void
      return Queue.offerAll(queue, pending.splice(0))
    }

    // Reads rows, records the rejected ones, and queues each new ID of this shard once.
    const produce = Effect.gen(function*() {
      while (!stopping) {
        const row = yield* source.next
        if (row === undefined) break
        tally.rows++
        const value = row.fields[source.column]
        if (options.shard !== undefined && !Shard.owns(options.shard, value ?? `line ${row.line}`)) {
          tally.otherShards++
          continue
        }
        if (value === undefined) {
          yield* reject(row.line, "", "MissingFieldError", `the row has no field ${source.column + 1}`)
          continue
        }
        const reason = ConsumerId.validate(value)
        if (reason !== undefined) {
          yield* reject(row.line, value, "InvalidInputError", `a consumer ID ${reason}`)
          continue
        }
        if (rejectedBefore.has(row.line)) fixedLines.add(row.line)
        if (!seen.add(value)) {
          tally.duplicates++
          continue
        }
        // The first copy of an ID issued by an earlier run is skipped; later copies are duplicates.
        if (issuedBefore.has(value)) {
          tally.alreadyIssued++
          continue
        }
        yield* enqueue(value)
      }
      yield* Queue.offerAll(queue, [...pending.splice(0), ...Array.from({ length: options.concurrency }, (): typeof end => end)])
    }).pipe(
      Effect.catchAll((error) => requestStop({ _tag: "InputFailed", error }))
    )

    const recordFailed = (consumerId: string, error: ConsumerJwsError.ConsumerJwsError, attempts: number) => {
      if (ConsumerJwsError.isFatalForBatch(error)) {
        // Every row would fail alike: stop, and record nothing so that a resume retries this ID.
        return requestStop({ _tag: "Fatal", error })
      }
      tally.failed++
      tally.countError(error._tag)
      return append({ status: "failed", consumerId, error: error._tag, message: error.message, attempts })
    }

    // Called from a running worker, so the clock is read as the issuance starts.
    const issueOne = (issuer: Issuer, consumerId: string): Effect.Effect<void> => {
      const started = clock.unsafeCurrentTimeNanos()
      return Effect.flatMap(issuer.issueOutcome(consumerId), (outcome) => {
        tally.attempts += outcome.attempts
        if (outcome._tag === "Failed") return recordFailed(consumerId, outcome.error, outcome.attempts)
        tally.issued++
        tally.latency.record(Number(clock.unsafeCurrentTimeNanos() - started) / 1e6)
        return append({
          status: "issued",
          consumerId,
          lpConsumerId: outcome.issued.claims.lp_consumer_id,
          token: outcome.issued.token,
          attempts: outcome.attempts
        })
      })
    }

    // An outcome from a worker thread, recorded as `issueOne` records its own.
    const recordThreaded = (outcome: Threads.Outcome): Effect.Effect<void> => {
      if (outcome._tag === "Skipped") return Effect.void
      tally.attempts += outcome.attempts
      if (outcome._tag === "Failed") return recordFailed(outcome.consumerId, outcome.error, outcome.attempts)
      tally.issued++
      tally.latency.record(outcome.latencyMillis)
      return append({
        status: "issued",
        consumerId: outcome.consumerId,
        lpConsumerId: outcome.lpConsumerId,
        token: outcome.token,
        attempts: outcome.attempts
      })
    }

    const work = (issuer: Issuer) =>
      Effect.gen(function*() {
        while (!stopping) {
          const item = yield* Queue.take(queue)
          if (item === end || stopping) return
          yield* issueOne(issuer, item)
        }
      })

    const issuers = issuing._tag === "Fibers"
      ? issuing
      : {
        _tag: "Threads" as const,
        threads: yield* Threads.make({
          count: options.threads,
          concurrency: options.concurrency,
          client: issuing.client,
          retryPolicy: issuing.retryPolicy,
          gate,
          entry: options.threadEntry
        })
      }

    const workers = (issuers._tag === "Fibers"
      ? Effect.forEach(Array.from({ length: options.concurrency }), () => work(issuers.issuer), {
        concurrency: "unbounded",
        discard: true
      })
      : Threads.dispatch(issuers.threads, {
        take: Effect.map(Queue.take(queue), (item) => item === end ? undefined : item),
        onOutcome: recordThreaded,
        stopping: () => stopping,
        shard: options.shard
      })).pipe(
        Effect.provideService(RequestGate.RequestGate, gate),
        // A batch is traced as a whole (`Batch.run`), not per ID: a span per issuance and per
        // HTTP request would be millions of spans that no one reads, built at a cost on every ID.
        Effect.withTracerEnabled(false),
        // Requests abandoned at a stop run on to their answer or time limit rather than each
        // carrying a canceler: they are unrecorded either way, and a resume issues their IDs again.
        UndiciHttpClient.withoutAbortOnInterrupt
      )

    let total: number | undefined
    const snapshot = (previous: { readonly rows: number; readonly atMillis: number } | undefined) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const stats = yield* gate.stats
        const elapsedMillis = now - startedAt
        const sinceMillis = elapsedMillis - (previous?.atMillis ?? 0)
        const ratePerSecond = sinceMillis > 0 ? (tally.rows - (previous?.rows ?? 0)) * 1000 / sinceMillis : 0
        return {
          rows: tally.rows,
          total,
          issued: tally.issued,
          failed: tally.failed,
          rejected: tally.rejected,
          skipped: tally.duplicates + tally.alreadyIssued + tally.alreadyRejected + tally.otherShards,
          inFlight: stats.inFlight,
          rateLimited: stats.throttled,
          elapsedMillis,
          ratePerSecond,
          etaSeconds: total !== undefined && ratePerSecond > 0 ? Math.max(0, total - tally.rows) / ratePerSecond : undefined
        } satisfies Progress.Snapshot
      })

    const summarize = Effect.gen(function*() {
      const stopReason = yield* Deferred.poll(stopped).pipe(
        Effect.flatMap((option) => option._tag === "Some" ? option.value : Effect.succeed(undefined))
      )
      const now = yield* Clock.currentTimeMillis
      const stats = yield* gate.stats
      const elapsedMillis = now - startedAt
      const finished = tally.issued + tally.failed
      return new Summary.Summary({
        outcome: stopReason?._tag === "Fatal" ? "stoppedEarly" : stopReason?._tag === "Interrupted" ? "interrupted" : "completed",
        ...(stopReason?._tag === "Fatal"
          ? { stoppedEarly: new Summary.StoppedEarly({ error: stopReason.error._tag, message: stopReason.error.message }) }
          : {}),
        input: options.input,
        output: options.output,
        ...(options.shard === undefined ? {} : { shard: Shard.format(options.shard) }),
        resumed: resumed !== undefined,
        counts: new Summary.Counts({
          rows: tally.rows,
          issued: tally.issued,
          failed: tally.failed,
          rejected: tally.rejected,
          duplicates: tally.duplicates,
          alreadyIssued: tally.alreadyIssued,
          alreadyRejected: tally.alreadyRejected,
          otherShards: tally.otherShards
        }),
        errors: { ...tally.errors },
        elapsedMillis,
        throughputPerSecond: elapsedMillis > 0 ? finished * 1000 / elapsedMillis : 0,
        latencyMillis: new Summary.Latency({
          p50: tally.latency.percentile(0.5),
          p95: tally.latency.percentile(0.95),
          p99: tally.latency.percentile(0.99),
          max: tally.latency.max
        }),
        requests: stats.requests,
        retries: Math.max(0, tally.attempts - finished),
        rateLimited: stats.throttled,
        maxInFlight: stats.maxInFlight
      })
    })

    // The pipeline, in its own scope so that progress reporting has finished before the summary.
    const pipeline = Effect.scoped(Effect.gen(function*() {
      // The total is for progress alone: a file is not read twice for no one.
      if (Progress.isReported(options.progress, options.onProgress)) {
        yield* Effect.forkScoped(InputSource.countLines(options.input).pipe(
          Effect.tap((lines) => Effect.sync(() => total = lines === undefined ? undefined : lines - (source.hasHeader ? 1 : 0)))
        ))
      }
      yield* Progress.report({
        mode: options.progress,
        interval: options.progressInterval,
        snapshot,
        onProgress: options.onProgress
      })
      yield* writer.flush.pipe(
        Effect.catchAll((error) => requestStop({ _tag: "WriteFailed", error })),
        Effect.delay(options.flushInterval),
        Effect.forever,
        Effect.forkScoped
      )
      if (options.stop !== undefined) {
        yield* Effect.forkScoped(Effect.zipRight(options.stop, requestStop({ _tag: "Interrupted" })))
      }
      const producer = yield* Effect.forkScoped(produce)
      const workerFiber = yield* Effect.forkScoped(workers)

      // After a stop request: no new rows; requests in flight get the grace period, then are abandoned
      // (unrecorded, so a resume issues them again).
      const drain = Effect.gen(function*() {
        yield* Fiber.interrupt(producer)
        yield* Queue.takeAll(queue)
        yield* Queue.offerAll(queue, Array.from({ length: options.concurrency }, () => end))
        if (issuers._tag === "Threads") yield* issuers.threads.drain
        const exit = yield* Fiber.await(workerFiber).pipe(Effect.timeout(options.grace), Effect.option)
        if (exit._tag === "None") yield* Fiber.interrupt(workerFiber)
      })

      yield* Effect.raceFirst(Fiber.await(workerFiber), Deferred.await(stopped)).pipe(
        Effect.onInterrupt(() =>
          requestStop({ _tag: "Interrupted" }).pipe(
            Effect.zipRight(drain),
            Effect.zipRight(writer.flush.pipe(Effect.ignore)),
            Effect.zipRight(summarize),
            Effect.tap((summary) => options.summary === undefined ? Effect.void : Summary.write(options.summary, summary).pipe(Effect.ignore)),
            Effect.tap((summary) => Effect.sync(() => options.onSummary?.(summary)))
          )
        )
      )
      if (stopping) yield* drain
      const workersExit = yield* Fiber.await(workerFiber)
      if (Exit.isFailure(workersExit) && !Exit.isInterrupted(workersExit)) yield* Effect.failCause(workersExit.cause)
    }))

    yield* pipeline
    yield* writer.flush
    const reason = yield* Deferred.poll(stopped).pipe(
      Effect.flatMap((option) => option._tag === "Some" ? option.value : Effect.succeed(undefined))
    )
    if (reason?._tag === "InputFailed" || reason?._tag === "WriteFailed") return yield* reason.error
    const summary = yield* summarize
    if (options.summary !== undefined) yield* Summary.write(options.summary, summary)
    return summary
  })
