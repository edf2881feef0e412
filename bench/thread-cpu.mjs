// Preloaded into a client (`node --import ./bench/thread-cpu.mjs ...`): at exit, prints to stderr the
// CPU time of its main thread and of its other threads (V8's compiler and GC helpers, libuv's pool),
// read from /proc/self/task (Linux only). Shows what a process spends besides running its own code.
import { readdirSync, readFileSync } from "node:fs"

process.on("exit", () => {
  const cpuMs = (tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return (Number(fields[11]) + Number(fields[12])) * 10 // utime + stime, in clock ticks of 10 ms
  }
  let main = 0
  let others = 0
  for (const tid of readdirSync("/proc/self/task")) {
    try {
      if (Number(tid) === process.pid) main = cpuMs(tid)
      else others += cpuMs(tid)
    } catch {
      // the thread ended while it was read
    }
  }
  process.stderr.write(`${JSON.stringify({ mainThreadCpuMs: main, otherThreadsCpuMs: others })}\n`)
})
