// Builds of A against each other: each `name=path` is a CLI bundle (`consumer-jws.mjs` of a build),
// run in turn, round after round, as `pnpm bench` runs A (fresh IDs, one emulator process, reset
// before each run, rusage.mjs preloaded). Prints each run and the medians. For before/after figures
// of a change: a build kept from before it (a `git worktree` of the old commit, built) against this one.
//
//   node bench/compare.mjs [--rounds 5] [--ids 20000] [--concurrency 32] name=path[,--node-flag...] ...
//
// A bundle must sit in a `packages/cli/dist/` (it loads the few dependencies it does not bundle from
// there): copy an old build's `consumer-jws.mjs` next to this one's under another name.
import { spawn, spawnSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"

const here = dirname(fileURLToPath(import.meta.url))
const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rounds: { type: "string", default: "5" },
    ids: { type: "string", default: "20000" },
    concurrency: { type: "string", default: "32" }
  }
})
const rounds = Number(flags.rounds)
const ids = Number(flags.ids)
const builds = positionals.map((spec) => {
  const at = spec.indexOf("=")
  if (at < 1) throw new Error(`expected name=path[,--node-flag...], got ${spec}`)
  const [path, ...nodeFlags] = spec.slice(at + 1).split(",")
  if (!existsSync(path)) throw new Error(`${path} is missing`)
  return { name: spec.slice(0, at), path: resolve(path), nodeFlags }
})
if (builds.length === 0) throw new Error("name at least one build: name=path")

const work = mkdtempSync(join(tmpdir(), "consumer-jws-compare-"))
const emulator = spawn(process.execPath, [join(here, "../packages/emulator/dist/bin.js"), "--key-bits", "1024", "--seed", "1"], {
  stdio: ["ignore", "pipe", "inherit"]
})
process.on("exit", () => {
  emulator.kill()
  rmSync(work, { recursive: true, force: true })
})
const url = await new Promise((done) => createInterface({ input: emulator.stdout }).once("line", (line) => done(line.trim())))

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
const results = new Map(builds.map((build) => [build.name, []]))
for (let round = 1; round <= rounds; round++) {
  for (const build of builds) {
    // Fresh IDs of one length for every run: the emulator keeps the tokens it signed.
    const prefix = `c${randomBytes(4).toString("hex")}-`
    const input = join(work, "ids.csv")
    writeFileSync(input, ["consumer_id", ...Array.from({ length: ids }, (_, i) => prefix + String(i).padStart(7, "0"))].join("\n") + "\n")
    const output = join(work, "out.jsonl")
    const usageFile = join(work, "rusage.jsonl")
    rmSync(output, { force: true })
    rmSync(usageFile, { force: true })
    await fetch(`${url}/__reset`, { method: "POST" })
    const started = process.hrtime.bigint()
    const run = spawnSync(process.execPath, [
      ...build.nodeFlags,
      "--import",
      join(here, "rusage.mjs"),
      build.path,
      "batch",
      input,
      "--output",
      output,
      "--concurrency",
      flags.concurrency,
      "--progress",
      "none"
    ], {
      env: {
        ...process.env,
        BENCH_RUSAGE_FILE: usageFile,
        LP_CSDS_URL: url,
        LP_ACCOUNT_ID: "12345678",
        LP_CLIENT_ID: "emulator-client-id",
        LP_CLIENT_SECRET: "emulator-client-secret"
      }
    })
    const wallMs = Number(process.hrtime.bigint() - started) / 1e6
    const issued = existsSync(output) ? readFileSync(output, "utf8").split("\n").filter((line) => line.includes("\"status\":\"issued\"")).length : 0
    if (run.status !== 0 || issued !== ids || !existsSync(usageFile)) {
      throw new Error(`${build.name}: exit ${run.status}, ${issued} of ${ids} issued\n${run.stderr.toString().slice(-2000)}`)
    }
    const usage = JSON.parse(readFileSync(usageFile, "utf8").trim().split("\n").at(-1))
    const figures = {
      idsPerSecond: issued * 1000 / wallMs,
      cpuMicrosPerToken: (usage.userMs + usage.systemMs) * 1000 / issued,
      maxRssMb: usage.maxRssKb / 1024
    }
    results.get(build.name).push(figures)
    console.log(`${round} ${build.name.padEnd(12)} ${figures.idsPerSecond.toFixed(0)} IDs/s ${figures.cpuMicrosPerToken.toFixed(0)} µs CPU/token ${figures.maxRssMb.toFixed(0)} MB`)
  }
}
for (const [name, runs] of results) {
  console.log(
    `median ${name.padEnd(12)} ${median(runs.map((r) => r.idsPerSecond)).toFixed(0)} IDs/s ${median(runs.map((r) => r.cpuMicrosPerToken)).toFixed(0)} µs CPU/token ${median(runs.map((r) => r.maxRssMb)).toFixed(0)} MB`
  )
}
emulator.kill()
