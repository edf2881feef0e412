/**
 * `@consumer-jws/worker`: bulk ConsumerJWS issuance from a CSV, streaming, concurrent,
 * rate-limited and resumable.
 *
 * @since 0.1.0
 */

/** The pipeline: options, defaults, `run` and exit codes. */
export * as Batch from "./Batch.js"

/** The errors that stop a batch. */
export * as BatchError from "./BatchError.js"

/** The shared request gate: pause after 429, adaptive rate, fixed cap. */
export * as Gate from "./Gate.js"

/** Progress reporting. */
export * as Progress from "./Progress.js"

/** Splitting an input between processes. */
export * as Shard from "./Shard.js"

/** What a run did. */
export * as Summary from "./Summary.js"

/** Issuing from worker threads: `threads` > 1. */
export * as Threads from "./Threads.js"
