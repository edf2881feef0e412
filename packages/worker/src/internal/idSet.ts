/**
 * A set of consumer IDs for a batch of millions: each ID is kept as its 128-bit MD5 digest in an
 * open-addressing table of 32-bit words, 16 bytes a slot, off the JavaScript heap. A `Set` of the
 * strings took ~100 bytes an ID on the heap, and the heap around it grew to twice that.
 *
 * Two different IDs count as the same only if they share an MD5 digest: by accident, for a million
 * IDs, odds of about 1 in 10^27 (MD5's weakness is to collisions crafted on purpose, and the IDs come
 * from the operator's own file).
 */
import * as Crypto from "node:crypto"

// One-shot hashing where Node has it (20.12+): half the cost of a Hash object per ID.
const md5: (value: string) => Buffer = typeof Crypto.hash === "function"
  ? (value) => Crypto.hash("md5", value, "buffer")
  : (value) => Crypto.createHash("md5").update(value).digest()

const wordsPerSlot = 4
const initialSlots = 1024
// Grown at this share of slots in use: probes stay short.
const maxLoad = 0.7

/** A set of IDs by digest; see the module comment for the odds of a false match. */
export class IdSet {
  private slots = new Uint32Array(initialSlots * wordsPerSlot)
  private mask = initialSlots - 1
  private count = 0

  /** How many IDs it holds. */
  get size(): number {
    return this.count
  }

  /** Whether `id` is in the set. */
  has(id: string): boolean {
    // `find` stops at the digest or at an empty slot: an occupied slot is the digest.
    return this.isOccupied(this.find(md5(id)))
  }

  /** Adds `id`; `false` when it was already there. */
  add(id: string): boolean {
    const digest = md5(id)
    const slot = this.find(digest)
    if (this.isOccupied(slot)) return false
    this.store(slot, digest)
    if (++this.count > maxLoad * (this.mask + 1)) this.grow()
    return true
  }

  private isOccupied(slot: number): boolean {
    const at = slot * wordsPerSlot
    const slots = this.slots
    return (slots[at]! | slots[at + 1]! | slots[at + 2]! | slots[at + 3]!) !== 0
  }

  private matches(slot: number, digest: Buffer): boolean {
    const at = slot * wordsPerSlot
    const slots = this.slots
    return slots[at] === digest.readUInt32LE(0) && slots[at + 1] === digest.readUInt32LE(4) &&
      slots[at + 2] === digest.readUInt32LE(8) && slots[at + 3] === digest.readUInt32LE(12)
  }

  // The slot holding `digest`, or the empty slot where it would go (linear probing).
  private find(digest: Buffer): number {
    let slot = digest.readUInt32LE(0) & this.mask
    while (this.isOccupied(slot) && !this.matches(slot, digest)) slot = (slot + 1) & this.mask
    return slot
  }

  private store(slot: number, digest: Buffer) {
    const at = slot * wordsPerSlot
    const slots = this.slots
    slots[at] = digest.readUInt32LE(0)
    slots[at + 1] = digest.readUInt32LE(4)
    slots[at + 2] = digest.readUInt32LE(8)
    slots[at + 3] = digest.readUInt32LE(12)
  }

  private grow() {
    const old = this.slots
    const oldSlots = this.mask + 1
    this.slots = new Uint32Array(oldSlots * 2 * wordsPerSlot)
    this.mask = oldSlots * 2 - 1
    const digest = Buffer.alloc(16)
    for (let slot = 0; slot < oldSlots; slot++) {
      const at = slot * wordsPerSlot
      if ((old[at]! | old[at + 1]! | old[at + 2]! | old[at + 3]!) === 0) continue
      for (let word = 0; word < wordsPerSlot; word++) digest.writeUInt32LE(old[at + word]!, word * 4)
      this.store(this.find(digest), digest)
    }
  }
}
