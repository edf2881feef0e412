/**
 * The entry of a batch's worker thread (`Threads`): builds its own client from the settings of the
 * initial message, issues the IDs the main thread sends it, and passes every IDP request through the
 * main thread's gate, so that the rate limit and the pause after a 429 are shared by all threads.
 *
 * @internal
 */
import { ConsumerJwsClient, ConsumerJwsIssuer, RequestGate, RetryPolicy, UndiciHttpClient } from "@consumer-jws/core"
import * as WorkerRunner from "@effect/platform/WorkerRunner"
// Subpaths, not the index: a thread starts faster without the modules it never uses.
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeWorkerRunner from "@effect/platform-node/NodeWorkerRunner"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import type { MessagePort } from "node:worker_threads"
import * as Protocol from "./threadProtocol.js"

// Outcomes go back several to a message: whatever finished since the last message, at most this many.
// (No timer: `groupedWithin` wakes every stream on every tick, which cost more CPU than the requests.)
const outcomeBatch = 64

interface Job {
  readonly consumerId: string
  readonly finished: Queue.Queue<Protocol.Outcome>
}

/** What the handlers of a thread share once it has its settings. */
class ThreadState extends Context.Tag("@consumer-jws/worker/ThreadState")<ThreadState, {
  /** IDs waiting for one of the thread's `concurrency` issuing fibers. */
  readonly jobs: Queue.Queue<Job>
  /** Set by `Drain`: IDs not started are skipped. */
  readonly draining: { value: boolean }
}>() {}

const encodeGateRequest = Schema.encodeSync(Protocol.GateRequest)
const decodeGateReply = Schema.decodeUnknownSync(Protocol.GateReply)

/**
 * The gate of this thread: each IDP request waits for the main thread's permit and reports how it
 * ended. A permit that comes for a request given up meanwhile is handed straight back.
 *
 * A 429 also goes into the shared pause at once (`Atomics`, no message): a permit the main thread
 * granted just before it heard of the 429 still waits for the pause here, so no thread sends a request
 * after any thread has seen a 429, however slow the messages are on a loaded machine.
 */
const remoteGate = (port: MessagePort, pause: Protocol.SharedPause) =>
  Effect.acquireRelease(
    Effect.sync((): RequestGate.Gate => {
      const pausedUntil = new Int32Array(pause.buffer)
      const waitOutPause: Effect.Effect<void> = Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const until = pause.epochMillis + Atomics.load(pausedUntil, 0)
        return now < until ? Effect.zipRight(Effect.sleep(until - now), waitOutPause) : Effect.void
      })
      const notePause = (now: number, retryAfterMillis: number | undefined) => {
        const until = now + (retryAfterMillis ?? pause.defaultRetryAfterMillis) - pause.epochMillis
        let current = Atomics.load(pausedUntil, 0)
        while (current < until) {
          const seen = Atomics.compareExchange(pausedUntil, 0, current, until)
          if (seen === current) break
          current = seen
        }
      }
      const waiting = new Map<number, () => void>()
      let next = 0
      const post = (request: typeof Protocol.GateRequest.Type) => port.postMessage(encodeGateRequest(request))
      port.on("message", (message: unknown) => {
        const { id } = decodeGateReply(message)
        const resume = waiting.get(id)
        if (resume === undefined) return post({ _tag: "Leave", outcome: { _tag: "Failed" } })
        waiting.delete(id)
        resume()
      })
      return {
        enter: Effect.zipRight(
          Effect.async<void>((resume) => {
            const id = next++
            waiting.set(id, () => resume(Effect.void))
            post({ _tag: "Enter", id })
            return Effect.sync(() => waiting.delete(id))
          }),
          waitOutPause
        ),
        leave: (outcome) =>
          Effect.flatMap(Clock.currentTimeMillis, (now) =>
            Effect.sync(() => {
              if (outcome._tag === "Answered" && outcome.status === 429) notePause(now, outcome.retryAfterMillis)
              post({ _tag: "Leave", outcome })
            }))
      }
    }),
    () => Effect.sync(() => port.close())
  )

