/**
 * What a batch run did: counts per status and per error, throughput, latency percentiles, retries
 * and 429s, and how it ended. Written as JSON with {@link write}.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Output from "./internal/output.js"

/** How a run ended. */
export const Outcome = Schema.Literal(
  /** Every row of the input (of this shard) was taken. */
  "completed",
  /** Stopped on request (Ctrl-C): rows not taken are left for `resume`. */
  "interrupted",
  /** Stopped because every row would fail alike (credentials, domain): rows not taken are left for `resume`. */
  "stoppedEarly"
)

/** How a run ended. */
export type Outcome = typeof Outcome.Type

/** Rows by what became of them. */
export class Counts extends Schema.Class<Counts>("Counts")({
  /** Rows read (data rows, header excluded), whatever became of them. */
  rows: Schema.Number,
  /** IDs issued in this run. */
  issued: Schema.Number,
  /** IDs that failed after their retries (recorded as failed; `resume` retries them). */
  failed: Schema.Number,
  /** Rows whose ID is invalid (recorded as rejected, never requested). */
  rejected: Schema.Number,
  /** Rows whose ID came earlier in the input: issued once. */
  duplicates: Schema.Number,
  /** IDs already issued by an earlier run, found on resume: skipped. */
  alreadyIssued: Schema.Number,
  /** Rows rejected by an earlier run and still invalid: not recorded again, and still not issued. */
  alreadyRejected: Schema.Number,
  /** Rows whose ID belongs to another shard: skipped. */
  otherShards: Schema.Number
}) {}

/** Issuance latency in milliseconds, per ID, retries included. */
export class Latency extends Schema.Class<Latency>("Latency")({
  p50: Schema.Number,
  p95: Schema.Number,
  p99: Schema.Number,
  max: Schema.Number
}) {}

/** The error that stopped a run early. */
export class StoppedEarly extends Schema.Class<StoppedEarly>("StoppedEarly")({
  /** The error's tag: `AuthenticationError`, `DomainLookupError` or `BadDomainError`. */
  error: Schema.String,
  message: Schema.String
}) {}

/** What a run did. */
export class Summary extends Schema.Class<Summary>("Summary")({
  outcome: Outcome,
  /** Set when `outcome` is `stoppedEarly`. */
  stoppedEarly: Schema.optional(StoppedEarly),
  input: Schema.String,
  output: Schema.String,
  /** `index/count` when the run was one shard. */
  shard: Schema.optional(Schema.String),
  /** Whether the run resumed an existing output. */
  resumed: Schema.Boolean,
  counts: Counts,
  /** Failed and rejected rows per error tag. */
  errors: Schema.Record({ key: Schema.String, value: Schema.Number }),
  elapsedMillis: Schema.Number,
  /** IDs finished (issued or failed) per second. */
  throughputPerSecond: Schema.Number,
  latencyMillis: Latency,
  /** Requests made to the IDP, retries included. */
  requests: Schema.Number,
  /** Requests beyond the first per ID. */
  retries: Schema.Number,
  /** HTTP 429 answers seen. */
  rateLimited: Schema.Number,
  /** The most IDP requests in flight at once. */
  maxInFlight: Schema.Number
}) {}

/**
 * The rows of the input left without a token: failed, rejected, and rejected by an earlier run and
 * still invalid (a resume does not record them again, but they are no more issued for that).
 */
export const notIssued = (summary: Summary): number =>
  summary.counts.failed + summary.counts.rejected + summary.counts.alreadyRejected

/** Whether every row was issued (or skipped as a duplicate or as issued before). */
export const isClean = (summary: Summary): boolean => summary.outcome === "completed" && notIssued(summary) === 0

const encodeJson = Schema.encodeSync(Schema.parseJson(Summary, { space: 2 }))

/** The summary as pretty JSON. */
export const toJson = (summary: Summary): string => encodeJson(summary)

/** Writes the summary as JSON to `path` (mode 0600, replaced if it exists). */
export const write = Effect.fn("Summary.write")(function*(path: string, summary: Summary) {
  const fs = yield* FileSystem.FileSystem
  yield* fs.writeFileString(path, `${toJson(summary)}\n`, { mode: 0o600 }).pipe(
    Effect.mapError(Output.writeError(path))
  )
})

const outcomeWords: Record<Outcome, string> = {
  completed: "completed",
  stoppedEarly: "stopped early",
  interrupted: "interrupted"
}

/**
 * A few lines for a person: the outcome, counts, errors, throughput and latency, and why the run
 * stopped early, if it did (`reason: false` leaves that line out, for a caller that reports it itself).
 */
export const render = (summary: Summary, options?: { readonly reason?: boolean }): string => {
  const c = summary.counts
  const lines = [
    `${outcomeWords[summary.outcome]}: ${c.issued} issued, ${c.failed} failed, ${c.rejected} rejected, ` +
    `${c.duplicates} duplicates, ${c.alreadyIssued} already issued` +
    (c.alreadyRejected > 0 ? `, ${c.alreadyRejected} still rejected` : "") +
    (c.otherShards > 0 ? `, ${c.otherShards} in other shards` : ""),
    `${(summary.elapsedMillis / 1000).toFixed(1)} s, ${summary.throughputPerSecond.toFixed(1)} IDs/s, ` +
    `latency p50 ${summary.latencyMillis.p50.toFixed(0)} ms p95 ${summary.latencyMillis.p95.toFixed(0)} ms ` +
    `p99 ${summary.latencyMillis.p99.toFixed(0)} ms, ${summary.retries} retries, ${summary.rateLimited} HTTP 429`
  ]
  const errors = Object.entries(summary.errors)
  if (errors.length > 0) lines.push(`errors: ${errors.map(([tag, count]) => `${tag} ${count}`).join(", ")}`)
  if (summary.stoppedEarly !== undefined && options?.reason !== false) lines.push(`why: ${summary.stoppedEarly.message}`)
  return lines.join("\n")
}
