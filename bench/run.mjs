// `pnpm bench`: the product (A: `consumer-jws batch`) measured side by side with what a user would
// write instead (B: fetch + a pool of async workers; C: node:http keep-alive + the same pool), in one
// run, against one emulator process. Plain Node, no project code in the clients it compares.
//
//   node bench/run.mjs [--rounds 3] [--ids 20000] [--concurrency 32] [--memory] [--memory-rows 100000,1000000]
//                      [--no-rate] [--no-threads] [--no-first-token] [--only-memory] [--out DIR] [--cli PATH] [--smoke]
//   node bench/run.mjs --report DIR/results.json      # writes results.md and the chart again from a run's figures
//
// Each client is its own process, preloaded with rusage.mjs (user+sys CPU of all its threads, peak
// RSS); its wall time is taken here, from spawn to exit. Every run gets its own distinct IDs and the
// emulator is reset before it, so every run pays for the same number of fresh RSA signatures.
// Results: DIR/results.json, DIR/results.md and the chart: bench/results.svg (DIR/results.svg with --out).
import { spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, existsSync, createReadStream } from "node:fs"
import * as http from "node:http"
import { cpus, tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"

const here = dirname(fileURLToPath(import.meta.url))
const root = resolve(here, "..")
const paths = {
  cli: join(root, "packages/cli/dist/consumer-jws.mjs"),
  emulator: join(root, "packages/emulator/dist/bin.js"),
  rusage: join(here, "rusage.mjs"),
  fetch: join(here, "baseline-fetch.mjs"),
  http: join(here, "baseline-http.mjs"),
  firstTokenFetch: join(here, "first-token-fetch.mjs")
}

const { values: flags } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    ids: { type: "string", default: "20000" },
    concurrency: { type: "string", default: "32" },
    "key-bits": { type: "string", default: "1024" },
    memory: { type: "boolean", default: false },
    "memory-rows": { type: "string", default: "100000,1000000" },
    "no-rate": { type: "boolean", default: false },
    "no-threads": { type: "boolean", default: false },
    "no-first-token": { type: "boolean", default: false },
    "only-memory": { type: "boolean", default: false },
    rate: { type: "string", default: "200" },
    "rate-seconds": { type: "string", default: "10" },
    out: { type: "string" },
    cli: { type: "string" },
    report: { type: "string" },
    smoke: { type: "boolean", default: false },
    help: { type: "boolean", default: false }
  }
})
if (flags.help) {
  const lines = readFileSync(fileURLToPath(import.meta.url), "utf8").split("\n")
  process.stdout.write(lines.slice(0, lines.findIndex((line) => !line.startsWith("//"))).join("\n") + "\n")
  process.exit(0)
}

const smoke = flags.smoke
const rounds = smoke ? 1 : Number(flags.rounds)
const idCount = smoke ? 300 : Number(flags.ids)
const concurrency = Number(flags.concurrency)
const keyBits = Number(flags["key-bits"])
for (const [name, value] of [["rounds", rounds], ["ids", idCount], ["concurrency", concurrency], ["key-bits", keyBits]]) {
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive whole number, got ${value}`)
}
// `--cli PATH`: measure another build of the CLI as A (a bundle kept from before a change).
if (flags.cli !== undefined) paths.cli = resolve(flags.cli)
for (const path of [paths.cli, paths.emulator]) {
  if (!existsSync(path)) {
    process.stderr.write(`bench: ${path} is missing; run \`npx -y pnpm@10.34.8 build\` first\n`)
    process.exit(2)
  }
}

const work = mkdtempSync(join(tmpdir(), "consumer-jws-bench-"))
const outDir = resolve(flags.out ?? join(here, "out", smoke ? "smoke" : "."))
mkdirSync(outDir, { recursive: true })
const log = (line) => process.stderr.write(`${line}\n`)

// ---------------------------------------------------------------------------------------------
// Processes

