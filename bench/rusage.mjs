// Preloaded into a measured client (`node --import ./rusage.mjs ...`): at exit, appends the
// process's own CPU time and peak RSS, all threads included, as one JSON line to $BENCH_RUSAGE_FILE.
import { appendFileSync } from "node:fs"

const file = process.env.BENCH_RUSAGE_FILE
const started = performance.now()
if (file) {
  process.on("exit", () => {
    const usage = process.resourceUsage()
    appendFileSync(file, JSON.stringify({
      userMs: usage.userCPUTime / 1000,
      systemMs: usage.systemCPUTime / 1000,
      maxRssKb: usage.maxRSS,
      wallMs: performance.now() - started
    }) + "\n")
  })
}