const threadLayer = (init: Protocol.InitialMessage) => {
  const settings: ConsumerJwsClient.Settings = {
    accountId: init.accountId,
    clientId: init.clientId,
    clientSecret: init.clientSecret,
    csdsUrl: init.csdsUrl,
    domainTtl: init.domainTtl,
    renewBefore: init.renewBefore
  }
  const client = ConsumerJwsClient.layer(settings).pipe(Layer.provide(UndiciHttpClient.layer))
  // A fixed set of fibers taking jobs from a queue, rather than a fiber per ID behind a semaphore:
  // an Effect semaphore wakes every waiter on each release, which with hundreds of IDs waiting cost
  // several times the CPU of the requests.
  const state = Layer.scoped(
    ThreadState,
    Effect.gen(function*() {
      const issuer = yield* ConsumerJwsIssuer.ConsumerJwsIssuer
      const jobs = yield* Queue.unbounded<Job>()
      const draining = { value: false }
      const work = Effect.forever(Effect.flatMap(Queue.take(jobs), (job) =>
        Effect.flatMap(
          draining.value
            ? Effect.succeed<Protocol.Outcome>(new Protocol.Skipped({ consumerId: job.consumerId }, true))
            : issueOne(issuer, job.consumerId),
          (outcome) => Queue.offer(job.finished, outcome)
        )))
      yield* Effect.forkScoped(Effect.forEach(Array.from({ length: init.concurrency }), () => work, {
        concurrency: "unbounded",
        discard: true
      }).pipe(
        // No span per ID or request and no canceler per request, as in fibers mode (Batch.ts).
        Effect.withTracerEnabled(false),
        UndiciHttpClient.withoutAbortOnInterrupt
      ))
      return { jobs, draining }
    })
  )
  // The issuing fibers are forked while `state` is built: they see the retry policy and the gate
  // (both read by core at each request) only if these are provided to `state` itself.
  return state.pipe(Layer.provide(Layer.mergeAll(
    client,
    Layer.succeed(RetryPolicy.RetryPolicy, RetryPolicy.make(init.retryPolicy)),
    Layer.scoped(RequestGate.RequestGate, remoteGate(init.gate as unknown as MessagePort, init.pause))
  )))
}

const issueOne = (issuer: Context.Tag.Service<typeof ConsumerJwsIssuer.ConsumerJwsIssuer>, consumerId: string) =>
  Effect.gen(function*() {
      const started = yield* Clock.currentTimeNanos
      const outcome = yield* issuer.issueOutcome(consumerId)
      const latencyMillis = Number((yield* Clock.currentTimeNanos) - started) / 1e6
      // Built from core's own checked values: no validation again (`true`), it cost a tenth of the CPU.
      return outcome._tag === "Issued"
        ? new Protocol.Issued({
          consumerId,
          lpConsumerId: outcome.issued.claims.lp_consumer_id,
          token: outcome.issued.token,
          attempts: outcome.attempts,
          latencyMillis
        }, true)
        : new Protocol.Failed({ consumerId, error: outcome.error, attempts: outcome.attempts, latencyMillis }, true)
  })

const runner = WorkerRunner.layerSerialized(Protocol.ThreadRequest, {
  InitialMessage: threadLayer,
  IssueBatch: ({ ids }) =>
    Stream.unwrap(Effect.gen(function*() {
      const { jobs } = yield* ThreadState
      const finished = yield* Queue.unbounded<Protocol.Outcome>()
      yield* Queue.offerAll(jobs, ids.map((consumerId) => ({ consumerId, finished })))
      return Stream.fromQueue(finished, { maxChunkSize: outcomeBatch }).pipe(Stream.take(ids.length))
    })),
  Drain: () => Effect.flatMap(ThreadState, ({ draining }) => Effect.sync(() => void (draining.value = true)))
}).pipe(Layer.provide(NodeWorkerRunner.layer))

WorkerRunner.launch(runner).pipe(NodeRuntime.runMain({ disablePrettyLogger: true }))
