/**
 * Seeing a batch run: a live bar on a terminal, a JSON line every few seconds otherwise, or nothing;
 * and a callback for library users.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/** Where a run is. */
export interface Snapshot {
  /** Rows read so far (data rows). */
  readonly rows: number
  /** The expected number of rows (from a quick line count of the file), `undefined` for stdin. */
  readonly total: number | undefined
  readonly issued: number
  readonly failed: number
  readonly rejected: number
  /** Duplicates, already issued, already rejected and other shards' rows. */
  readonly skipped: number
  /** IDP requests in flight. */
  readonly inFlight: number
  /** HTTP 429 answers so far. */
  readonly rateLimited: number
  readonly elapsedMillis: number
  /** Rows per second over the last interval; in the last report, over the whole run. */
  readonly ratePerSecond: number
  /** Seconds left at the current rate, when the total is known. */
  readonly etaSeconds: number | undefined
}

/** How progress is shown: `auto` is a bar on a terminal (stderr), JSON lines otherwise. */
export type Mode = "auto" | "bar" | "json" | "none"

/** How often the bar is redrawn. */
export const barInterval = Duration.millis(250)

const clock = (seconds: number | undefined): string => {
  if (seconds === undefined || !Number.isFinite(seconds)) return "--:--"
  const s = Math.max(0, Math.round(seconds))
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const pad = (n: number) => String(n).padStart(2, "0")
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${pad(m)}:${pad(s % 60)}`
}

/** One line of the bar: `[#####.....] 5000/10000 50% 812/s ETA 00:06 failed 3 rejected 1 429s 0`. */
export const renderBar = (snapshot: Snapshot, width = 24): string => {
  const done = snapshot.rows
  const fraction = snapshot.total !== undefined && snapshot.total > 0 ? Math.min(1, done / snapshot.total) : undefined
  const filled = fraction === undefined ? 0 : Math.round(fraction * width)
  const bar = fraction === undefined ? "" : `[${"#".repeat(filled)}${".".repeat(width - filled)}] `
  const count = snapshot.total === undefined ? `${done}` : `${done}/${snapshot.total} ${Math.floor((fraction ?? 0) * 100)}%`
  return `${bar}${count} ${snapshot.ratePerSecond.toFixed(0)}/s ETA ${clock(snapshot.etaSeconds)} ` +
    `issued ${snapshot.issued} failed ${snapshot.failed} rejected ${snapshot.rejected} 429s ${snapshot.rateLimited}`
}

/** The JSON line for non-terminals. */
export const renderJson = (snapshot: Snapshot): string => JSON.stringify({ progress: snapshot })

/** The mode `auto` resolves to for this process. */
export const resolveMode = (mode: Mode): Exclude<Mode, "auto"> =>
  mode === "auto" ? (process.stderr.isTTY === true ? "bar" : "json") : mode

/** Whether any progress is reported: shown, or handed to `onProgress`. */
export const isReported = (mode: Mode, onProgress: ((snapshot: Snapshot) => void) | undefined): boolean =>
  resolveMode(mode) !== "none" || onProgress !== undefined

/**
 * Reports progress until the scope closes: every {@link barInterval} for the bar, every `interval`
 * otherwise; calls `onProgress` at each report. The bar is finished with a last line when done.
 */
export const report = (options: {
  readonly mode: Mode
  readonly interval: Duration.Duration
  readonly snapshot: (previous: { readonly rows: number; readonly atMillis: number } | undefined) => Effect.Effect<Snapshot>
  readonly onProgress: ((snapshot: Snapshot) => void) | undefined
}): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const mode = resolveMode(options.mode)
    if (!isReported(mode, options.onProgress)) return
    let previous: { rows: number; atMillis: number } | undefined
    const show = (snapshot: Snapshot) =>
      Effect.sync(() => {
        previous = { rows: snapshot.rows, atMillis: snapshot.elapsedMillis }
        options.onProgress?.(snapshot)
        if (mode === "bar") process.stderr.write(`\r\x1b[K${renderBar(snapshot)}`)
        else if (mode === "json") process.stderr.write(`${renderJson(snapshot)}\n`)
      })
    const tick = Effect.suspend(() => options.snapshot(previous)).pipe(Effect.flatMap(show))
    // The last report's rate is the whole run's: over its last moments alone it is mostly 0/s.
    const last = options.snapshot(undefined).pipe(Effect.flatMap(show))
    yield* Effect.addFinalizer(() => last.pipe(Effect.zipRight(Effect.sync(() => mode === "bar" && process.stderr.write("\n")))))
    yield* tick.pipe(
      Effect.delay(mode === "bar" ? barInterval : options.interval),
      Effect.forever,
      Effect.forkScoped
    )
  })
