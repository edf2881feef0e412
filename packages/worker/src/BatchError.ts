/**
 * The errors that stop a batch before or during its run. Each is a `Schema.TaggedError` saying what
 * to fix; the CLI maps every one of them to exit code 2. A batch that stops early because every row
 * would fail (bad credentials, no domain) is not an error: its `Summary` says `stoppedEarly`.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/** The output file exists and is not empty, and neither `resume` nor `overwrite` was asked for. */
export class OutputExistsError extends Schema.TaggedError<OutputExistsError>()("OutputExistsError", {
  path: Schema.String
}) {
  override get message() {
    return `The output file ${this.path} already holds results. Pass --resume to carry on from it, ` +
      "or --overwrite to start again (its tokens are then lost)."
  }
}

/** The input cannot be read: missing, unreadable, a directory. */
export class InputReadError extends Schema.TaggedError<InputReadError>()("InputReadError", {
  path: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `Cannot read the input ${this.path}: ${this.reason}.`
  }
}

/** The input is malformed at a line: an unclosed quote, bytes that are not UTF-8, a line too long. */
export class InputFormatError extends Schema.TaggedError<InputFormatError>()("InputFormatError", {
  path: Schema.String,
  /** The line (1-based) where the problem is. */
  line: Schema.Number,
  reason: Schema.String
}) {
  override get message() {
    return `The input ${this.path} is malformed at line ${this.line}: ${this.reason}. ` +
      "Fix the file, then run again with --resume: what was issued so far is kept."
  }
}

/** The CSV header has no column to take consumer IDs from. */
export class MissingColumnError extends Schema.TaggedError<MissingColumnError>()("MissingColumnError", {
  /** The header's column names (at most 20). */
  header: Schema.Array(Schema.String),
  /** The column asked for with `column`, when one was. */
  column: Schema.optional(Schema.String)
}) {
  override get message() {
    const names = this.header.map((name) => JSON.stringify(name)).join(", ")
    return this.column === undefined
      ? `The CSV header (${names}) has no consumer_id or ext_consumer_id column. Name the column with --column.`
      : `The CSV header (${names}) has no column ${JSON.stringify(this.column)}.`
  }
}

/** The existing output cannot be resumed: a record in it (not the torn last line) is not readable. */
export class OutputFormatError extends Schema.TaggedError<OutputFormatError>()("OutputFormatError", {
  path: Schema.String,
  line: Schema.Number,
  reason: Schema.String
}) {
  override get message() {
    return `Cannot resume from ${this.path}: line ${this.line} is not a result record (${this.reason}). ` +
      "Is it the output of another tool? Use another --output, or --overwrite."
  }
}

/** Writing the output or the summary failed (disk full, permissions). */
export class OutputWriteError extends Schema.TaggedError<OutputWriteError>()("OutputWriteError", {
  path: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `Cannot write ${this.path}: ${this.reason}. Records flushed before this are kept; --resume carries on.`
  }
}

/** Another run is writing the same output (its lock file names a live process, or another host). */
export class OutputLockedError extends Schema.TaggedError<OutputLockedError>()("OutputLockedError", {
  path: Schema.String,
  /** The lock file. */
  lock: Schema.String,
  /** The process holding it, as its lock file says. */
  pid: Schema.optional(Schema.Number),
  host: Schema.optional(Schema.String)
}) {
  override get message() {
    const holder = this.pid === undefined ? "another run" : `another run (process ${this.pid} on ${this.host})`
    return `The output file ${this.path} is being written by ${holder}. Wait for it to end; ` +
      `if it is gone, delete ${this.lock}.`
  }
}

/** An option is out of range or contradicts another. */
export class InvalidOptionError extends Schema.TaggedError<InvalidOptionError>()("InvalidOptionError", {
  option: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `Invalid option ${this.option}: ${this.reason}.`
  }
}

/** A worker thread of a threaded run could not start or died (`threads` > 1). */
export class WorkerThreadError extends Schema.TaggedError<WorkerThreadError>()("WorkerThreadError", {
  /** The thread (0-based). */
  thread: Schema.Number,
  reason: Schema.String
}) {
  override get message() {
    return `Worker thread ${this.thread} failed: ${this.reason}. Records flushed before this are kept; --resume carries on.`
  }
}

/** Every error a batch run can fail with. */
export type BatchError =
  | OutputExistsError
  | InputReadError
  | InputFormatError
  | MissingColumnError
  | OutputFormatError
  | OutputWriteError
  | OutputLockedError
  | InvalidOptionError
  | WorkerThreadError

/** The schema of {@link BatchError}, for crossing a boundary (worker threads, files). */
export const BatchError = Schema.Union(
  OutputExistsError,
  InputReadError,
  InputFormatError,
  MissingColumnError,
  OutputFormatError,
  OutputWriteError,
  OutputLockedError,
  InvalidOptionError,
  WorkerThreadError
)