/** Runs a command to its exit: wall time from spawn to exit, stdout and stderr, time to first stdout byte. */
const runProcess = (command, args, { env = {}, timeoutMs = 3_600_000 } = {}) =>
  new Promise((resolvePromise, reject) => {
    const started = process.hrtime.bigint()
    let firstOutputMs
    const child = spawn(command, args, { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] })
    const stdout = []
    const stderr = []
    child.stdout.on("data", (chunk) => {
      firstOutputMs ??= Number(process.hrtime.bigint() - started) / 1e6
      stdout.push(chunk)
    })
    child.stderr.on("data", (chunk) => stderr.push(chunk))
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
    child.on("error", reject)
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      resolvePromise({
        code,
        signal,
        wallMs: Number(process.hrtime.bigint() - started) / 1e6,
        firstOutputMs,
        stdout: Buffer.concat(stdout).toString("utf8"),
        stderr: Buffer.concat(stderr).toString("utf8")
      })
    })
  })

/** Runs a client under rusage.mjs and returns its exit, wall time and resource usage. */
const measured = async (args, env) => {
  const rusageFile = join(work, `rusage-${randomBytes(6).toString("hex")}.jsonl`)
  const result = await runProcess(process.execPath, ["--import", paths.rusage, ...args], {
    env: { ...env, BENCH_RUSAGE_FILE: rusageFile }
  })
  const usage = existsSync(rusageFile) ? JSON.parse(readFileSync(rusageFile, "utf8").trim().split("\n").at(-1)) : undefined
  rmSync(rusageFile, { force: true })
  return { ...result, usage }
}

/** Starts the emulator as its own process; resolves with its URL and a stop function. */
const startEmulator = () =>
  new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [paths.emulator, "--key-bits", String(keyBits), "--seed", "1"], {
      cwd: root,
      stdio: ["ignore", "pipe", "inherit"]
    })
    child.on("error", reject)
    child.on("exit", (code) => reject(new Error(`the emulator exited with code ${code} before printing its URL`)))
    createInterface({ input: child.stdout }).once("line", (url) => {
      child.removeAllListeners("exit")
      resolvePromise({
        url: url.trim(),
        stop: () =>
          new Promise((done) => {
            child.once("exit", done)
            child.kill("SIGTERM")
          })
      })
    })
  })

const emulatorRequest = (url, method = "GET") =>
  new Promise((resolvePromise, reject) => {
    const req = http.request(url, { method }, (response) => {
      const chunks = []
      response.on("data", (chunk) => chunks.push(chunk))
      response.on("end", () => resolvePromise(JSON.parse(Buffer.concat(chunks).toString("utf8"))))
    })
    req.on("error", reject)
    req.end()
  })

// ---------------------------------------------------------------------------------------------
// Inputs and outputs

let inputSerial = 0
/** A CSV of `count` IDs no other run uses, all of the same length (so every run signs alike). */
const makeInput = (count) => {
  const prefix = `b${String(inputSerial++).padStart(4, "0")}-`
  const path = join(work, `ids-${prefix}${count}.csv`)
  const width = String(count).length
  const lines = ["consumer_id"]
  for (let i = 0; i < count; i++) lines.push(`${prefix}${String(i).padStart(width, "0")}`)
  writeFileSync(path, lines.join("\n") + "\n")
  return path
}

/** Counts issued records in a JSON Lines output (the three clients write the same `status` field). */
const countIssued = async (path) => {
  if (!existsSync(path)) return 0
  let issued = 0
  for await (const line of createInterface({ input: createReadStream(path) })) {
    if (line.includes('"status":"issued"')) issued++
  }
  return issued
}

// ---------------------------------------------------------------------------------------------
// Statistics

const median = (values) => {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b)
  if (sorted.length === 0) return NaN
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}
const fixed = (value, digits = 0) => (Number.isFinite(value) ? value.toFixed(digits) : "n/a")
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? a / b : NaN)

