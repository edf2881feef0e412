// Preloaded into a measured client (`node --import ./rusage.mjs ...`): at exit, appends the
// process's own CPU time and peak RSS, all threads included, as one JSON line to $BENCH_RUSAGE_FILE
// (`/dev/stderr` to see it). On Linux it also gives the main thread's share of the CPU
// (`mainThreadMs`): the rest is V8's compiler and GC helpers and libuv's pool.
import { appendFileSync, readFileSync } from "node:fs"

const file = process.env.BENCH_RUSAGE_FILE
const started = performance.now()

// utime + stime of the main thread, from /proc (clock ticks of 10 ms); undefined where there is none.
const mainThreadMs = () => {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return undefined
  }
}

if (file) {
  process.on("exit", () => {
    const usage = process.resourceUsage()
    appendFileSync(file, JSON.stringify({
      userMs: usage.userCPUTime / 1000,
      systemMs: usage.systemCPUTime / 1000,
      mainThreadMs: mainThreadMs(),
      maxRssKb: usage.maxRSS,
      wallMs: performance.now() - started
    }) + "\n")
  })
}
