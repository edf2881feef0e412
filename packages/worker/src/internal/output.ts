/**
 * The results file: records encoded as JSON Lines or CSV, appended in batches, and read back on
 * resume (torn last line cut off, failed records compacted away).
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as NodeFs from "node:fs"
import { OutputFormatError, OutputWriteError } from "../BatchError.js"
import { decodeUtf8, splitLines, TextFault } from "./text.js"
import { fsReason } from "./fsReason.js"
import { IdSet } from "./idSet.js"

/** The output's format, from its name: CSV when it ends in `.csv`, else JSON Lines. */
export type Format = "jsonl" | "csv"

/** The format of an output path. */
export const formatOf = (path: string): Format => (path.toLowerCase().endsWith(".csv") ? "csv" : "jsonl")

/** One result: issued, failed after its retries, or rejected before any request. */
export type Record =
  | {
    readonly status: "issued"
    readonly consumerId: string
    readonly lpConsumerId: string
    readonly token: Redacted.Redacted<string>
    readonly attempts: number
  }
  | {
    readonly status: "failed"
    readonly consumerId: string
    readonly error: string
    readonly message: string
    readonly attempts: number
  }
  | {
    readonly status: "rejected"
    readonly line: number
    readonly consumerId: string
    readonly error: string
    readonly message: string
  }

/** The CSV output's columns. */
export const csvColumns = ["line", "consumer_id", "status", "lp_consumer_id", "token", "attempts", "error", "message"] as const

/** A rejected value is cut to this many characters in the output: it is already known to be wrong. */
export const maxRejectedLength = 300

const cut = (text: string) => (text.length > maxRejectedLength ? `${text.slice(0, maxRejectedLength)}…` : text)

