/**
 * Reading the input: a CSV (RFC 4180, parsed by csv-parse's stream API) or a list of one ID a line,
 * from a file or stdin, streamed; the ID column chosen from the header.
 */
import { type Options, Parser } from "csv-parse"
import * as NodeFs from "node:fs"
import { Readable, type TransformCallback, type TransformOptions } from "node:stream"
import { pipeline } from "node:stream/promises"
import * as Effect from "effect/Effect"
import { InputFormatError, InputReadError, MissingColumnError } from "../BatchError.js"
import { fsReason } from "./fsReason.js"
import { countNewlines, decodeUtf8, splitLineRuns, TextFault } from "./text.js"

/** How to read the input. */
export type Format = "auto" | "csv" | "list"

/** One record of the input: its line (1-based, where it starts) and its fields. */
export interface Row {
  readonly line: number
  readonly fields: ReadonlyArray<string>
}

/** The column names taken for the ID when no `column` is given, in order of preference. */
export const knownColumns: ReadonlyArray<string> = ["consumer_id", "ext_consumer_id"]

// A known name however a spreadsheet or a database spells it: `Consumer ID`, `ConsumerId` and
// `EXT_CONSUMER_ID` name the ID column too (read as an ID, a one-column file's header would be
// issued a token). Any other name given with `column` is matched as given.
const spelling = (name: string): string => name.toLowerCase().replace(/[^a-z0-9]/g, "")

const knownSpellings: ReadonlySet<string> = new Set(knownColumns.map(spelling))

/** Whether the header name `name` is the column `wanted`: as given, or a known column in any spelling. */
export const namesColumn = (name: string, wanted: string): boolean =>
  name === wanted || (knownSpellings.has(spelling(wanted)) && spelling(name) === spelling(wanted))

/**
 * The index of the ID column among a header's `names`: the first of `wanted` (in order of
 * preference) that a name spells exactly, else the first that a name spells otherwise. An exact
 * `ext_consumer_id` beside a `ConsumerId` (a CRM's own key) is the column, not the lookalike.
 */
export const columnOf = (names: ReadonlyArray<string>, wanted: ReadonlyArray<string>): number | undefined => {
  const among = (matches: (name: string, column: string) => boolean) =>
    wanted.map((column) => names.findIndex((name) => matches(name, column))).find((index) => index !== -1)
  return among((name, column) => name === column) ?? among(namesColumn)
}

const readChunkBytes = 256 * 1024

const openSource = (path: string): Readable =>
  path === "-" ? process.stdin : NodeFs.createReadStream(path, { highWaterMark: readChunkBytes })

interface CsvFault {
  readonly code?: unknown
  readonly lines?: unknown
  readonly message: string
}

const newlinesIn = (fields: ReadonlyArray<string>): number => {
  let count = 0
  for (const field of fields) count += countNewlines(field)
  return count
}

// csv-parse's parser, its records made into rows (with the line each starts on) and handed over in
// runs: the rows of each chunk of text are pushed as one array when the chunk is parsed. Pushed one
// at a time, each row went through the stream's buffer and its async iterator, a promise a row;
// a million-row input paid that a million times.
// The line is counted here: csv-parse's own count (`info.lines`) takes a CRLF inside a quoted field
// for two lines, so every row after one was named a line too late. Its `on_record` option would
// tell that count, building two context objects a record to do so (60% of the parser's time on a
// one-column file).
class RowParser extends Parser {
  // The lines taken by the records pushed so far (blank lines are counted by csv-parse, which skips
  // them), from those before the parser's text on.
  private linesOfRecords: number
  // The rows of the chunk being parsed.
  private run: Array<Row> = []

  // The stream holds one run (a chunk's rows) ahead of its reader, not the 16 objects it would by
  // default: each is ~13,000 rows of a one-column file, and 16 of them doubled the peak RSS of a
  // million-row batch (119 -> 232 MB).
  constructor(options: Options, linesBefore: number) {
    const withStreamOptions: Options & Pick<TransformOptions, "readableHighWaterMark"> = { ...options, readableHighWaterMark: 1 }
    super(withStreamOptions)
    this.linesOfRecords = linesBefore
  }

