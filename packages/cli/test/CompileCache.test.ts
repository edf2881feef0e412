import { assert, describe, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as CompileCache from "../src/internal/compileCache.js"
import * as CliProcess from "./support/CliProcess.js"

// A bundle that records each run on `globalThis` with what a CommonJS module is given.
const bundleSource = (name: string) => `"use strict";
const path = require("node:path");
globalThis.compileCacheRuns = globalThis.compileCacheRuns ?? [];
globalThis.compileCacheRuns.push({ name: ${JSON.stringify(name)}, file: path.basename(__filename), exportsIsObject: typeof module.exports === "object" });
`

interface Run {
  readonly name: string
  readonly file: string
  readonly exportsIsObject: boolean
}

const runs = (): Array<Run> => (globalThis as { compileCacheRuns?: Array<Run> }).compileCacheRuns ?? []

let copies = 0
// Each load reads the bundle from a path of its own: within one process V8 keeps what it compiled
// by source and file name, and a second load of one path would never look at the cache.
const setUp = () => {
  const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "compile-cache-"))
  const cache = Path.join(root, "cache")
  const load = (source: string) => {
    const bundle = Path.join(root, `bundle-${copies++}.cjs`)
    Fs.writeFileSync(bundle, source)
    return CompileCache.load(bundle, cache)
  }
  return { root, cache, load }
}

const cacheFiles = (directory: string) => Fs.readdirSync(directory).filter((name) => name.endsWith(".v8cache")).sort()

const saved = (loaded: CompileCache.Loaded) => {
  if (loaded._tag !== "Compiled") assert.fail(`expected the bundle compiled, got ${loaded._tag}`)
  loaded.save()
}

describe("CompileCache", () => {
  it("runs a bundle compiled, then from the cache it saved, in a directory and file its owner alone can read", () => {
    const { cache, load } = setUp()
    const before = runs().length
    const first = load(bundleSource("first"))
    assert.strictEqual(first._tag, "Compiled")
    assert.deepStrictEqual(cacheFiles(cache), [], "nothing is written before save")
    saved(first)
    const [file] = cacheFiles(cache)
    assert.isDefined(file)
    assert.strictEqual(Fs.statSync(Path.join(cache, file!)).mode & 0o777, 0o600)
    assert.strictEqual(Fs.statSync(cache).mode & 0o777, 0o700)

    assert.strictEqual(load(bundleSource("first"))._tag, "Cached")
    assert.deepStrictEqual(runs().slice(before).map(({ name, exportsIsObject }) => ({ name, exportsIsObject })), [
      { name: "first", exportsIsObject: true },
      { name: "first", exportsIsObject: true }
    ])
    assert.deepStrictEqual(runs().slice(before).map(({ file }) => file), [`bundle-${copies - 2}.cjs`, `bundle-${copies - 1}.cjs`])
  })

  it("never runs a changed bundle from the cache of its former content", () => {
    const { cache, load } = setUp()
    saved(load(bundleSource("first")))
    const before = runs().length
    saved(load(bundleSource("second")))
    assert.deepStrictEqual(runs().slice(before).map((run) => run.name), ["second"])
    assert.strictEqual(cacheFiles(cache).length, 2)
  })

  it("compiles again over a cache V8 refuses, and replaces it", () => {
    const { cache, load } = setUp()
    saved(load(bundleSource("first")))
    const [file] = cacheFiles(cache)
    Fs.writeFileSync(Path.join(cache, file!), "not a code cache")
    const before = runs().length
    const again = load(bundleSource("first"))
    assert.strictEqual(again._tag, "Compiled")
    assert.deepStrictEqual(runs().slice(before).map((run) => run.name), ["first"])
    saved(again)
    assert.strictEqual(load(bundleSource("first"))._tag, "Cached")
  })

  it("uses no directory that others may write, and writes nothing there", () => {
    const { cache, load } = setUp()
    Fs.mkdirSync(cache, { mode: 0o700 })
    Fs.chmodSync(cache, 0o777)
    const before = runs().length
    assert.strictEqual(load(bundleSource("first"))._tag, "Uncached")
    assert.strictEqual(runs().length, before + 1)
    assert.deepStrictEqual(Fs.readdirSync(cache), [])
  })

  it(`keeps the ${CompileCache.kept} newest caches`, () => {
    const { cache, load } = setUp()
    const builds = Array.from({ length: CompileCache.kept + 2 }, (_, i) => {
      const before = new Set(Fs.existsSync(cache) ? cacheFiles(cache) : [])
      saved(load(bundleSource(`build ${i}`)))
      // Dated a minute apart, oldest first: a file system's clock may not tell them apart otherwise.
      const [written] = cacheFiles(cache).filter((name) => !before.has(name))
      const date = new Date(Date.UTC(2026, 0, 1, 0, i))
      Fs.utimesSync(Path.join(cache, written!), date, date)
      return bundleSource(`build ${i}`)
    })
    assert.strictEqual(cacheFiles(cache).length, CompileCache.kept)
    // The newest builds still start from their caches; the two oldest compile again.
    assert.deepStrictEqual(builds.map((source) => load(source)._tag), [
      "Compiled",
      "Compiled",
      ...Array.from({ length: CompileCache.kept }, () => "Cached")
    ])
  })

  it("is off with NODE_DISABLE_COMPILE_CACHE, and lives in XDG_CACHE_HOME, else ~/.cache", () => {
    assert.isUndefined(CompileCache.defaultDirectory({ NODE_DISABLE_COMPILE_CACHE: "1", HOME: "/home/a" }))
    assert.strictEqual(CompileCache.defaultDirectory({ HOME: "/home/a", XDG_CACHE_HOME: "/var/cache/a" }), "/var/cache/a/consumer-jws")
    assert.strictEqual(CompileCache.defaultDirectory({ HOME: "/home/a" }), "/home/a/.cache/consumer-jws")
    const { root } = setUp()
    const bundle = Path.join(root, "bundle.cjs")
    Fs.writeFileSync(bundle, bundleSource("uncached"))
    const before = runs().length
    assert.strictEqual(CompileCache.load(bundle, undefined)._tag, "Uncached")
    assert.deepStrictEqual(runs().slice(before).map((run) => run.name), ["uncached"])
  })

  it("the CLI saves its cache at the first start and starts from it after, under the flags it sets", async () => {
    CliProcess.assertBuilt()
    const cacheHome = Fs.mkdtempSync(Path.join(Os.tmpdir(), "cli-cache-"))
    const first = await CliProcess.run(["--version"], { XDG_CACHE_HOME: cacheHome })
    assert.strictEqual(first.code, 0)
    const directory = Path.join(cacheHome, "consumer-jws")
    const [file] = cacheFiles(directory)
    assert.isDefined(file, "the first start saved a cache")
    // Rewritten only when V8 refuses it: a second start that leaves it as it was started from it.
    const dated = new Date(Date.UTC(2026, 0, 1))
    Fs.utimesSync(Path.join(directory, file!), dated, dated)
    const second = await CliProcess.run(["--version"], { XDG_CACHE_HOME: cacheHome })
    assert.strictEqual(second.code, 0)
    assert.strictEqual(second.stdout, first.stdout)
    assert.deepStrictEqual(cacheFiles(directory), [file])
    assert.strictEqual(Fs.statSync(Path.join(directory, file!)).mtimeMs, dated.getTime())
  })
})