/** Figures of one client run. */
const figures = (run, tokens) => ({
  wallMs: run.wallMs,
  idsPerSecond: tokens * 1000 / run.wallMs,
  cpuMs: run.usage ? run.usage.userMs + run.usage.systemMs : NaN,
  cpuMicrosPerToken: run.usage && tokens > 0 ? (run.usage.userMs + run.usage.systemMs) * 1000 / tokens : NaN,
  maxRssMb: run.usage ? run.usage.maxRssKb / 1024 : NaN
})

// ---------------------------------------------------------------------------------------------
// The clients

const clientEnv = (emulator) => ({
  LP_CSDS_URL: emulator.url,
  LP_ACCOUNT_ID: "12345678",
  LP_CLIENT_ID: "emulator-client-id",
  LP_CLIENT_SECRET: "emulator-client-secret"
})

const variants = {
  A: { label: "A consumer-jws batch", args: (input, output) => [paths.cli, "batch", input, "--output", output, "--concurrency", String(concurrency), "--progress", "none"] },
  A2: {
    label: "A --threads 2",
    args: (input, output) => [paths.cli, "batch", input, "--output", output, "--concurrency", String(concurrency), "--progress", "none", "--threads", "2"]
  },
  B: { label: "B fetch + async pool", args: (input, output) => [paths.fetch, input, output, String(concurrency)] },
  C: { label: "C node:http keep-alive + pool", args: (input, output) => [paths.http, input, output, String(concurrency)] }
}

/** One run of a variant over `count` fresh IDs; fails the whole bench when not every ID was issued. */
const runVariant = async (emulator, name, count, extraArgs = []) => {
  const input = makeInput(count)
  const output = join(work, `out-${name}-${inputSerial}.jsonl`)
  await emulatorRequest(`${emulator.url}/__reset`, "POST")
  const run = await measured([...variants[name].args(input, output), ...extraArgs], clientEnv(emulator))
  const issued = await countIssued(output)
  rmSync(input, { force: true })
  rmSync(output, { force: true })
  if (run.code !== 0 || issued !== count) {
    throw new Error(`${variants[name].label}: exit ${run.code ?? run.signal}, ${issued} of ${count} issued\n${run.stderr.slice(-2000)}`)
  }
  const result = { variant: name, ids: count, issued, ...figures(run, issued) }
  log(`  ${name.padEnd(2)} ${count} IDs: ${fixed(result.wallMs / 1000, 2)} s, ${fixed(result.idsPerSecond)} IDs/s, ${fixed(result.cpuMicrosPerToken)} µs CPU/token, ${fixed(result.maxRssMb)} MB peak RSS`)
  return result
}

/** Whether `--threads 2` runs at all in this build (the worker refuses values it does not support). */
const probeThreads = async (emulator) => {
  const input = makeInput(20)
  const output = join(work, "threads-probe.jsonl")
  const run = await runProcess(process.execPath, [...variants.A2.args(input, output)], { env: clientEnv(emulator) })
  rmSync(input, { force: true })
  rmSync(output, { force: true })
  return { supported: run.code === 0, code: run.code, message: run.stderr.trim().split("\n").slice(-1)[0] ?? "" }
}

// ---------------------------------------------------------------------------------------------
// Rate precision: a pass-through proxy in this process stamps each IDP request's arrival.

/** Starts a proxy in front of the emulator that rewrites CSDS answers to point at itself. */
const startArrivalProxy = async (emulator) => {
  const target = new URL(emulator.url)
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 })
  const arrivals = []
  const server = http.createServer((request, response) => {
    if (request.method === "POST" && /\/consumer\?/.test(request.url ?? "")) arrivals.push(performance.now())
    const upstream = http.request(
      { host: target.hostname, port: target.port, method: request.method, path: request.url, headers: request.headers, agent },
      (answer) => {
        const chunks = []
        answer.on("data", (chunk) => chunks.push(chunk))
        answer.on("end", () => {
          let body = Buffer.concat(chunks)
          if (/baseURI\.json/.test(request.url ?? "")) body = Buffer.from(body.toString("utf8").replaceAll(target.host, proxyHost))
          const headers = { ...answer.headers, "content-length": String(body.length) }
          delete headers["transfer-encoding"]
          response.writeHead(answer.statusCode ?? 502, headers)
          response.end(body)
        })
      }
    )
    upstream.on("error", () => response.destroy())
    request.pipe(upstream)
  })
  await new Promise((done) => server.listen(0, "127.0.0.1", done))
  const proxyHost = `127.0.0.1:${server.address().port}`
  return {
    url: `http://${proxyHost}`,
    arrivals,
    stop: () => new Promise((done) => {
      agent.destroy()
      server.closeAllConnections()
      server.close(done)
    })
  }
}