  /** The line the record being parsed starts on. */
  nextLine(): number {
    return this.linesOfRecords + this.info.empty_lines + 1
  }

  // csv-parse pushes each record as it ends, and `null` at the end of the input.
  override push(record: unknown, encoding?: BufferEncoding): boolean {
    if (record === null) {
      this.pushRun()
      return super.push(null, encoding)
    }
    const fields = record as Array<string>
    this.run.push({ line: this.nextLine(), fields })
    this.linesOfRecords += 1 + newlinesIn(fields)
    return true
  }

  override _transform(chunk: Buffer, encoding: BufferEncoding, callback: TransformCallback): void {
    super._transform(chunk, encoding, (error) => {
      this.pushRun()
      callback(error)
    })
  }

  override _flush(callback: TransformCallback): void {
    super._flush((error) => {
      this.pushRun()
      callback(error)
    })
  }

  private pushRun(): void {
    if (this.run.length === 0) return
    const run = this.run
    this.run = []
    super.push(run)
  }
}

/** The field delimiters a CSV input may use: spreadsheets write `;` where the decimal mark is a comma. */
export const delimiters: ReadonlyArray<string> = [",", ";", "\t"]

/**
 * The delimiter of a CSV whose first line is `header`: the one that makes a wanted column name one
 * of its fields; else `;` or a tab when the line has no comma but has those; else a comma. Read
 * with commas, `consumer_id;name` would be one field, an ID, and every row an ID with its other
 * fields glued on.
 */
export const delimiterOf = (header: string, wanted: ReadonlyArray<string>): string => {
  const names = (delimiter: string) => header.split(delimiter).map((name) => name.trim().replace(/^"(.*)"$/, "$1").trim())
  const naming = delimiters.find((delimiter) => names(delimiter).some((name) => wanted.some((column) => namesColumn(name, column))))
  if (naming !== undefined) return naming
  if (header.includes(",")) return ","
  const counts = delimiters.map((delimiter) => header.split(delimiter).length - 1)
  const most = Math.max(...counts)
  return most === 0 ? "," : delimiters[counts.indexOf(most)]!
}

// The text with its start read already: the delimiter is chosen from the first line.
async function* prepended(first: string, rest: AsyncIterator<string>): AsyncGenerator<string> {
  try {
    if (first.length > 0) yield first
    for (let next = await rest.next(); next.done !== true; next = await rest.next()) yield next.value
  } finally {
    await rest.return?.(undefined)
  }
}

/**
 * The first line of `text` that holds anything, once its line break has come: csv-parse skips blank
 * lines, so the header is the first line that is not blank.
 */
export const firstFilledLine = (text: string): string | undefined => {
  for (let start = 0, end = text.indexOf("\n"); end !== -1; start = end + 1, end = text.indexOf("\n", start)) {
    const line = text.slice(start, text[end - 1] === "\r" ? end - 1 : end)
    if (line.length > 0) return line
  }
  return undefined
}

