/**
 * Issuing a batch's IDs from worker threads: each thread builds its own client from the settings it
 * is sent at start and issues the IDs routed to it by a stable hash; the main thread keeps reading,
 * the single writer, the summary, and the one gate every IDP request of every thread passes.
 *
 * @since 0.1.0
 */
import type { ConsumerJwsClient, RequestGate, RetryPolicy } from "@consumer-jws/core"
import * as Worker from "@effect/platform/Worker"
// The module alone: the package's index re-exports all of undici.
import * as NodeWorker from "@effect/platform-node/NodeWorker"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import { fileURLToPath } from "node:url"
import * as WorkerThreads from "node:worker_threads"
import { InvalidOptionError, WorkerThreadError } from "./BatchError.js"
import * as Gate from "./Gate.js"
import * as Protocol from "./internal/threadProtocol.js"
import * as Shard from "./Shard.js"

/** How one ID sent to a thread ended: `Issued`, `Failed` (core's typed error) or `Skipped` (the run was stopping). */
export type Outcome = Protocol.Outcome

/** The most worker threads a batch may use. */
export const maxThreads = 64

/** IDs sent to a thread in one message (and outcomes sent back in one), to amortise `postMessage`. */
export const batchSize = 64

/**
 * The thread that issues an ID: the ID's FNV-1a hash (`Shard.hash`) mod `count`, so an ID always goes
 * to the same thread. In a shard, the shard's part of the hash is divided out first: the IDs of shard
 * `i/n` all have `hash % n === i`, which would otherwise leave some threads idle when `n` and `count`
 * share a factor.
 */
export const threadOf = (consumerId: string, count: number, shard?: Shard.Shard | undefined): number =>
  (shard === undefined ? Shard.hash(consumerId) : Math.floor(Shard.hash(consumerId) / shard.count)) % count

/**
 * Where the worker-thread entry may be, in order: `internal/threadWorker.js` next to this module (the
 * built package), then the built file seen from the sources (tests running `src`).
 */
export const entryCandidates: ReadonlyArray<URL> = [
  new URL("./internal/threadWorker.js", import.meta.url),
  new URL("../dist/internal/threadWorker.js", import.meta.url)
]

/**
 * The worker-thread entry: `entry` when given (a bundle ships its own, e.g. the CLI's
 * `thread-worker.mjs`), else the first of {@link entryCandidates} that exists.
 */
export const resolveEntry = (entry?: string | URL | undefined): Effect.Effect<URL, InvalidOptionError> =>
  Effect.suspend(() => {
    const candidates = entry === undefined
      ? entryCandidates
      : [typeof entry === "string" ? new URL(entry, `file://${process.cwd()}/`) : entry]
    const found = candidates.find((url) => url.protocol === "file:" && Fs.existsSync(fileURLToPath(url)))
    return found === undefined
      ? Effect.fail(
        new InvalidOptionError({
          option: "threadEntry",
          reason: `no worker-thread entry at ${candidates.map((url) => url.href).join(" or ")}; build the worker package`
        })
      )
      : Effect.succeed(found)
  })

/** How to start the threads of a batch. */
export interface Options {
  /** How many threads. */
  readonly count: number
  /** IDs in flight across all threads; each thread issues `ceil(concurrency / count)` at once. */
  readonly concurrency: number
  /** The client each thread builds (the secret crosses once, in the initial message). */
  readonly client: ConsumerJwsClient.Settings
  /** The retry policy of every thread. */
  readonly retryPolicy: RetryPolicy.Settings
  /** The gate every IDP request of every thread passes, on this thread. */
  readonly gate: RequestGate.Gate
  /** The worker-thread entry; see {@link resolveEntry}. */
  readonly entry?: string | URL | undefined
}

