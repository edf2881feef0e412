import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { createInterface } from "node:readline"
import * as Client from "./support/LpClient.js"

// The built bin: `npx tsc -b packages/emulator/tsconfig.json` runs before the tests.
const bin = Path.join(import.meta.dirname, "..", "dist", "bin.js")

interface Running {
  readonly child: ChildProcess.ChildProcess
  readonly firstLine: Promise<string>
  readonly exit: Promise<number | null>
  readonly stderr: () => string
}

const spawnBin = (args: ReadonlyArray<string>, env: Record<string, string> = {}): Running => {
  const child = ChildProcess.spawn(process.execPath, [bin, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env }
  })
  let stderr = ""
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")))
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  const firstLine = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", resolve)
    void exit.then((code) => reject(new Error(`exited with ${code} before printing: ${stderr}`)))
  })
  // Tests that expect an early exit never await the line.
  firstLine.catch(() => undefined)
  return { child, firstLine, exit, stderr: () => stderr }
}

/** The bin as a scoped resource: killed (SIGKILL) if a test fails before it stops it. */
const scopedBin = (args: ReadonlyArray<string>, env?: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.sync(() => spawnBin(args, env)),
    (running) => Effect.sync(() => running.child.exitCode === null && running.child.kill("SIGKILL"))
  )

describe("consumer-jws-emulator bin", () => {
  it.scoped("prints the CSDS URL first, serves the flow with the secret from the environment, exits 0 on SIGTERM", () =>
    Effect.gen(function*() {
      assert.isTrue(Fs.existsSync(bin), "build the emulator first")
      const running = yield* scopedBin(
        ["--account", "le31457780", "--client-id", "bin-app", "--key-bits", "1024", "--seed", "5", "--expires-in"],
        { LP_CLIENT_SECRET: "from-env" }
      )
      const url = yield* Effect.promise(() => running.firstLine)
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/)
      const domain = yield* Effect.promise(() => Client.getJson(Client.csdsUrl(url, "le31457780", "idp")))
      assert.deepStrictEqual(domain, { service: "idp", account: "le31457780", baseURI: url.slice("http://".length) })
      const sentinel = yield* Effect.promise(() => Client.requestAppJwt(url, "le31457780", "bin-app", "from-env"))
      assert.strictEqual(Client.label(sentinel), "200")
      const body = JSON.parse(sentinel._tag === "Response" ? sentinel.text : "{}") as Record<string, unknown>
      assert.strictEqual(body["expires_in"], 3600)
      const issued = yield* Effect.promise(() =>
        Client.requestConsumerJws(url, "le31457780", body["access_token"] as string, `{"ext_consumer_id":"x"}`)
      )
      assert.strictEqual(Client.label(issued), "201")

      running.child.kill("SIGTERM")
      assert.strictEqual(yield* Effect.promise(() => running.exit), 0)
    }))

  it.scoped("takes fault flags and the secret from a file, and exits 0 on SIGINT", () =>
    Effect.gen(function*() {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "emulator-bin-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true })))
      const secretFile = Path.join(dir, "secret")
      Fs.writeFileSync(secretFile, "from-file\n")
      const running = yield* scopedBin(
        ["--key-bits", "1024", "--client-secret-file", secretFile, "--rate-500", "1"],
        { LP_CLIENT_SECRET: "ignored" }
      )
      const url = yield* Effect.promise(() => running.firstLine)
      const token = yield* Effect.promise(() => Client.appJwt(url, "12345678", "emulator-client-id", "from-file"))
      const issued = yield* Effect.promise(() => Client.requestConsumerJws(url, "12345678", token, `{"ext_consumer_id":"x"}`))
      assert.strictEqual(Client.label(issued), "500")
      running.child.kill("SIGINT")
      assert.strictEqual(yield* Effect.promise(() => running.exit), 0)
    }))

  it.scoped("refuses a secret given as a flag value, and bad numbers, with exit code 1", () =>
    Effect.gen(function*() {
      for (const args of [["--client-secret", "s3cret"], ["--rate-429", "lots"], ["--rate-429", "2"]]) {
        const running = yield* scopedBin(args)
        assert.strictEqual(yield* Effect.promise(() => running.exit), 1, args.join(" "))
        assert.notInclude(running.stderr(), "s3cret")
      }
    }))
})