async function* csvRows(open: () => Readable, maxLength: number, wanted: ReadonlyArray<string>): AsyncGenerator<ReadonlyArray<Row>> {
  const text = decodeUtf8(open())
  // The text up to the end of its first line that is not blank (a pipe may bring it in pieces), or
  // all there is.
  let head = ""
  let filled: string | undefined
  for (let next = await text.next(); next.done !== true; next = await text.next()) {
    head += next.value
    filled = firstFilledLine(head)
    if (filled !== undefined || head.length > maxLength) break
  }
  const headLine = filled ?? head.replace(/^[\r\n]+/, "")
  // Excel's hint `sep=;` as the first line names the delimiter and is not a record: the text is
  // parsed from the line after it, its lines counted.
  const hint = /^sep=([^\r\n"])$/i.exec(headLine)
  let linesBefore = 0
  if (hint !== null) {
    const after = head.indexOf("\n", head.indexOf(headLine)) + 1 || head.length
    linesBefore = countNewlines(head.slice(0, after))
    head = head.slice(after)
  }
  if (head.length === 0 && hint === null) return // an empty input
  const parser = new RowParser({
    delimiter: hint !== null ? hint[1]! : delimiterOf(headLine, wanted),
    // Rows with fewer or more fields are kept: one without the ID field is rejected, not fatal.
    relax_column_count: true,
    // A quote inside an unquoted field is taken literally (`ab"c`), as spreadsheets write it.
    relax_quotes: true,
    skip_empty_lines: true,
    record_delimiter: ["\r\n", "\n"],
    max_record_size: maxLength
  }, linesBefore)
  // One chunk of text waits ahead of the parser, not 16 (the default for a stream of objects).
  const feeding = pipeline(Readable.from(prepended(head, text), { highWaterMark: 1 }), parser)
  feeding.catch(() => undefined) // the same error surfaces in the loop below
  try {
    yield* parser as AsyncIterable<ReadonlyArray<Row>>
  } catch (error) {
    if (error instanceof TextFault) throw error
    const fault = error as CsvFault
    // Named by the line its record starts on, as rows are (csv-parse names the end of the file for
    // an open quote, and counts lines its own way).
    if (fault.code === "CSV_QUOTE_NOT_CLOSED") throw new TextFault(parser.nextLine(), "a quoted field opened here is never closed")
    if (typeof fault.lines === "number") {
      const reason = fault.code === "CSV_MAX_RECORD_SIZE"
        ? `a record is longer than ${maxLength} characters`
        : fault.message.replace(/ at line \d+$/, "")
      throw new TextFault(parser.nextLine(), reason)
    }
    throw error
  }
}

async function* listRows(open: () => Readable, maxLength: number): AsyncGenerator<ReadonlyArray<Row>> {
  for await (const lines of splitLineRuns(decodeUtf8(open()), maxLength)) {
    const run: Array<Row> = []
    for (const { line, text } of lines) if (text.length > 0) run.push({ line, fields: [text] })
    if (run.length > 0) yield run
  }
}

/** An input opened and its header read: the rows that follow and where the ID is in each. */
export interface Opened {
  /** The index of the ID field in each row. */
  readonly column: number
  /** Whether the first record was a header (it is then not among the rows). */
  readonly hasHeader: boolean
  /** The next row, or `undefined` at the end. */
  readonly next: Effect.Effect<Row | undefined, InputFormatError | InputReadError>
  /** How many rows `next` has parsed already: while there are some, it returns one without waiting. */
  readonly buffered: () => number
  /** Stops reading and releases the file. */
  readonly close: Effect.Effect<void>
}

/**
 * Opens the input and reads its header. The format `auto` reads `.txt` as a list and anything else
 * as a CSV whose first record is a header when it has several fields or names a known column.
 */
export const open = (options: {
  readonly path: string
  readonly format: Format
  readonly column: string | undefined
  readonly maxLineLength: number
}): Effect.Effect<Opened, InputFormatError | InputReadError | MissingColumnError> =>
  Effect.gen(function*() {
    const { path } = options
    if (path !== "-") {
      yield* Effect.try({
        try: () => {
          const stat = NodeFs.statSync(path)
          if (stat.isDirectory()) throw Object.assign(new Error("is a directory"), { code: "EISDIR" })
          NodeFs.accessSync(path, NodeFs.constants.R_OK)
        },
        catch: (error) => new InputReadError({ path, reason: fsReason(error, "no such file") })
      })
    }
    const format = options.format === "auto" && path.toLowerCase().endsWith(".txt") ? "list" : options.format
    // Opened on the first read, not before the header is wanted; kept to be destroyed on close.
    let source: Readable | undefined
    const openAndKeep = () => (source = openSource(path))
    const wanted = options.column === undefined ? knownColumns : [options.column]
    const iterator = format === "list"
      ? listRows(openAndKeep, options.maxLineLength)
      : csvRows(openAndKeep, options.maxLineLength, wanted)
    const nextRun = Effect.tryPromise({
      try: () => iterator.next().then((result) => (result.done === true ? undefined : result.value)),
      catch: (error) =>
        error instanceof TextFault
          ? new InputFormatError({ path, line: error.line, reason: error.reason })
          : new InputReadError({ path, reason: fsReason(error, "no such file") })
    })
    // A row from the run read last, or the first of the next run (runs are never empty).
    let run: ReadonlyArray<Row> = []
    let taken = 0
    const next: Effect.Effect<Row | undefined, InputFormatError | InputReadError> = Effect.suspend(() =>
      taken < run.length ? Effect.succeed(run[taken++]) : Effect.map(nextRun, (rows) => {
        if (rows === undefined) return undefined
        run = rows
        taken = 1
        return rows[0]
      })
    )
    const buffered = () => run.length - taken
    // The source is destroyed first: a read still waiting for input (a pipe that stalls) would hold
    // the generator's `return` until more input came, and Ctrl-C with it.
    const close = Effect.promise(() => {
      source?.destroy()
      return iterator.return(undefined).then(() => undefined, () => undefined)
    })
    if (format === "list") {
      if (options.column !== undefined) {
        return yield* new MissingColumnError({ header: [], column: options.column })
      }
      return { column: 0, hasHeader: false, next, buffered, close }
    }
    const first = yield* next
    if (first === undefined) return { column: 0, hasHeader: false, next, buffered, close }
    const names = first.fields.map((name) => name.trim())
    const found = columnOf(names, wanted)
    if (found !== undefined) return { column: found, hasHeader: true, next, buffered, close }
    if (options.column === undefined && names.length === 1) {
      // One unnamed column. With format csv the first record is its header; with auto it is an ID.
      if (format === "csv") return { column: 0, hasHeader: true, next, buffered, close }
      // A word without a digit is more likely a header (`id`, `user`) than an ID: said, not guessed.
      const value = names[0]!
      if (!/\d/.test(value)) {
        const shown = JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value)
        yield* Effect.logWarning(
          `Line ${first.line} (${shown}) is read as an ID: the first line of a one-column CSV is its header only ` +
            `when it names consumer_id or ext_consumer_id. If it is a header, name it with --column.`
        )
      }
      let pending: Row | undefined = first
      const replay = Effect.suspend(() => {
        if (pending === undefined) return next
        const row = pending
        pending = undefined
        return Effect.succeed(row)
      })
      return { column: 0, hasHeader: false, next: replay, buffered: () => (pending === undefined ? 0 : 1) + buffered(), close }
    }
    yield* close
    return yield* new MissingColumnError({
      header: names.slice(0, 20),
      ...(options.column === undefined ? {} : { column: options.column })
    })
  })

const isRegularFile = (path: string): boolean => {
  try {
    return NodeFs.statSync(path).isFile()
  } catch {
    return false
  }
}

/**
 * Counts the lines of a file cheaply (newline bytes, plus a last line without one), for the
 * progress total. `undefined` for stdin and for anything but a regular file: a second reader of a
 * named pipe (`<(command)`) would take rows from the batch.
 */
export const countLines = (path: string): Effect.Effect<number | undefined> =>
  path === "-" || !isRegularFile(path)
    ? Effect.succeed(undefined)
    : Effect.tryPromise(async () => {
      let lines = 0
      let last = 0x0a
      for await (const chunk of NodeFs.createReadStream(path, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
        let at = chunk.indexOf(0x0a)
        while (at !== -1) {
          lines++
          at = chunk.indexOf(0x0a, at + 1)
        }
        if (chunk.length > 0) last = chunk[chunk.length - 1]!
      }
      return last === 0x0a ? lines : lines + 1
    }).pipe(Effect.orElseSucceed(() => undefined))