/** Running threads. */
export interface Threads {
  readonly count: number
  /** IDs each thread issues at once. */
  readonly concurrency: number
  /** Issues IDs on one thread; their outcomes stream back as they finish. */
  readonly issue: (thread: number, ids: ReadonlyArray<string>) => Stream.Stream<Outcome, WorkerThreadError>
  /** Tells every thread to finish what is in flight and skip the IDs it has not started. */
  readonly drain: Effect.Effect<void>
  /** Fails when a thread dies (an uncaught error, an exit) before the threads are stopped. */
  readonly crashed: Effect.Effect<never, WorkerThreadError>
}

const decodeGateRequest = Schema.decodeUnknownSync(Protocol.GateRequest)
const encodeGateReply = Schema.encodeSync(Protocol.GateReply)

// This thread's end of a thread's gate channel: each `Enter` waits for the shared gate, then `Go`.
const serveGate = (port: WorkerThreads.MessagePort, gate: RequestGate.Gate) =>
  Effect.gen(function*() {
    const run = yield* FiberSet.makeRuntime<never, void, never>()
    port.on("message", (message: unknown) => {
      const request = decodeGateRequest(message)
      if (request._tag === "Enter") {
        run(Effect.zipRight(gate.enter, Effect.sync(() => port.postMessage(encodeGateReply({ _tag: "Go", id: request.id })))))
      } else {
        run(gate.leave(request.outcome))
      }
    })
    yield* Effect.addFinalizer(() => Effect.sync(() => port.close()))
  })

const threadError = (thread: number) => (error: { readonly message: string }) =>
  new WorkerThreadError({ thread, reason: error.message })

/**
 * Starts `count` worker threads, each with its own client, and waits until every one is ready.
 * Closing the scope stops them.
 */
export const make = (options: Options): Effect.Effect<Threads, WorkerThreadError | InvalidOptionError, Scope.Scope> =>
  Effect.gen(function*() {
    const entry = yield* resolveEntry(options.entry)
    const concurrency = Math.max(1, Math.ceil(options.concurrency / options.count))
    // `@effect/platform` respawns a thread that died and retries forever; a batch fails instead.
    const crashed = yield* Deferred.make<never, WorkerThreadError>()
    let stopping = false
    const spawn = (thread: number) => {
      const worker = new WorkerThreads.Worker(entry, { name: `consumer-jws-thread-${thread}` })
      const fail = (reason: string) => Deferred.unsafeDone(crashed, Exit.fail(new WorkerThreadError({ thread, reason })))
      worker.on("error", (cause) => fail(cause.message))
      worker.on("exit", (code) => stopping ? undefined : fail(`it exited with code ${code}`))
      return worker
    }
    const platform = yield* Layer.build(NodeWorker.layer(spawn))
    const pause: Protocol.SharedPause = {
      buffer: new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT),
      epochMillis: Date.now(),
      defaultRetryAfterMillis: Gate.defaults.defaultRetryAfterMillis
    }
    const started = Effect.forEach(
      Array.from({ length: options.count }, (_, thread) => thread),
      (thread) =>
        Effect.gen(function*() {
          const channel = new WorkerThreads.MessageChannel()
          yield* serveGate(channel.port1, options.gate)
          const { client, retryPolicy } = options
          return yield* Worker.makeSerialized<Protocol.ThreadRequest>({
            initialMessage: () =>
              new Protocol.InitialMessage({
                thread,
                accountId: client.accountId,
                clientId: client.clientId,
                clientSecret: client.clientSecret,
                csdsUrl: client.csdsUrl,
                domainTtl: client.domainTtl,
                renewBefore: client.renewBefore,
                retryPolicy,
                concurrency,
                gate: channel.port2 as unknown as Protocol.InitialMessage["gate"],
                pause
              })
          }).pipe(
            Effect.mapError(threadError(thread)),
            // The platform logs a warning each second it respawns a dead thread; the batch reports
            // the death as a `WorkerThreadError` instead.
            Logger.withMinimumLogLevel(LogLevel.Error)
          )
        }).pipe(Effect.provide(platform)),
      { concurrency: "unbounded" }
    )
    const workers = yield* Effect.raceFirst(started, Deferred.await(crashed))
    // Runs first when the scope closes (finalizers run last-in first-out): threads exit from now on.
    yield* Effect.addFinalizer(() => Effect.sync(() => void (stopping = true)))
    return {
      count: options.count,
      concurrency,
      issue: (thread, ids) => {
        const worker = workers[thread]
        return worker === undefined
          ? Stream.die(new RangeError(`no thread ${thread} of ${options.count}`))
          : worker.execute(new Protocol.IssueBatch({ ids })).pipe(Stream.mapError(threadError(thread)))
      },
      drain: Effect.forEach(workers, (worker) => Effect.ignore(worker.executeEffect(new Protocol.Drain())), {
        concurrency: "unbounded",
        discard: true
      }),
      crashed: Deferred.await(crashed)
    } satisfies Threads
  })

