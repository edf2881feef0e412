import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    projects: ["packages/*", "test", "examples"],
    // One test file at a time: these tests start emulators, CLI processes and worker threads, and
    // several of them measure timing-sensitive behaviour (Retry-After windows, rates) that two files
    // fighting over this machine's two cores would distort. Sequential is about as fast here.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000
  }
})