/** Achieved rate over the run and the most requests that arrived in any 1-second window. */
const rateFigures = (arrivals) => {
  const times = [...arrivals].sort((a, b) => a - b)
  const spanSeconds = (times.at(-1) - times[0]) / 1000
  let busiest = 0
  for (let start = 0, end = 0; start < times.length; start++) {
    while (end < times.length && times[end] - times[start] < 1000) end++
    busiest = Math.max(busiest, end - start)
  }
  return { requests: times.length, spanSeconds, achievedPerSecond: (times.length - 1) / spanSeconds, busiestWindow: busiest }
}

const runRate = async (emulator, rate, seconds) => {
  const count = Math.round(rate * seconds)
  const proxy = await startArrivalProxy(emulator)
  try {
    const input = makeInput(count)
    const output = join(work, "rate.jsonl")
    await emulatorRequest(`${emulator.url}/__reset`, "POST")
    const run = await measured(
      [...variants.A.args(input, output), "--rate", String(rate)],
      { ...clientEnv(emulator), LP_CSDS_URL: proxy.url }
    )
    const issued = await countIssued(output)
    rmSync(input, { force: true })
    rmSync(output, { force: true })
    if (run.code !== 0 || issued !== count) throw new Error(`rate run: exit ${run.code}, ${issued} of ${count} issued\n${run.stderr.slice(-2000)}`)
    const result = { rate, ids: count, ...rateFigures(proxy.arrivals) }
    // The arrival times (ms from the first), for a closer look at where a busy window comes from.
    writeFileSync(join(outDir, "rate-arrivals.json"), JSON.stringify(proxy.arrivals.map((t) => Math.round((t - proxy.arrivals[0]) * 10) / 10)) + "\n")
    log(`  --rate ${rate}: ${fixed(result.achievedPerSecond, 1)}/s achieved, busiest 1-s window ${result.busiestWindow}`)
    return result
  } finally {
    await proxy.stop()
  }
}

// ---------------------------------------------------------------------------------------------
// Time to first token: process start to the token on stdout.

const runFirstToken = async (emulator, repeats) => {
  const results = { A: [], B: [] }
  for (let i = 0; i < repeats; i++) {
    for (const name of ["A", "B"]) {
      const id = `first-token-${name}-${i}-${randomBytes(4).toString("hex")}`
      const args = name === "A" ? [paths.cli, "issue", id] : [paths.firstTokenFetch, id]
      const run = await runProcess(process.execPath, args, { env: clientEnv(emulator) })
      if (run.code !== 0 || !run.stdout.includes('"token"')) throw new Error(`first token ${name}: exit ${run.code}\n${run.stderr}`)
      results[name].push({ firstOutputMs: run.firstOutputMs, wallMs: run.wallMs })
    }
  }
  const summary = Object.fromEntries(Object.entries(results).map(([name, runs]) => [name, {
    runs,
    firstOutputMs: median(runs.map((r) => r.firstOutputMs)),
    wallMs: median(runs.map((r) => r.wallMs))
  }]))
  log(`  first token: A ${fixed(summary.A.firstOutputMs)} ms, B ${fixed(summary.B.firstOutputMs)} ms (medians of ${repeats})`)
  return summary
}

// ---------------------------------------------------------------------------------------------
// The chart: grouped bars, one panel per measure, hand-rolled SVG.

