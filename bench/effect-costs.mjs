// What the Effect runtime charges per operation on this machine, to size per-request overhead:
// a plain async step, a fork + join, and one and two nested `Effect.timeoutFail` (each timeout races
// the work against a sleep: two forked fibers). CPU time per operation, 32 at once, second round.
//
//   node bench/effect-costs.mjs [operations]
import { Duration, Effect, Fiber } from "effect"

const operations = Number(process.argv[2] ?? 50_000)
const step = Effect.async((resume) => void setImmediate(() => resume(Effect.succeed(1))))
const timeout = (seconds) => Effect.timeoutFail({ duration: Duration.seconds(seconds), onTimeout: () => new Error("timeout") })
const variants = {
  "async step": step,
  "fork + join": Effect.flatMap(Effect.fork(step), Fiber.join),
  "one timeoutFail": step.pipe(timeout(10)),
  "two nested timeoutFail": step.pipe(timeout(10), timeout(60))
}
for (const round of [1, 2]) {
  for (const [name, effect] of Object.entries(variants)) {
    const before = process.cpuUsage()
    await Effect.runPromise(Effect.forEach(Array.from({ length: operations }), () => effect, { concurrency: 32, discard: true }))
    const used = process.cpuUsage(before)
    if (round === 2) console.log(`${name.padEnd(24)} ${((used.user + used.system) / operations).toFixed(1)} µs CPU`)
  }
}
