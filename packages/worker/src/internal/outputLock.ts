/**
 * One run at a time per results file: `<output>.lock`, created exclusively and holding the writer's
 * process ID and host, removed when the run ends. Two runs appending to one file (the same command
 * in two terminals, a resume started while the first run still goes) would both issue the rows the
 * other has not written yet: duplicated tokens, and resume state that neither run wrote alone.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as NodeFs from "node:fs"
import * as Os from "node:os"
import { OutputLockedError, type OutputWriteError } from "../BatchError.js"
import { writeError } from "./output.js"

/** The lock file of the results file `output`. */
export const pathOf = (output: string): string => `${output}.lock`

interface Holder {
  readonly pid: number
  readonly host: string
}

const parse = (text: string): Holder | undefined => {
  const [pid, host] = text.split("\n")
  const number = Number(pid)
  return Number.isInteger(number) && number > 0 && host !== undefined ? { pid: number, host } : undefined
}

// Whether a process of this host is gone: signal 0 checks without sending anything. EPERM means it
// exists under another user.
const isGone = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return false
  } catch (error) {
    return (error as { readonly code?: unknown }).code === "ESRCH"
  }
}

const create = (lock: string): boolean => {
  try {
    NodeFs.writeFileSync(lock, `${process.pid}\n${Os.hostname()}\n`, { flag: "wx", mode: 0o600 })
    return true
  } catch (error) {
    if ((error as { readonly code?: unknown }).code === "EEXIST") return false
    throw error
  }
}

const take = (output: string): void => {
  const lock = pathOf(output)
  if (create(lock)) return
  const holder = parse(NodeFs.readFileSync(lock, "utf8"))
  // A lock left by a run of this host that died without removing it (a crash, a kill -9) is taken
  // over; any other is respected: its run may still be writing.
  if (holder !== undefined && holder.host === Os.hostname() && isGone(holder.pid)) {
    NodeFs.rmSync(lock, { force: true })
    if (create(lock)) return
  }
  throw new OutputLockedError({
    path: output,
    lock,
    ...(holder === undefined ? {} : { pid: holder.pid, host: holder.host })
  })
}

/**
 * Takes the lock of `output` for the scope: fails with `OutputLockedError` while another live run
 * holds it, takes over one left by a dead process of this host, and removes it when the scope closes.
 */
export const acquire = (output: string): Effect.Effect<void, OutputLockedError | OutputWriteError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.try({
      try: () => take(output),
      // Named after the output: its lock is this module's detail, the directory is the same.
      catch: (error) => error instanceof OutputLockedError ? error : writeError(output)(error)
    }),
    // Removed only while it is still this process's: never another run's.
    () =>
      Effect.sync(() => {
        const lock = pathOf(output)
        try {
          if (parse(NodeFs.readFileSync(lock, "utf8"))?.pid === process.pid) NodeFs.rmSync(lock, { force: true })
        } catch {
          // Already gone.
        }
      })
  )
