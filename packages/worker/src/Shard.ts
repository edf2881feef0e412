/**
 * Splitting one input between processes: each takes only the IDs whose stable hash falls in its
 * shard, so N processes given the same file issue every ID exactly once between them.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Either from "effect/Either"
import type * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { InvalidOptionError } from "./BatchError.js"

/** One shard of `count`: this process takes the IDs whose hash mod `count` is `index`. */
export class Shard extends Schema.Class<Shard>("Shard")({
  index: Schema.Int.pipe(Schema.nonNegative()),
  count: Schema.Int.pipe(Schema.positive())
}) {}

/** A shard, checked: `index` in [0, count). */
export const make = (index: number, count: number): Either.Either<Shard, InvalidOptionError> =>
  Number.isInteger(index) && Number.isInteger(count) && count >= 1 && index >= 0 && index < count
    ? Either.right(new Shard({ index, count }))
    : Either.left(new InvalidOptionError({ option: "shard", reason: `expected 0 <= index < count, got ${index}/${count}` }))

/** Parses `i/n` (as in `--shard 3/8`). */
export const parse = (text: string): Either.Either<Shard, InvalidOptionError> => {
  const match = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text)
  return match === null
    ? Either.left(new InvalidOptionError({ option: "shard", reason: `expected index/count such as 0/8, got ${JSON.stringify(text)}` }))
    : make(Number(match[1]), Number(match[2]))
}

const fnvOffset = 0x811c9dc5
const fnvPrime = 0x01000193

/**
 * The 32-bit FNV-1a hash of the ID's UTF-8 bytes: stable across runs, machines and languages, so a
 * shard can be recomputed anywhere.
 */
export const hash = (consumerId: string): number => {
  let h = fnvOffset
  for (const byte of Buffer.from(consumerId, "utf8")) {
    h ^= byte
    h = Math.imul(h, fnvPrime)
  }
  return h >>> 0
}

/** Whether the shard takes this ID. */
export const owns = (shard: Shard, consumerId: string): boolean => hash(consumerId) % shard.count === shard.index

/** The shard `index/count`, as the CLI's `--shard` writes it. */
export const format = (shard: Shard): string => `${shard.index}/${shard.count}`

/**
 * The shard from the environment of an array job: Kubernetes Indexed Jobs set `JOB_COMPLETION_INDEX`
 * (the count is the Job's `completions`, given here as `count` or `SHARD_COUNT`); AWS Batch array jobs set
 * `AWS_BATCH_JOB_ARRAY_INDEX` and `AWS_BATCH_JOB_ARRAY_SIZE`. `None` when neither is set.
 */
export const config = (count?: number): Config.Config<Option.Option<Shard>> => {
  const kubernetes = Config.all({
    index: Config.integer("JOB_COMPLETION_INDEX"),
    count: count === undefined ? Config.integer("SHARD_COUNT") : Config.succeed(count)
  })
  const awsBatch = Config.all({
    index: Config.integer("AWS_BATCH_JOB_ARRAY_INDEX"),
    count: Config.integer("AWS_BATCH_JOB_ARRAY_SIZE")
  })
  return kubernetes.pipe(
    Config.orElse(() => awsBatch),
    Config.mapOrFail(({ count, index }) =>
      Either.mapLeft(make(index, count), (error) => ConfigError.InvalidData([], error.reason))
    ),
    Config.option
  )
}
