// Counts the Effect runtime steps (ops the fiber runtime evaluates) that a batch takes per ID, by
// kind, with a supervisor that sees every op of the batch's fibers. Each step costs ~1-4 µs of CPU,
// so this is the figure to bring down when a batch's CPU per token is to fall; it does not depend
// on how busy the machine is. The emulator runs in this process, outside the counted fibers.
//   npx -y pnpm@10.34.8 build && node packages/worker/scripts/effect-steps.mjs [ids] [concurrency]
import { ConsumerJwsClient, UndiciHttpClient } from "@consumer-jws/core"
import { Emulator } from "@consumer-jws/emulator"
import { NodeContext } from "@effect/platform-node"
import { Effect, Layer, RuntimeFlags, RuntimeFlagsPatch, Supervisor } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Batch } from "../dist/index.js"

const ids = Number(process.argv[2] ?? 2000)
const concurrency = Number(process.argv[3] ?? 32)

class StepCounter extends Supervisor.AbstractSupervisor {
  value = Effect.void
  steps = new Map()
  onEffect(_fiber, effect) {
    const kind = effect._op === "Commit" && process.env.STEPS_DETAIL ? `Commit:${effect.constructor?.name}:${String(effect.commit).slice(0, 80)}` : effect._op
    this.steps.set(kind, (this.steps.get(kind) ?? 0) + 1)
  }
}

const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-steps-"))
const input = Path.join(dir, "ids.txt")
Fs.writeFileSync(input, Array.from({ length: ids }, (_, i) => `steps-${i}`).join("\n") + "\n")

const counter = new StepCounter()
const summary = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
  const emulator = yield* Emulator.make({ keyBits: 1024 })
  const client = ConsumerJwsClient.layer(ConsumerJwsClient.makeSettings({
    accountId: emulator.accountId,
    clientId: emulator.clientId,
    clientSecret: emulator.clientSecret,
    csdsUrl: emulator.url
  })).pipe(Layer.provide(UndiciHttpClient.layer), Layer.merge(NodeContext.layer))
  return yield* Batch.run({ input, output: Path.join(dir, "out.jsonl"), progress: "none", concurrency }).pipe(
    Effect.provide(client),
    Effect.supervised(counter),
    Effect.withRuntimeFlagsPatch(RuntimeFlagsPatch.enable(RuntimeFlags.OpSupervision))
  )
})))
Fs.rmSync(dir, { recursive: true, force: true })

const total = [...counter.steps.values()].reduce((sum, n) => sum + n, 0)
const perId = (n) => Math.round((n / ids) * 10) / 10
console.log(JSON.stringify({
  ids,
  issued: summary.counts.issued,
  stepsPerId: perId(total),
  byKind: Object.fromEntries([...counter.steps].sort((a, b) => b[1] - a[1]).map(([op, n]) => [op, perId(n)]))
}))