const chart = (medians, meta) => {
  const panels = [
    { title: "Throughput (IDs/s, higher is better)", key: "idsPerSecond", digits: 0 },
    { title: "Client CPU per token (µs, lower is better)", key: "cpuMicrosPerToken", digits: 0 }
  ]
  const colors = { A: "#3366cc", B: "#dc9a20", C: "#4c9a4c" }
  const width = 760
  const panelWidth = 340
  const height = 330
  const top = 60
  const plotHeight = 200
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">consumer-jws (A) vs fetch pool (B) vs node:http pool (C)</text>`,
    `<text x="${width / 2}" y="40" text-anchor="middle" fill="#555">${escapeXml(meta)}</text>`
  ]
  panels.forEach((panel, p) => {
    const x0 = 40 + p * (panelWidth + 40)
    const values = ["A", "B", "C"].map((name) => medians[name]?.[panel.key] ?? 0)
    const max = Math.max(...values.filter(Number.isFinite), 1) * 1.15
    parts.push(`<text x="${x0 + panelWidth / 2}" y="${top}" text-anchor="middle" font-weight="bold">${escapeXml(panel.title)}</text>`)
    parts.push(`<line x1="${x0}" y1="${top + 15 + plotHeight}" x2="${x0 + panelWidth}" y2="${top + 15 + plotHeight}" stroke="#333"/>`)
    ;["A", "B", "C"].forEach((name, i) => {
      const value = values[i]
      const barWidth = 70
      const x = x0 + 30 + i * (barWidth + 40)
      const h = Number.isFinite(value) ? value / max * plotHeight : 0
      const y = top + 15 + plotHeight - h
      parts.push(`<rect x="${x}" y="${y}" width="${barWidth}" height="${h}" fill="${colors[name]}"/>`)
      parts.push(`<text x="${x + barWidth / 2}" y="${y - 5}" text-anchor="middle">${fixed(value, panel.digits)}</text>`)
      parts.push(`<text x="${x + barWidth / 2}" y="${top + 32 + plotHeight}" text-anchor="middle">${name}</text>`)
    })
  })
  parts.push(`<text x="40" y="${height - 12}" fill="#555">A: consumer-jws batch (retries, journal, validation)  B: fetch + async pool  C: node:http keep-alive + pool. Medians.</text>`)
  parts.push("</svg>")
  return parts.join("\n") + "\n"
}
const escapeXml = (text) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

// ---------------------------------------------------------------------------------------------
// The report

const targetLine = (name, met, detail) => `| ${name} | ${detail} | ${met === undefined ? "not measured" : met ? "**met**" : "**not met**"} |`

