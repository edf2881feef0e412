/**
 * Streaming text from bytes: strict UTF-8 decoding that names the line of a bad byte, and line
 * splitting with a bound on a line's length. Plain async generators, wrapped into Effects by callers.
 */

/** A fault in the input's bytes or layout, at a line (1-based). */
export class TextFault extends Error {
  constructor(readonly line: number, readonly reason: string) {
    super(`line ${line}: ${reason}`)
  }
}

/** The offset of the first byte of `bytes` that is not part of a well-formed UTF-8 sequence, or -1. */
export const firstInvalidUtf8 = (bytes: Uint8Array): number => {
  let i = 0
  while (i < bytes.length) {
    const b = bytes[i]!
    let need: number
    let min: number
    if (b < 0x80) {
      i++
      continue
    } else if (b >= 0xc2 && b <= 0xdf) {
      need = 1
      min = 0x80
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2
      min = 0x800
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3
      min = 0x10000
    } else return i
    let cp = b & (need === 1 ? 0x1f : need === 2 ? 0x0f : 0x07)
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k]
      if (c === undefined) return -1 // a sequence cut by the end of the chunk: not an error here
      if ((c & 0xc0) !== 0x80) return i
      cp = (cp << 6) | (c & 0x3f)
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i
    i += need + 1
  }
  return -1
}

// Where a character cut by the end of `bytes` starts (bytes.length when none is cut).
const unfinishedTail = (bytes: Uint8Array): number => {
  for (let back = 1; back <= 3 && back <= bytes.length; back++) {
    const b = bytes[bytes.length - back]!
    if ((b & 0xc0) === 0x80) continue
    const length = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1
    return length > back ? bytes.length - back : bytes.length
  }
  return bytes.length
}

/** The line breaks in `text` before `end`. */
export const countNewlines = (text: string, end = text.length): number => {
  let count = 0
  let at = text.indexOf("\n")
  while (at !== -1 && at < end) {
    count++
    at = text.indexOf("\n", at + 1)
  }
  return count
}

const newlineByte = 0x0a

const countNewlineBytes = (bytes: Uint8Array, end: number): number => {
  let count = 0
  for (let i = 0; i < end; i++) if (bytes[i] === newlineByte) count++
  return count
}

/**
 * Decodes UTF-8 strictly (a leading BOM is dropped); an invalid byte throws a {@link TextFault}
 * naming its line. Chunks may split a character anywhere.
 */
export async function* decodeUtf8(source: AsyncIterable<Uint8Array | string>): AsyncGenerator<string> {
  const decoder = new TextDecoder("utf-8", { fatal: true })
  let newlines = 0
  let carry: Uint8Array = new Uint8Array(0)
  const decode = (bytes: Uint8Array): string => {
    let text: string
    try {
      text = decoder.decode(bytes, { stream: true })
    } catch {
      // Locate the bad byte in the unfinished tail of the previous chunk plus this one.
      const joined = Buffer.concat([carry, bytes])
      const at = firstInvalidUtf8(joined)
      const line = newlines - countNewlineBytes(carry, carry.length) + countNewlineBytes(joined, at === -1 ? joined.length : at) + 1
      throw new TextFault(line, "the file is not valid UTF-8 (save it as UTF-8)")
    }
    // Keep the trailing bytes of an unfinished character, for locating an error in the next chunk.
    carry = bytes.subarray(unfinishedTail(bytes))
    newlines += countNewlines(text)
    return text
  }
  // The first bytes, held until there are two: a pipe may split a byte order mark.
  let start: Uint8Array | undefined = new Uint8Array(0)
  for await (const chunk of source) {
    let bytes = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk
    if (start !== undefined) {
      bytes = start.length === 0 ? bytes : Buffer.concat([start, bytes])
      if (bytes.length < 2) {
        start = bytes
        continue
      }
      start = undefined
      // A UTF-16 byte order mark: what spreadsheets write as "Unicode text", worth naming as such.
      if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
        throw new TextFault(1, "the file is UTF-16, not UTF-8 (save it as UTF-8)")
      }
    }
    const text = decode(bytes)
    if (text.length > 0) yield text
  }
  // An input of one byte.
  if (start !== undefined && start.length > 0) {
    const text = decode(start)
    if (text.length > 0) yield text
  }
  try {
    const rest = decoder.decode()
    if (rest.length > 0) yield rest
  } catch {
    throw new TextFault(newlines + 1, "the file ends in the middle of a UTF-8 character")
  }
}

/** One line of text, 1-based, without its line break (`\n` or `\r\n`). */
export interface Line {
  readonly line: number
  readonly text: string
}

/**
 * Splits text into lines, in runs: the lines each chunk completes (none is held back for the next
 * chunk, so a slow pipe's lines come as they arrive). A last line without a line break comes too. A
 * line longer than `maxLength` characters throws a {@link TextFault} without buffering more of it.
 */
export async function* splitLineRuns(source: AsyncIterable<string>, maxLength: number): AsyncGenerator<ReadonlyArray<Line>> {
  let pending = ""
  let line = 0
  for await (const chunk of source) {
    const run: Array<Line> = []
    let start = 0
    let at = chunk.indexOf("\n")
    while (at !== -1) {
      let text = pending + chunk.slice(start, at)
      pending = ""
      if (text.endsWith("\r")) text = text.slice(0, -1)
      line++
      if (text.length > maxLength) {
        if (run.length > 0) yield run
        throw new TextFault(line, `the line is longer than ${maxLength} characters`)
      }
      run.push({ line, text })
      start = at + 1
      at = chunk.indexOf("\n", start)
    }
    if (run.length > 0) yield run
    pending += chunk.slice(start)
    if (pending.length > maxLength + 1) throw new TextFault(line + 1, `the line is longer than ${maxLength} characters`)
  }
  if (pending.length > 0) {
    line++
    const text = pending.endsWith("\r") ? pending.slice(0, -1) : pending
    if (text.length > maxLength) throw new TextFault(line, `the line is longer than ${maxLength} characters`)
    yield [{ line, text }]
  }
}

/** {@link splitLineRuns}, a line at a time. */
export async function* splitLines(source: AsyncIterable<string>, maxLength: number): AsyncGenerator<Line> {
  for await (const run of splitLineRuns(source, maxLength)) yield* run
}
