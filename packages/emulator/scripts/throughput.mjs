#!/usr/bin/env node
// Measures ConsumerJWS issuance throughput of one emulator process, from a separate client process.
//
//   node packages/emulator/scripts/throughput.mjs [--key-bits 2048] [--requests 20000] [--concurrency 64]
//
// Starts `dist/bin.js` as a child process (build it first: npx tsc -b packages/emulator/tsconfig.src.json),
// gets an AppJWT, then issues ConsumerJWS tokens for distinct IDs over keep-alive connections
// (plain node:http, no client library) and prints tokens per second.
import { spawn } from "node:child_process"
import * as Http from "node:http"
import * as Path from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"

const { values } = parseArgs({
  options: {
    "key-bits": { type: "string", default: "2048" },
    requests: { type: "string", default: "20000" },
    concurrency: { type: "string", default: "64" },
    warmup: { type: "string", default: "1000" }
  }
})
const requests = Number(values.requests)
const concurrency = Number(values.concurrency)
const warmup = Number(values.warmup)
const bin = Path.join(Path.dirname(fileURLToPath(import.meta.url)), "..", "dist", "bin.js")

const child = spawn(process.execPath, [bin, "--key-bits", values["key-bits"]], { stdio: ["ignore", "pipe", "inherit"] })
const url = await new Promise((resolve, reject) => {
  createInterface({ input: child.stdout }).once("line", resolve)
  child.once("exit", (code) => reject(new Error(`the emulator exited with ${code}`)))
})
const { hostname, port } = new URL(url)
const agent = new Http.Agent({ keepAlive: true, maxSockets: concurrency })

const request = (method, path, headers, body) =>
  new Promise((resolve, reject) => {
    const req = Http.request({ agent, hostname, port, method, path, headers }, (res) => {
      const chunks = []
      res.on("data", (chunk) => chunks.push(chunk))
      res.on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString("utf8") }))
    })
    req.on("error", reject)
    req.end(body)
  })

const account = "12345678"
const sentinel = await request(
  "POST",
  `/sentinel/api/account/${account}/app/token?v=1.0&grant_type=client_credentials`,
  { "content-type": "application/x-www-form-urlencoded" },
  "client_id=emulator-client-id&client_secret=emulator-client-secret"
)
const appJwt = JSON.parse(sentinel.body).access_token

let next = 0
const run = async (total, prefix) => {
  let issued = 0
  const worker = async () => {
    while (next < total) {
      const id = `${prefix}-${next++}`
      const body = JSON.stringify({ ext_consumer_id: id })
      const res = await request(
        "POST",
        `/api/account/${account}/consumer?v=1.0`,
        { authorization: appJwt, "content-type": "application/json", "content-length": Buffer.byteLength(body) },
        body
      )
      if (res.status !== 201) throw new Error(`IDP answered ${res.status}: ${res.body}`)
      issued++
    }
  }
  const started = performance.now()
  await Promise.all(Array.from({ length: concurrency }, worker))
  return { issued, seconds: (performance.now() - started) / 1000 }
}

await run(warmup, "warmup")
next = 0
const { issued, seconds } = await run(requests, "id")
const stats = JSON.parse((await request("GET", "/__stats", {})).body)
console.log(
  `${values["key-bits"]}-bit key, ${issued} distinct IDs, concurrency ${concurrency}: ` +
    `${Math.round(issued / seconds)} tokens/s (${seconds.toFixed(2)} s; emulator saw maxInFlight ${stats.maxInFlight})`
)
agent.destroy()
child.kill("SIGTERM")
await new Promise((resolve) => child.once("exit", resolve))