const report = (results) => {
  const { machine, medians, runs, ratios, threads, rate, memory, firstToken } = results
  const lines = [
    `# Benchmark run ${results.date}`,
    "",
    `Machine: ${machine.nproc} cores, ${machine.cpu}, Node ${machine.node}. Emulator: separate process, ${results.keyBits}-bit RSA key, no faults.`,
    `${results.ids} distinct IDs a run, concurrency ${results.concurrency}, ${results.rounds} round(s) alternating ${results.order.join(" ")}.`,
    `Command: \`${results.command}\``,
    "",
    "| run | round | wall s | IDs/s | CPU µs/token | peak RSS MB |",
    "| --- | --- | --- | --- | --- | --- |",
    ...runs.map((r) => `| ${r.variant} | ${r.round} | ${fixed(r.wallMs / 1000, 2)} | ${fixed(r.idsPerSecond)} | ${fixed(r.cpuMicrosPerToken)} | ${fixed(r.maxRssMb)} |`),
    "",
    "Medians:",
    "",
    "| client | IDs/s | CPU µs/token | peak RSS MB |",
    "| --- | --- | --- | --- |",
    ...Object.entries(medians).map(([name, m]) => `| ${variants[name].label} | ${fixed(m.idsPerSecond)} | ${fixed(m.cpuMicrosPerToken)} | ${fixed(m.maxRssMb)} |`),
    "",
    `Ratios (of medians): throughput A/B ${fixed(ratios.throughputAB, 2)}, A/C ${fixed(ratios.throughputAC, 2)}; CPU per token A/B ${fixed(ratios.cpuAB, 2)}, A/C ${fixed(ratios.cpuAC, 2)}; peak RSS A/C ${fixed(ratios.rssAC, 2)}.`,
    ""
  ]
  if (threads !== undefined) {
    lines.push(threads.supported
      ? `Threads: \`--threads 2\` ${fixed(medians.A2?.idsPerSecond)} IDs/s, ${fixed(medians.A2?.cpuMicrosPerToken)} µs CPU/token vs fibers alone ${fixed(medians.A?.idsPerSecond)} IDs/s (ratio ${fixed(ratio(medians.A2?.idsPerSecond, medians.A?.idsPerSecond), 2)}).`
      : `Threads: \`--threads 2\` is not supported by this build (exit ${threads.code}: ${threads.message}).`, "")
  }
  if (rate !== undefined) {
    lines.push(`Rate: \`--rate ${rate.rate}\` over ${rate.ids} IDs: ${fixed(rate.achievedPerSecond, 1)} requests/s achieved (${fixed((rate.achievedPerSecond / rate.rate - 1) * 100, 2)}%), busiest 1-second window ${rate.busiestWindow} requests (${fixed((rate.busiestWindow / rate.rate - 1) * 100, 1)}%).`, "")
  }
  if (firstToken !== undefined) {
    lines.push(`Time to first token (spawn to the token on stdout, median of ${firstToken.A.runs.length}): A \`consumer-jws issue\` ${fixed(firstToken.A.firstOutputMs)} ms, B fetch script ${fixed(firstToken.B.firstOutputMs)} ms.`, "")
  }
  for (const m of memory ?? []) lines.push(`Memory: A over ${m.ids} rows: peak RSS ${fixed(m.maxRssMb)} MB, ${fixed(m.idsPerSecond)} IDs/s, ${fixed(m.wallMs / 1000, 1)} s.`)
  if (memory?.length) lines.push("")
  const million = memory?.find((m) => m.ids >= 1_000_000)
  lines.push(
    "| target | measured | |",
    "| --- | --- | --- |",
    targetLine("throughput A >= 1.5x B", ratios.throughputAB >= 1.5, `A/B ${fixed(ratios.throughputAB, 2)}`),
    targetLine("throughput A >= 0.9x C", ratios.throughputAC >= 0.9, `A/C ${fixed(ratios.throughputAC, 2)}`),
    targetLine("CPU per token A <= 1.5x C", ratios.cpuAC <= 1.5, `A/C ${fixed(ratios.cpuAC, 2)}`),
    targetLine("peak RSS at 1M rows <= 150 MB", million === undefined ? undefined : million.maxRssMb <= 150, million === undefined ? "run with --memory" : `${fixed(million.maxRssMb)} MB`),
    targetLine(
      "rate within 3%, no 1-s window > 5% over",
      rate === undefined ? undefined : Math.abs(rate.achievedPerSecond / rate.rate - 1) <= 0.03 && rate.busiestWindow <= rate.rate * 1.05,
      rate === undefined ? "" : `${fixed(rate.achievedPerSecond, 1)}/s, busiest ${rate.busiestWindow}`
    ),
    ""
  )
  return lines.join("\n")
}

// ---------------------------------------------------------------------------------------------
// Main

