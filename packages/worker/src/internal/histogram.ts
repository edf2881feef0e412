/**
 * A latency histogram of fixed size: log-spaced buckets 2% wide from 0.01 ms to about 28 hours, so
 * its memory does not grow with the rows and a percentile is off by at most 2%.
 */

const growth = 1.02
const smallest = 0.01
const bucketCount = Math.ceil(Math.log(1e8 / smallest) / Math.log(growth)) + 1

/** A histogram of durations in milliseconds. */
export class Histogram {
  private readonly counts = new Uint32Array(bucketCount)
  private total = 0
  private maximum = 0

  /** Records one duration. */
  record(millis: number): void {
    const index = millis <= smallest ? 0 : Math.min(bucketCount - 1, Math.ceil(Math.log(millis / smallest) / Math.log(growth)))
    this.counts[index]!++
    this.total++
    if (millis > this.maximum) this.maximum = millis
  }

  /** How many durations were recorded. */
  get count(): number {
    return this.total
  }

  /** The largest duration recorded. */
  get max(): number {
    return this.maximum
  }

  /** The duration at or under which `fraction` (0..1) of the recorded ones fall (a bucket's upper bound). */
  percentile(fraction: number): number {
    if (this.total === 0) return 0
    const rank = Math.max(1, Math.ceil(fraction * this.total))
    let seen = 0
    for (let index = 0; index < bucketCount; index++) {
      seen += this.counts[index]!
      if (seen >= rank) return Math.min(this.maximum, smallest * Math.pow(growth, index))
    }
    return this.maximum
  }
}