// Every CSV record is one line, so resume can cut a torn line: line breaks in a value become "\n".
const csvField = (value: string | number | undefined): string => {
  if (value === undefined) return ""
  const text = typeof value === "number" ? String(value) : value.replace(/\r/g, "\\r").replace(/\n/g, "\\n")
  return /[",\\\r\n]/.test(text) || text !== text.trim() ? `"${text.replace(/"/g, "\"\"")}"` : text
}

/** The header line of a CSV output. */
export const csvHeader = `${csvColumns.join(",")}\n`

/** Encodes a record as one line, line break included. The only place a token is revealed. */
export const encode = (record: Record, format: Format): string => {
  if (format === "jsonl") {
    switch (record.status) {
      case "issued":
        return JSON.stringify({
          consumer_id: record.consumerId,
          status: "issued",
          lp_consumer_id: record.lpConsumerId,
          token: Redacted.value(record.token),
          attempts: record.attempts
        }) + "\n"
      case "failed":
        return JSON.stringify({
          consumer_id: record.consumerId,
          status: "failed",
          error: record.error,
          message: record.message,
          attempts: record.attempts
        }) + "\n"
      case "rejected":
        return JSON.stringify({
          line: record.line,
          consumer_id: cut(record.consumerId),
          status: "rejected",
          error: record.error,
          message: record.message
        }) + "\n"
    }
  }
  const fields = record.status === "issued"
    ? [undefined, record.consumerId, "issued", record.lpConsumerId, Redacted.value(record.token), record.attempts, undefined, undefined]
    : record.status === "failed"
    ? [undefined, record.consumerId, "failed", undefined, undefined, record.attempts, record.error, record.message]
    : [record.line, cut(record.consumerId), "rejected", undefined, undefined, undefined, record.error, record.message]
  return fields.map(csvField).join(",") + "\n"
}

/** Splits one CSV line of our own output (RFC 4180 quoting, no line breaks inside). */
export const parseCsvLine = (line: string): Array<string> | undefined => {
  const fields: Array<string> = []
  let i = 0
  while (true) {
    if (line[i] === "\"") {
      let value = ""
      i++
      while (true) {
        const close = line.indexOf("\"", i)
        if (close === -1) return undefined
        value += line.slice(i, close)
        if (line[close + 1] === "\"") {
          value += "\""
          i = close + 2
        } else {
          i = close + 1
          break
        }
      }
      fields.push(value)
    } else {
      const comma = line.indexOf(",", i)
      fields.push(line.slice(i, comma === -1 ? line.length : comma))
      i = comma === -1 ? line.length : comma
    }
    if (i >= line.length) return fields
    if (line[i] !== ",") return undefined
    i++
  }
}

const unescapeCsv = (value: string) => value.replace(/\\n/g, "\n").replace(/\\r/g, "\r")

/** What resume needs of a record. */
const ResumeRecord = Schema.Struct({
  consumer_id: Schema.String,
  status: Schema.Literal("issued", "failed", "rejected"),
  line: Schema.optional(Schema.Union(Schema.Number, Schema.NumberFromString))
})
type ResumeRecord = typeof ResumeRecord.Type

const decodeRecord = Schema.decodeUnknownEither(ResumeRecord)

const parseRecord = (text: string, format: Format, header: ReadonlyArray<string>): Either.Either<ResumeRecord, string> => {
  let value: unknown
  if (format === "jsonl") {
    try {
      value = JSON.parse(text)
    } catch {
      return Either.left("not JSON")
    }
  } else {
    const fields = parseCsvLine(text)
    if (fields === undefined) return Either.left("not a CSV record")
    const object: { [key: string]: string } = {}
    header.forEach((name, index) => {
      const field = fields[index]
      if (field !== undefined && field !== "") object[name] = unescapeCsv(field)
    })
    if (object.consumer_id === undefined) object.consumer_id = ""
    value = object
  }
  return decodeRecord(value).pipe(Either.mapLeft(() => "no consumer_id and status"))
}

/** What an existing output holds, for a resumed run. */
export interface Resumed {
  /** IDs already issued: never requested again. */
  readonly issued: IdSet
  /** Input lines already recorded as rejected: not recorded again. */
  readonly rejectedLines: Set<number>
  /** Failed records dropped by compaction: their IDs are retried. */
  readonly failedDropped: number
  /** Bytes of a torn last line cut off. */
  readonly tornBytes: number
}

/** The error for a failure to write `path` (the output or the summary). */
export const writeError = (path: string) => (error: unknown): OutputWriteError =>
  new OutputWriteError({ path, reason: fsReason(error, "its directory does not exist") })

// The length of the file up to and including its last line break: what follows it is a torn write.
const completeLength = (path: string): number => {
  const fd = NodeFs.openSync(path, "r")
  try {
    const size = NodeFs.fstatSync(fd).size
    const block = Buffer.alloc(64 * 1024)
    let end = size
    while (end > 0) {
      const start = Math.max(0, end - block.length)
      const read = NodeFs.readSync(fd, block, 0, end - start, start)
      const at = block.subarray(0, read).lastIndexOf(0x0a)
      if (at !== -1) return start + at + 1
      end = start
    }
    return 0
  } finally {
    NodeFs.closeSync(fd)
  }
}

const readLines = (path: string) =>
  splitLines(decodeUtf8(NodeFs.createReadStream(path, { highWaterMark: 256 * 1024 })), 16 * 1024 * 1024)

/**
 * Reads an existing output for resume: cuts a torn last line off, and when it holds failed records
 * (or, after a crash, a second record for one ID) rewrites it without them through a temporary file
 * renamed into place, so the finished file holds exactly one record per ID.
 */
export const resume = (path: string, format: Format): Effect.Effect<Resumed, OutputFormatError | OutputWriteError> =>
  Effect.tryPromise({
    try: async (): Promise<Either.Either<Resumed, OutputFormatError>> => {
      const length = completeLength(path)
      const size = NodeFs.statSync(path).size
      if (length < size) NodeFs.truncateSync(path, length)
      const issued = new IdSet()
      const rejectedLines = new Set<number>()
      let header: ReadonlyArray<string> = csvColumns
      let needsCompaction = false
      let failedDropped = 0
      for await (const { line, text } of readLines(path)) {
        if (format === "csv" && line === 1) {
          header = parseCsvLine(text) ?? []
          if (!header.includes("consumer_id") || !header.includes("status")) {
            return Either.left(new OutputFormatError({ path, line, reason: "the CSV header has no consumer_id and status" }))
          }
          continue
        }
        if (text.length === 0) continue
        const parsed = parseRecord(text, format, header)
        if (Either.isLeft(parsed)) return Either.left(new OutputFormatError({ path, line, reason: parsed.left }))
        const record = parsed.right
        if (record.status === "issued") {
          if (!issued.add(record.consumer_id)) needsCompaction = true
        } else if (record.status === "failed") {
          needsCompaction = true
          failedDropped++
        } else if (record.line !== undefined) {
          if (rejectedLines.has(record.line)) needsCompaction = true
          rejectedLines.add(record.line)
        }
      }
      if (needsCompaction) await compact(path, format, { dropFailed: true, rejectedLinesToDrop: new Set() })
      return Either.right({ issued, rejectedLines, failedDropped, tornBytes: size - length })
    },
    catch: (error) =>
      error instanceof TextFault
        ? new OutputFormatError({ path, line: error.line, reason: error.reason })
        : writeError(path)(error)
  }).pipe(Effect.flatMap((result) => result))

// Keeps the first issued record per ID and the first rejected record per line but those of
// `rejectedLinesToDrop`; drops failed records when `dropFailed`.
const compact = async (
  path: string,
  format: Format,
  { dropFailed, rejectedLinesToDrop }: { readonly dropFailed: boolean; readonly rejectedLinesToDrop: ReadonlySet<number> }
): Promise<void> => {
  const temporary = `${path}.compacting-${process.pid}`
  const fd = NodeFs.openSync(temporary, "w", 0o600)
  try {
    NodeFs.fchmodSync(fd, 0o600)
    const issued = new IdSet()
    const rejected = new Set<number>()
    let header: ReadonlyArray<string> = csvColumns
    let pending: Array<string> = []
    let pendingLength = 0
    const flush = () => {
      NodeFs.writeSync(fd, pending.join(""))
      pending = []
      pendingLength = 0
    }
    for await (const { line, text } of readLines(path)) {
      let keep = false
      if (format === "csv" && line === 1) {
        header = parseCsvLine(text) ?? []
        keep = true
      } else if (text.length > 0) {
        const parsed = parseRecord(text, format, header)
        if (Either.isRight(parsed)) {
          const record = parsed.right
          if (record.status === "issued" && issued.add(record.consumer_id)) {
            keep = true
          } else if (
            record.status === "rejected" && record.line !== undefined && !rejected.has(record.line) &&
            !rejectedLinesToDrop.has(record.line)
          ) {
            rejected.add(record.line)
            keep = true
          } else if (record.status === "failed" && !dropFailed) {
            keep = true
          }
        }
      }
      if (keep) {
        pending.push(text, "\n")
        pendingLength += text.length + 1
        if (pendingLength >= 1024 * 1024) flush()
      }
    }
    flush()
    NodeFs.fsyncSync(fd)
  } finally {
    NodeFs.closeSync(fd)
  }
  NodeFs.renameSync(temporary, path)
}

/** Appends encoded records in batches. */
export interface Writer {
  /**
   * Buffers `line` now, and says whether the buffer is full (then `flush` it). A plain call: it runs
   * once per record, and the caller decides what a failed flush means.
   */
  readonly unsafeBuffer: (line: string) => boolean
  /** Writes what is buffered. */
  readonly flush: Effect.Effect<void, OutputWriteError>
}

/**
 * Drops the `rejected` records of `lines` from a closed output: rows rejected by an earlier run and
 * valid now (fixed in the input, then resumed), whose records would otherwise outlive the rejection.
 * Through a 0600 temporary file and a rename, as on resume; failed records are kept.
 */
export const dropRejected = (path: string, format: Format, lines: ReadonlySet<number>): Effect.Effect<void, OutputWriteError> =>
  Effect.tryPromise({
    try: () => compact(path, format, { dropFailed: false, rejectedLinesToDrop: lines }),
    catch: writeError(path)
  })

/**
 * Opens the output for appending, created with mode 0600 (and set to 0600 if it existed), with a
 * CSV header when it is empty. Lines are buffered up to `flushBytes`; the caller flushes on a timer.
 * Closing the scope flushes and syncs to disk.
 */
export const openWriter = (options: {
  readonly path: string
  readonly format: Format
  readonly truncate: boolean
  readonly flushBytes: number
}): Effect.Effect<Writer, OutputWriteError, FileSystem.FileSystem | Scope.Scope> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const { path } = options
    const file = yield* fs.open(path, { flag: options.truncate ? "w" : "a", mode: 0o600 }).pipe(
      Effect.mapError(writeError(path))
    )
    // The mode of open only applies to a new file: an existing one (resume, overwrite) is set too.
    yield* fs.chmod(path, 0o600).pipe(Effect.mapError(writeError(path)))
    const encoder = new TextEncoder()
    let pending: Array<string> = []
    let pendingLength = 0
    const lock = yield* Effect.makeSemaphore(1)
    const size = (yield* file.stat.pipe(Effect.mapError(writeError(path)))).size
    if (options.format === "csv" && size === BigInt(0)) {
      pending.push(csvHeader)
      pendingLength += csvHeader.length
    }
    const flush = lock.withPermits(1)(Effect.suspend(() => {
      if (pending.length === 0) return Effect.void
      const bytes = encoder.encode(pending.join(""))
      pending = []
      pendingLength = 0
      return file.writeAll(bytes).pipe(Effect.mapError(writeError(path)))
    }))
    yield* Effect.addFinalizer(() => flush.pipe(Effect.zipRight(file.sync), Effect.ignoreLogged))
    const unsafeBuffer = (line: string): boolean => {
      pending.push(line)
      pendingLength += line.length
      return pendingLength >= options.flushBytes
    }
    return { unsafeBuffer, flush }
  })