const main = async () => {
  const results = {
    date: new Date().toISOString(),
    command: `node bench/run.mjs ${process.argv.slice(2).join(" ")}`.trim(),
    machine: { nproc: cpus().length, cpu: readCpuModel(), node: process.version },
    keyBits,
    ids: idCount,
    concurrency,
    rounds,
    order: [],
    runs: []
  }
  const emulator = await startEmulator()
  log(`emulator ${emulator.url} (${keyBits}-bit key); work dir ${work}`)
  try {
    if (!flags["only-memory"]) {
      let order = ["A", "B", "C"]
      if (!smoke && !flags["no-threads"]) {
        results.threads = await probeThreads(emulator)
        if (results.threads.supported) order = ["A", "A2", "B", "C"]
        else log(`  --threads 2 not supported: ${results.threads.message}`)
      }
      results.order = order
      // Warm the disk cache and the emulator's JIT once, unmeasured.
      if (!smoke) await runVariant(emulator, "C", Math.min(idCount, 2000))
      for (let round = 1; round <= rounds; round++) {
        log(`round ${round}/${rounds}`)
        for (const name of order) results.runs.push({ round, ...(await runVariant(emulator, name, idCount)) })
      }
      results.medians = Object.fromEntries(order.map((name) => {
        const runs = results.runs.filter((r) => r.variant === name)
        return [name, {
          idsPerSecond: median(runs.map((r) => r.idsPerSecond)),
          cpuMicrosPerToken: median(runs.map((r) => r.cpuMicrosPerToken)),
          maxRssMb: median(runs.map((r) => r.maxRssMb)),
          wallMs: median(runs.map((r) => r.wallMs))
        }]
      }))
      const m = results.medians
      results.ratios = {
        throughputAB: ratio(m.A.idsPerSecond, m.B.idsPerSecond),
        throughputAC: ratio(m.A.idsPerSecond, m.C.idsPerSecond),
        cpuAB: ratio(m.A.cpuMicrosPerToken, m.B.cpuMicrosPerToken),
        cpuAC: ratio(m.A.cpuMicrosPerToken, m.C.cpuMicrosPerToken),
        rssAC: ratio(m.A.maxRssMb, m.C.maxRssMb)
      }
      if (!smoke && !flags["no-rate"]) {
        log("rate precision")
        results.rate = await runRate(emulator, Number(flags.rate), Number(flags["rate-seconds"]))
      }
      if (!smoke && !flags["no-first-token"]) {
        log("time to first token")
        results.firstToken = await runFirstToken(emulator, 7)
      }
    }
    if (flags.memory || flags["only-memory"]) {
      results.memory = []
      for (const rows of flags["memory-rows"].split(",").map(Number)) {
        log(`memory: A over ${rows} rows`)
        results.memory.push(await runVariant(emulator, "A", rows))
      }
    }
  } finally {
    await emulator.stop()
  }
  writeFileSync(join(outDir, "results.json"), JSON.stringify(results, null, 2) + "\n")
  if (results.medians !== undefined) {
    writeReport(results)
  } else if (results.memory !== undefined) {
    for (const m of results.memory) process.stdout.write(`Memory: A over ${m.ids} rows: peak RSS ${fixed(m.maxRssMb)} MB, ${fixed(m.idsPerSecond)} IDs/s, ${fixed(m.wallMs / 1000, 1)} s\n`)
  }
  log(`results in ${outDir}`)
}

/** Writes results.md (and, but for a smoke run, the chart) from a run's figures, and prints the markdown. */
function writeReport(results) {
  const markdown = report(results)
  writeFileSync(join(outDir, "results.md"), markdown)
  process.stdout.write(markdown)
  if (smoke) return
  const meta = `${results.ids} IDs, concurrency ${results.concurrency}, ${results.keyBits}-bit emulator key, ${results.machine.nproc} cores, Node ${results.machine.node}, ${results.date.slice(0, 10)}`
  writeFileSync(flags.out === undefined ? join(here, "results.svg") : join(outDir, "results.svg"), chart(results.medians, meta))
}

function readCpuModel() {
  try {
    return readFileSync("/proc/cpuinfo", "utf8").match(/^model name\s*:\s*(.*)$/m)?.[1] ?? cpus()[0]?.model ?? "unknown"
  } catch {
    return cpus()[0]?.model ?? "unknown"
  }
}

const start = flags.report === undefined ? main : async () => writeReport(JSON.parse(readFileSync(flags.report, "utf8")))

start().then(
  () => rmSync(work, { recursive: true, force: true }),
  (error) => {
    process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`)
    rmSync(work, { recursive: true, force: true })
    process.exitCode = 1
  }
)
