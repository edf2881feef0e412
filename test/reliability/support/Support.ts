/**
 * Shared pieces of the reliability tests: the client against an emulator (or any CSDS URL), temporary
 * directories, the results file read back, small node:http servers, and the built CLI as a process.
 */
import { ConsumerJwsClient, RetryPolicy, UndiciHttpClient } from "@consumer-jws/core"
import type { HttpClient } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { Duration, Effect, Layer, Redacted } from "effect"
import { spawn } from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

/** Where a client finds its account: an emulator, or a CSDS of a test's own with the emulator's credentials. */
export interface Target {
  readonly accountId: string
  readonly clientId: string
  readonly clientSecret: Redacted.Redacted<string>
  readonly url: string
}

/** A retry policy for tests: short waits, a short attempt timeout (for hangs), many attempts. */
export const testPolicy = (overrides: Partial<RetryPolicy.Settings> = {}) =>
  RetryPolicy.layer({
    attemptTimeout: Duration.seconds(2),
    deadline: Duration.minutes(5),
    maxAttempts: 12,
    baseDelay: Duration.millis(20),
    maxDelay: Duration.seconds(1),
    ...overrides
  })

/** The whole client (undici unless `httpClient` is given), a file system, and a retry policy, against `target`. */
export const clientLayer = (
  target: Target,
  policy: Partial<RetryPolicy.Settings> = {},
  overrides: {
    readonly csdsUrl?: string
    readonly clientSecret?: string
    readonly renewBefore?: Duration.DurationInput
    readonly httpClient?: Layer.Layer<HttpClient.HttpClient>
  } = {}
) =>
  ConsumerJwsClient.layer(ConsumerJwsClient.makeSettings({
    accountId: target.accountId,
    clientId: target.clientId,
    clientSecret: overrides.clientSecret === undefined ? target.clientSecret : Redacted.make(overrides.clientSecret),
    csdsUrl: overrides.csdsUrl ?? target.url,
    renewBefore: overrides.renewBefore
  })).pipe(
    Layer.provide(overrides.httpClient ?? UndiciHttpClient.layer),
    Layer.merge(NodeContext.layer),
    // Provided to the client's construction too: the domain cache runs its lookups in the context the
    // layer was built in, so a policy merged alongside would not reach them (see GUARANTEES.md).
    Layer.provideMerge(testPolicy(policy))
  )

/** A temporary directory, removed when the scope closes. */
export const tempDirectory = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "consumer-jws-reliability-"))),
  (directory) => Effect.sync(() => Fs.rmSync(directory, { recursive: true, force: true }))
)

/** `count` distinct IDs. */
export const idsOf = (prefix: string, count: number): Array<string> =>
  Array.from({ length: count }, (_, i) => `${prefix}-${i}`)

/** One record of a JSON Lines results file. */
export interface ResultRecord {
  readonly consumer_id: string
  readonly status: "issued" | "failed" | "rejected"
  readonly line?: number
  readonly lp_consumer_id?: string
  readonly token?: string
  readonly attempts?: number
  readonly error?: string
  readonly message?: string
}

/** The records of a JSON Lines results file (none when it does not exist). */
export const readRecords = (path: string): Array<ResultRecord> =>
  Fs.existsSync(path)
    ? Fs.readFileSync(path, "utf8").split("\n").filter((line) => line.length > 0).map((line) => JSON.parse(line) as ResultRecord)
    : []

/** How many records each ID has, by status. */
export const countById = (records: ReadonlyArray<ResultRecord>) => {
  const counts = new Map<string, number>()
  for (const record of records) counts.set(record.consumer_id, (counts.get(record.consumer_id) ?? 0) + 1)
  return counts
}

/** A node:http server on 127.0.0.1, closed (every connection destroyed) with the scope. */
export const httpServer = (handler: Http.RequestListener) =>
  Effect.acquireRelease(
    Effect.async<{ readonly server: Http.Server; readonly port: number; readonly url: string }>((resume) => {
      const server = Http.createServer(handler)
      server.listen(0, "127.0.0.1", () => {
        const port = (server.address() as Net.AddressInfo).port
        resume(Effect.succeed({ server, port, url: `http://127.0.0.1:${port}` }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )

/** A TCP server that accepts connections and never answers (nor reads), closed with the scope. */
export const silentServer = (host = "127.0.0.1") =>
  Effect.acquireRelease(
    Effect.async<{ readonly server: Net.Server; readonly port: number; readonly sockets: Set<Net.Socket>; readonly firstBytes: Array<number> }>(
      (resume) => {
        const sockets = new Set<Net.Socket>()
        const firstBytes: Array<number> = []
        const server = Net.createServer((socket) => {
          sockets.add(socket)
          socket.once("data", (chunk: Buffer) => firstBytes.push(chunk[0] ?? -1))
          socket.on("error", () => undefined)
          socket.on("close", () => sockets.delete(socket))
        })
        server.listen(0, host, () => resume(Effect.succeed({ server, port: (server.address() as Net.AddressInfo).port, sockets, firstBytes })))
      }
    ),
    ({ server, sockets }) =>
      Effect.async<void>((resume) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resume(Effect.void))
      })
  )

/** The CSDS answer naming `baseURI` for whatever service is asked. */
export const csdsAnswer = (response: Http.ServerResponse, baseURI: string) => {
  response.writeHead(200, { "content-type": "application/json" })
  response.end(JSON.stringify({ service: "idp", account: "123", baseURI }))
}

/** The built executable of the CLI. */
export const cliBin = fileURLToPath(new URL("../../../packages/cli/dist/consumer-jws.mjs", import.meta.url))

/** What a CLI run left behind. */
export interface CliResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** Starts the CLI with a clean environment (`env` besides PATH and HOME): the developer's LP_* never leak in. */
export const startCli = (args: ReadonlyArray<string>, env: Readonly<Record<string, string>> = {}) => {
  if (!Fs.existsSync(cliBin)) throw new Error(`${cliBin} is missing: build first with npx -y pnpm@10.34.8 build`)
  const child = spawn(process.execPath, [cliBin, ...args], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", NO_COLOR: "1", ...env },
    stdio: ["pipe", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
  child.stdin.end()
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on("error", reject)
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
  return { child, done, stdout: () => stdout, stderr: () => stderr }
}

/** Runs the CLI to its end. */
export const runCli = (args: ReadonlyArray<string>, env: Readonly<Record<string, string>> = {}) => startCli(args, env).done

/** The environment that points the CLI at `target`. */
export const envOf = (target: Target, overrides: Record<string, string> = {}): Record<string, string> => ({
  LP_ACCOUNT_ID: target.accountId,
  LP_CLIENT_ID: target.clientId,
  LP_CLIENT_SECRET: Redacted.value(target.clientSecret),
  LP_CSDS_URL: target.url,
  ...overrides
})

/** Whether `token`'s RS256 signature verifies with the first key of `jwks`. */
export const verifies = (token: string, jwks: { readonly keys: ReadonlyArray<object> }): boolean => {
  const [header, payload, signature] = token.split(".")
  const key = Crypto.createPublicKey({ key: { ...jwks.keys[0] } as Crypto.JsonWebKey, format: "jwk" })
  return Crypto.verify("RSA-SHA256", Buffer.from(`${header}.${payload}`), key, Buffer.from(signature ?? "", "base64url"))
}

/** Resolves after `millis`. */
export const sleep = (millis: number) => new Promise<void>((resolve) => setTimeout(resolve, millis))

/** Anything shaped like a JWT (header and payload both JSON objects in base64url). */
export const jwtShape = /eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/g
