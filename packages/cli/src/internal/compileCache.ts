/**
 * Runs a CommonJS bundle with V8's code cache, so that a start does not parse and compile 2 MB of
 * JavaScript again (the CLI's start, `--version`, 250 -> 160 ms; bench/RESULTS.md). Node 22 has this
 * built in (`module.enableCompileCache`), Node 20 does not; the library for it (v8-compile-cache)
 * caches a script as compiled before it runs, which misses every function V8 compiles lazily and
 * saved 20 ms. Here the cache is made at exit, with what the run compiled.
 *
 * The cache is one file per bundle content and V8 version in `$XDG_CACHE_HOME/consumer-jws` (else
 * `~/.cache/consumer-jws`), a directory only its owner may write; cached code is code that runs.
 * V8 refuses a cache made with other V8 flags, and it is then made again. Nothing is read or written
 * when `NODE_DISABLE_COMPILE_CACHE` is set (as for Node's own cache), and a cache that cannot be
 * read or written is no cache: the bundle compiles as it would without one.
 */
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import { createRequire, Module } from "node:module"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Vm from "node:vm"

/** The bundle run: from its cache, or compiled (`save` then writes its cache), or with caching off. */
export type Loaded =
  | { readonly _tag: "Cached" }
  | { readonly _tag: "Compiled"; readonly save: () => void }
  | { readonly _tag: "Uncached" }

/** How many caches a directory keeps (of builds or Node versions used in turn); older ones go. */
export const kept = 4

const suffix = ".v8cache"

/** The cache directory in use: `undefined` when caching is off. */
export const defaultDirectory = (env: NodeJS.ProcessEnv = process.env): string | undefined => {
  if (env["NODE_DISABLE_COMPILE_CACHE"] !== undefined) return undefined
  const home = env["HOME"] || Os.homedir()
  const base = env["XDG_CACHE_HOME"] || (home ? Path.join(home, ".cache") : undefined)
  return base === undefined ? undefined : Path.join(base, "consumer-jws")
}

// The directory, made if need be; `undefined` unless it is this user's and no one else may write it.
const ownDirectory = (directory: string): string | undefined => {
  try {
    Fs.mkdirSync(directory, { recursive: true, mode: 0o700 })
    const stat = Fs.statSync(directory)
    const uid = process.getuid?.()
    return stat.isDirectory() && (uid === undefined || stat.uid === uid) && (stat.mode & 0o022) === 0 ? directory : undefined
  } catch {
    return undefined
  }
}

const readOrUndefined = (file: string): Buffer | undefined => {
  try {
    return Fs.readFileSync(file)
  } catch {
    return undefined
  }
}

// Written whole or not at all (a temporary file renamed), readable by its owner alone; the oldest
// caches beyond `kept` removed.
const write = (directory: string, file: string, data: Buffer): void => {
  try {
    const temporary = `${file}.${process.pid}.tmp`
    Fs.writeFileSync(temporary, data, { mode: 0o600 })
    Fs.renameSync(temporary, file)
    const caches = Fs.readdirSync(directory)
      .filter((name) => name.endsWith(suffix))
      .map((name) => ({ path: Path.join(directory, name), modified: Fs.statSync(Path.join(directory, name)).mtimeMs }))
      .sort((a, b) => b.modified - a.modified)
    for (const stale of caches.slice(kept)) Fs.rmSync(stale.path, { force: true })
  } catch {
    // No cache this time.
  }
}

/**
 * Runs the CommonJS file `bundle` (as `require` would) through the cache in `directory` (none:
 * `undefined`). When it was compiled, `save` writes its cache: call it at exit, once the run has
 * compiled what it uses.
 */
export const load = (bundle: string, directory: string | undefined): Loaded => {
  const source = Fs.readFileSync(bundle, "utf8")
  const cacheDirectory = directory === undefined ? undefined : ownDirectory(directory)
  const cacheFile = cacheDirectory === undefined
    ? undefined
    : Path.join(cacheDirectory, `${Crypto.createHash("sha256").update(source).digest("hex").slice(0, 32)}-${process.versions.v8}${suffix}`)
  const cachedData = cacheFile === undefined ? undefined : readOrUndefined(cacheFile)
  const script = new Vm.Script(Module.wrap(source), { filename: bundle, ...(cachedData === undefined ? {} : { cachedData }) })
  const wrapper = script.runInThisContext() as (
    exports: unknown,
    require: NodeJS.Require,
    module: { exports: unknown },
    filename: string,
    dirname: string
  ) => void
  const module = { exports: {} }
  wrapper.call(module.exports, module.exports, createRequire(bundle), module, bundle, Path.dirname(bundle))
  if (cacheDirectory === undefined || cacheFile === undefined) return { _tag: "Uncached" }
  if (cachedData !== undefined && !script.cachedDataRejected) return { _tag: "Cached" }
  return { _tag: "Compiled", save: () => write(cacheDirectory, cacheFile, script.createCachedData()) }
}