const end = Symbol("end")

/** What {@link dispatch} reads from and reports to. */
export interface DispatchOptions {
  /** The next ID to issue; `undefined` when there are no more. */
  readonly take: Effect.Effect<string | undefined>
  /** Called with each outcome, on this thread, as it comes back. */
  readonly onOutcome: (outcome: Outcome) => Effect.Effect<void>
  /** Whether the run is stopping: no more IDs are sent then. */
  readonly stopping: () => boolean
  /** The run's shard, for {@link threadOf}. */
  readonly shard: Shard.Shard | undefined
}

/**
 * Sends every ID `take` gives to its thread ({@link threadOf}), in messages of up to
 * {@link batchSize}, keeping at most `concurrency + batchSize` IDs outstanding per thread, and hands
 * each outcome to `onOutcome`. Completes when every ID sent has an outcome; fails when a thread does.
 */
export const dispatch = (threads: Threads, options: DispatchOptions): Effect.Effect<void, WorkerThreadError> =>
  Effect.scoped(Effect.gen(function*() {
    const window = threads.concurrency + batchSize
    const queues = yield* Effect.forEach(
      Array.from({ length: threads.count }),
      () => Queue.bounded<string | typeof end>(window)
    )
    const batches = yield* FiberSet.make<void, never>()
    const failure = yield* Deferred.make<never, WorkerThreadError>()

    const route = Effect.gen(function*() {
      while (!options.stopping()) {
        const id = yield* options.take
        if (id === undefined) break
        yield* Queue.offer(queues[threadOf(id, threads.count, options.shard)]!, id)
      }
      for (const queue of queues) {
        if (options.stopping()) yield* Queue.takeAll(queue)
        yield* Queue.offer(queue, end)
      }
    })

    // One sender a thread. Once the run is stopping it still empties its queue (so `route` never
    // blocks on it) but sends nothing more.
    const send = (thread: number) =>
      Effect.gen(function*() {
        const queue = queues[thread]!
        const outstanding = yield* Effect.makeSemaphore(window)
        let ended = false
        while (!ended) {
          const items = yield* Queue.takeBetween(queue, 1, batchSize)
          const ids: Array<string> = []
          for (const item of items) {
            if (item === end) ended = true
            else ids.push(item)
          }
          if (ids.length === 0 || options.stopping()) continue
          yield* outstanding.take(ids.length)
          if (options.stopping()) {
            yield* outstanding.release(ids.length)
            continue
          }
          yield* FiberSet.run(
            batches,
            threads.issue(thread, ids).pipe(
              Stream.runForEach((outcome) => Effect.zipRight(options.onOutcome(outcome), outstanding.release(1))),
              Effect.catchAll((error) => Deferred.fail(failure, error))
            )
          )
        }
      })

    const work = Effect.all(
      [route, ...Array.from({ length: threads.count }, (_, thread) => send(thread))],
      { concurrency: "unbounded", discard: true }
    ).pipe(Effect.zipRight(FiberSet.awaitEmpty(batches)))
    // The first to end wins: every outcome in, a stream that failed, or a thread that died.
    yield* Effect.raceFirst(work, Effect.raceFirst(Deferred.await(failure), threads.crashed))
    const failed = yield* Deferred.poll(failure)
    if (Option.isSome(failed)) yield* failed.value
  }))
