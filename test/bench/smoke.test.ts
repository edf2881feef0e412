import { describe, expect, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const root = resolve(fileURLToPath(new URL("../..", import.meta.url)))

// The benchmark's smoke run (bench/run.mjs --smoke): a few hundred IDs through A, B and C against an
// emulator process. It proves the benchmark still works end to end, not how fast anything is.
describe("bench smoke", () => {
  it("issues every row with each client and reports the figures", () => {
    const out = mkdtempSync(join(tmpdir(), "consumer-jws-bench-smoke-"))
    try {
      const run = spawnSync(process.execPath, ["bench/run.mjs", "--smoke", "--out", out], { cwd: root, encoding: "utf8", timeout: 55_000 })
      expect(run.status, run.stderr).toBe(0)
      const results = JSON.parse(readFileSync(join(out, "results.json"), "utf8")) as {
        readonly ids: number
        readonly runs: ReadonlyArray<{ readonly variant: string; readonly issued: number; readonly idsPerSecond: number; readonly cpuMicrosPerToken: number }>
      }
      expect(results.runs.map((r) => r.variant)).toEqual(["A", "B", "C"])
      for (const r of results.runs) {
        expect(r.issued, r.variant).toBe(results.ids)
        expect(r.idsPerSecond, r.variant).toBeGreaterThan(0)
        expect(r.cpuMicrosPerToken, r.variant).toBeGreaterThan(0)
      }
      expect(readFileSync(join(out, "results.md"), "utf8")).toContain("Ratios (of medians)")
    } finally {
      rmSync(out, { recursive: true, force: true })
    }
  }, 60_000)
})
