/**
 * The messages between the main thread of a threaded batch and its worker threads, as schemas: the
 * requests of `@effect/platform`'s serialized worker, and the gate's own channel (a `MessagePort`
 * handed over in the initial message).
 *
 * @internal
 */
import { AccountId, ConsumerJwsError, CsdsUrl } from "@consumer-jws/core"
import * as Transferable from "@effect/platform/Transferable"
import * as Schema from "effect/Schema"

/** The retry policy, as core's `RetryPolicy.Settings`. */
export const RetrySettings = Schema.Struct({
  attemptTimeout: Schema.DurationFromMillis,
  deadline: Schema.DurationFromMillis,
  maxAttempts: Schema.Int,
  baseDelay: Schema.DurationFromMillis,
  maxDelay: Schema.DurationFromMillis
})

/**
 * The pause after a 429, shared by every thread without a message: `buffer` holds one `Int32`, the end
 * of the pause in milliseconds after `epochMillis` (a `SharedArrayBuffer` is shared, not copied, by
 * `postMessage`).
 */
export const SharedPause = Schema.Struct({
  buffer: Schema.declare((u): u is SharedArrayBuffer => u instanceof SharedArrayBuffer, {
    identifier: "SharedArrayBuffer"
  }),
  epochMillis: Schema.Number,
  defaultRetryAfterMillis: Schema.Number
})

/** The pause after a 429, shared by every thread. */
export type SharedPause = typeof SharedPause.Type

/**
 * What a thread needs to build its own client: core's `ConsumerJwsClient.Settings`, the retry policy,
 * how many IDs it issues at once, and the port of the shared gate. The client secret crosses as a
 * plain string inside this message only; it is `Redacted` on both sides.
 */
export class InitialMessage extends Schema.TaggedRequest<InitialMessage>()("InitialMessage", {
  failure: Schema.Never,
  success: Schema.Void,
  payload: {
    thread: Schema.Int,
    accountId: AccountId.AccountId,
    clientId: Schema.String,
    clientSecret: Schema.Redacted(Schema.String),
    csdsUrl: CsdsUrl.CsdsUrl,
    domainTtl: Schema.DurationFromMillis,
    renewBefore: Schema.DurationFromMillis,
    retryPolicy: RetrySettings,
    concurrency: Schema.Int,
    gate: Transferable.MessagePort,
    pause: SharedPause
  }
}) {}

/** An ID issued by a thread; `latencyMillis` covers every attempt. */
export class Issued extends Schema.TaggedClass<Issued>()("Issued", {
  consumerId: Schema.String,
  lpConsumerId: Schema.String,
  token: Schema.Redacted(Schema.String),
  attempts: Schema.Int,
  latencyMillis: Schema.Number
}) {}

/** An ID a thread could not issue, with core's typed error. */
export class Failed extends Schema.TaggedClass<Failed>()("Failed", {
  consumerId: Schema.String,
  error: ConsumerJwsError.ConsumerJwsError,
  attempts: Schema.Int,
  latencyMillis: Schema.Number
}) {}

/** An ID a thread did not start because the run is stopping: not recorded, so a resume issues it. */
export class Skipped extends Schema.TaggedClass<Skipped>()("Skipped", {
  consumerId: Schema.String
}) {}

/** How one ID sent to a thread ended. */
export const Outcome = Schema.Union(Issued, Failed, Skipped)

/** How one ID sent to a thread ended. */
export type Outcome = typeof Outcome.Type

/** Issue these IDs; the outcomes stream back as they finish, several to a message. */
export class IssueBatch extends Schema.TaggedRequest<IssueBatch>()("IssueBatch", {
  failure: Schema.Never,
  success: Outcome,
  payload: { ids: Schema.Array(Schema.String) }
}) {}

/** The run is stopping: finish the requests in flight, skip every ID not started. */
export class Drain extends Schema.TaggedRequest<Drain>()("Drain", {
  failure: Schema.Never,
  success: Schema.Void,
  payload: {}
}) {}

/** Every request the main thread sends a worker thread. */
export const ThreadRequest = Schema.Union(InitialMessage, IssueBatch, Drain)

/** Every request the main thread sends a worker thread. */
export type ThreadRequest = typeof ThreadRequest.Type

/** How an IDP request ended, as core's `RequestGate.Outcome`. */
export const GateOutcome = Schema.Union(
  Schema.TaggedStruct("Answered", { status: Schema.Int, retryAfterMillis: Schema.UndefinedOr(Schema.Number) }),
  Schema.TaggedStruct("Failed", {})
)

/** A thread to the main thread's gate: may request `id` start (`Enter`); a request ended (`Leave`). */
export const GateRequest = Schema.Union(
  Schema.TaggedStruct("Enter", { id: Schema.Int }),
  Schema.TaggedStruct("Leave", { outcome: GateOutcome })
)

/** The main thread's gate to a thread: request `id` may start now. */
export const GateReply = Schema.TaggedStruct("Go", { id: Schema.Int })
