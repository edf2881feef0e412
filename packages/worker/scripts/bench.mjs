// Runs one batch of ROWS fresh IDs against an emulator in this process and prints the summary as
// JSON. The README's throughput and peak-RSS figures come from it:
//   npx tsc -b packages/worker/tsconfig.src.json packages/emulator/tsconfig.src.json
//   /usr/bin/time -v node packages/worker/scripts/bench.mjs 100000 [concurrency] [undici|fetch]
// ("Maximum resident set size" is the peak RSS; it includes the emulator's own memory.)
import { ConsumerJwsClient } from "@consumer-jws/core"
import { Emulator } from "@consumer-jws/emulator"
import { FetchHttpClient } from "@effect/platform"
import { NodeContext, NodeHttpClient } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Batch, Summary } from "../dist/index.js"

const rows = Number(process.argv[2] ?? 10000)
const concurrency = Number(process.argv[3] ?? 16)
const http = process.argv[4] === "fetch" ? FetchHttpClient.layer : NodeHttpClient.layerUndici

const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "worker-bench-"))
const input = Path.join(dir, "in.txt")
const out = Fs.createWriteStream(input)
for (let i = 0; i < rows; i++) out.write(`bench-consumer-${i}\n`)
await new Promise((resolve) => out.end(resolve))

const program = Effect.scoped(Effect.gen(function*() {
  const emulator = yield* Emulator.make({ keyBits: 1024 })
  const client = ConsumerJwsClient.layer(ConsumerJwsClient.makeSettings({
    accountId: emulator.accountId,
    clientId: emulator.clientId,
    clientSecret: emulator.clientSecret,
    csdsUrl: emulator.url
  })).pipe(Layer.provide(http), Layer.merge(NodeContext.layer))
  const summary = yield* Batch.run({ input, output: Path.join(dir, "out.jsonl"), concurrency, progress: "none" }).pipe(
    Effect.provide(client)
  )
  const stats = yield* emulator.stats
  return { summary, distinct: stats.distinctConsumerIds, duplicates: stats.duplicateIssuances }
}))

const { summary, distinct, duplicates } = await Effect.runPromise(program)
console.log(Summary.render(summary))
console.log(JSON.stringify({ rows, concurrency, http: process.argv[4] ?? "undici", distinct, duplicates, rssMiB: Math.round(process.memoryUsage().rss / 1048576) }))
Fs.rmSync(dir, { recursive: true, force: true })
