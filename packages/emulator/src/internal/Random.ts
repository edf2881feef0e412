/**
 * A seeded pseudo-random number generator for reproducible faults.
 *
 * @internal
 */

/**
 * mulberry32: 32 bits of state, uniform floats in [0, 1). Not for cryptography; it exists so that
 * the same seed and the same sequence of requests give the same sequence of faults.
 */
export const mulberry32 = (seed: number): () => number => {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * Independent streams derived from one seed, so that CSDS or Sentinel traffic does not shift the
 * fault sequence the IDP sees.
 */
export const deriveSeed = (seed: number, stream: number): number => (seed ^ Math.imul(stream + 1, 0x9e3779b9)) >>> 0
