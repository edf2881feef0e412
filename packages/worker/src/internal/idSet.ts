/**
 * A set of consumer IDs for a batch of millions: each ID is kept as 96 bits of its MD5 digest, off the
 * JavaScript heap, 12 bytes a slot. A `Set` of the strings took ~100 bytes an ID on the heap, and the
 * heap around it grew to twice that.
 *
 * The set is 256 sub-tables, picked by 8 bits of the digest, each its own open-addressing table that
 * grows on its own by half again: a growth copies 1/256 of the IDs, so the set never holds two copies
 * of itself, and from ten thousand IDs on it holds 16 to 22 bytes an ID (16.6 at a million).
 *
 * Two different IDs count as the same only if they share those 96 bits: by accident, odds of about
 * n^2 / 2^97 for n IDs, 6 in 10^18 for a million and 6 in 10^14 for a hundred million (MD5's weakness
 * is to collisions crafted on purpose, and the IDs come from the operator's own file).
 */
import * as Crypto from "node:crypto"

// One-shot hashing where Node has it (20.12+): half the cost of a Hash object per ID.
const md5: (value: string) => Buffer = typeof Crypto.hash === "function"
  ? (value) => Crypto.hash("md5", value, "buffer")
  : (value) => Crypto.createHash("md5").update(value).digest()

const subTables = 256
const wordsPerSlot = 3
// An empty set holds 256 * 4 slots, 12 KiB: it is made for every short batch and every resume.
const initialSlots = 4
// Grown by half again at this share of slots in use: probes stay short, and just after a growth
// the slots are still over half in use.
const maxLoad = 0.8

// The word offset of the slot holding the words, or of the empty slot where they would go (linear
// probing from a multiply-shift of `w1` onto the capacity, which need not be a power of two; exact
// while a sub-table has under 2^21 slots, some 400 million IDs in the set).
const find = (slots: Uint32Array, capacity: number, w0: number, w1: number, w2: number): number => {
  let slot = Math.floor(w1 * capacity / 4294967296)
  for (;;) {
    const at = slot * wordsPerSlot
    const s0 = slots[at]!
    const s1 = slots[at + 1]!
    const s2 = slots[at + 2]!
    if ((s0 === w0 && s1 === w1 && s2 === w2) || (s0 | s1 | s2) === 0) return at
    if (++slot === capacity) slot = 0
  }
}

// The words of the ID hashed last: a batch asks two sets about each ID in turn (seen before in this
// input? issued by an earlier run?), and an MD5 is most of what either answer costs.
const last = { id: undefined as string | undefined, w0: 0, w1: 0, w2: 0 }

const wordsOf = (id: string): typeof last => {
  if (id !== last.id) {
    const digest = md5(id)
    last.id = id
    last.w0 = digest.readUInt32LE(0)
    last.w1 = digest.readUInt32LE(4)
    last.w2 = digest.readUInt32LE(8)
  }
  return last
}

/** A set of IDs by digest; see the module comment for the odds of a false match. */
export class IdSet {
  // All-zero words mark an empty slot: an ID whose kept 96 bits are all zero (odds 2^-96) is not kept.
  private readonly tables = Array.from({ length: subTables }, () => new Uint32Array(initialSlots * wordsPerSlot))
  private readonly capacities = new Uint32Array(subTables).fill(initialSlots)
  private readonly counts = new Uint32Array(subTables)
  private count = 0
  private bytes = subTables * initialSlots * wordsPerSlot * Uint32Array.BYTES_PER_ELEMENT

  /** How many IDs it holds. */
  get size(): number {
    return this.count
  }

  /** The bytes its tables hold. */
  get byteLength(): number {
    return this.bytes
  }

  /** Whether `id` is in the set. */
  has(id: string): boolean {
    if (this.count === 0) return false
    const { w0, w1, w2 } = wordsOf(id)
    // The top 8 bits of `w0` pick the sub-table; `w1` picks the slot in it.
    const table = w0 >>> 24
    const slots = this.tables[table]!
    // `find` stops at the words or at an empty slot: an occupied slot is the ID.
    const at = find(slots, this.capacities[table]!, w0, w1, w2)
    return (slots[at]! | slots[at + 1]! | slots[at + 2]!) !== 0
  }

  /** Adds `id`; `false` when it was already there. */
  add(id: string): boolean {
    const { w0, w1, w2 } = wordsOf(id)
    const table = w0 >>> 24
    const slots = this.tables[table]!
    const capacity = this.capacities[table]!
    const at = find(slots, capacity, w0, w1, w2)
    if ((slots[at]! | slots[at + 1]! | slots[at + 2]!) !== 0) return false
    slots[at] = w0
    slots[at + 1] = w1
    slots[at + 2] = w2
    this.count++
    const count = this.counts[table]! + 1
    this.counts[table] = count
    if (count > maxLoad * capacity) this.grow(table)
    return true
  }

  // Moves one sub-table into one half again as large; the others are untouched.
  private grow(table: number) {
    const old = this.tables[table]!
    const capacity = this.capacities[table]! + (this.capacities[table]! >>> 1)
    const slots = new Uint32Array(capacity * wordsPerSlot)
    for (let from = 0; from < old.length; from += wordsPerSlot) {
      const w0 = old[from]!
      const w1 = old[from + 1]!
      const w2 = old[from + 2]!
      if ((w0 | w1 | w2) === 0) continue
      const at = find(slots, capacity, w0, w1, w2)
      slots[at] = w0
      slots[at + 1] = w1
      slots[at + 2] = w2
    }
    this.tables[table] = slots
    this.capacities[table] = capacity
    this.bytes += slots.byteLength - old.byteLength
  }
}
