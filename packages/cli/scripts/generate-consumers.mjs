#!/usr/bin/env node
// Writes examples/consumers.csv for `consumer-jws demo`: a few thousand IDs with every kind of row a
// batch meets (valid, duplicated, and invalid: empty, too long, control character, leading space).
// Seeded, so the file is the same on every run: node packages/cli/scripts/generate-consumers.mjs
import { writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

const rows = 3000
let state = 20240601
// mulberry32: a small seeded generator, enough for test data.
const random = () => {
  state = (state + 0x6d2b79f5) | 0
  let t = Math.imul(state ^ (state >>> 15), 1 | state)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const pick = (list) => list[Math.floor(random() * list.length)]
const segments = ["retail", "premium", "trial", "partner"]

const quote = (field) => (/[",\n\r]/.test(field) || field !== field.trim() ? `"${field.replace(/"/g, '""')}"` : field)

const ids = []
for (let i = 0; i < rows; i++) {
  const roll = random()
  if (roll < 0.04 && ids.length > 0) ids.push(pick(ids)) // a duplicate of an earlier ID
  else if (roll < 0.05) ids.push("") // empty
  else if (roll < 0.055) ids.push(`cust-${"x".repeat(300)}`) // over 256 characters
  else if (roll < 0.06) ids.push(`cust-${i}\u0007bell`) // a control character
  else if (roll < 0.065) ids.push(` cust-${i}`) // leading space
  else ids.push(random() < 0.5 ? `cust-${String(i).padStart(6, "0")}` : `user.${i}@example.com`)
}

const csv = ["consumer_id,segment", ...ids.map((id) => `${quote(id)},${pick(segments)}`)].join("\n") + "\n"
const target = fileURLToPath(new URL("../../../examples/consumers.csv", import.meta.url))
writeFileSync(target, csv)
console.log(`wrote ${ids.length} rows to ${target}`)
