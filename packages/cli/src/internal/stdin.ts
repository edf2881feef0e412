/**
 * Reading all of stdin.
 *
 * @internal
 */
import * as Effect from "effect/Effect"

/** All of stdin as UTF-8 text. */
export const readAll: Effect.Effect<string> = Effect.promise(async () => {
  const chunks: Array<Buffer> = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString("utf8")
})
