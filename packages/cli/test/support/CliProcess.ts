/**
 * Runs the built `consumer-jws` as a child process, with a clean environment: the developer's own
 * LP_* variables never leak into a test.
 */
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import { fileURLToPath } from "node:url"

/** The built executable. */
export const bin = fileURLToPath(new URL("../../dist/consumer-jws.mjs", import.meta.url))

/** What a run left behind. */
export interface Result {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** Fails fast, with what to do, when the CLI has not been built. */
export const assertBuilt = () => {
  if (!Fs.existsSync(bin)) throw new Error(`${bin} is missing: build first with npx tsc -b packages/cli/tsconfig.src.json`)
}

/** Starts the CLI; `env` is the whole environment besides PATH and HOME. */
export const start = (args: ReadonlyArray<string>, env: Readonly<Record<string, string>> = {}) => {
  const child = spawn(process.execPath, [bin, ...args], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", NO_COLOR: "1", ...env },
    stdio: ["pipe", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
  const done = new Promise<Result>((resolve, reject) => {
    child.on("error", reject)
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
  return {
    child,
    done,
    stdout: () => stdout,
    stderr: () => stderr,
    /** Resolves once stdout or stderr holds `text`. */
    waitFor: (text: string, stream: "stdout" | "stderr" = "stdout") =>
      new Promise<void>((resolve, reject) => {
        const check = () => ((stream === "stdout" ? stdout : stderr).includes(text) ? resolve() : undefined)
        child[stream].on("data", check)
        child.on("close", () => reject(new Error(`exited before writing ${JSON.stringify(text)}: ${stderr}`)))
        check()
      })
  }
}

/** Runs the CLI to its end, with `stdin` as its input. */
export const run = (args: ReadonlyArray<string>, env: Readonly<Record<string, string>> = {}, stdin = ""): Promise<Result> => {
  const process = start(args, env)
  process.child.stdin.end(stdin)
  return process.done
}
