/**
 * Issue a ConsumerJWS from an Effect program, handling each typed error on its own terms, with a
 * retry policy of the program's choosing. Runs against an in-process emulator:
 *
 *   pnpm build && node examples/dist/compose.js
 */
import { NodeRuntime } from "@effect/platform-node"
import { ConsumerJwsClient, type ConsumerJwsError, ConsumerJwsIssuer, RetryPolicy, UndiciHttpClient } from "@consumer-jws/core"
import { Emulator } from "@consumer-jws/emulator"
import { Console, Duration, Effect, Layer } from "effect"
import { pathToFileURL } from "node:url"

/** What the program decided for one consumer. */
export type Decision =
  | { readonly _tag: "Issued"; readonly consumerId: string; readonly lpConsumerId: string; readonly attempts: number }
  | { readonly _tag: "Skipped"; readonly consumerId: string; readonly why: string }

/** Issues a token for `consumerId` and turns every error a caller can act on into a decision. */
export const issueFor = (
  consumerId: string
): Effect.Effect<Decision, ConsumerJwsError.ConsumerJwsError, ConsumerJwsIssuer.ConsumerJwsIssuer> => {
  const issue = Effect.flatMap(ConsumerJwsIssuer.ConsumerJwsIssuer, (issuer) => issuer.issue(consumerId))
  return issue.pipe(
    Effect.map(issued),
    Effect.catchTags({
      // A bad ID is the caller's data problem: skip it and say why.
      InvalidInputError: (error) => Effect.succeed<Decision>({ _tag: "Skipped", consumerId, why: error.reason }),
      // Still rate limited after the retries: back off for the wait LivePerson asked for, then once more.
      RateLimitedError: (error) => Effect.sleep(error.retryAfter).pipe(Effect.zipRight(issue), Effect.map(issued)),
      // Configuration problems stop the program: no other consumer would fare better.
      AuthenticationError: (error) => Effect.dieMessage(error.message),
      DomainLookupError: (error) => Effect.dieMessage(error.message),
      BadDomainError: (error) => Effect.dieMessage(error.message)
    })
  )
}

const issued = (jws: ConsumerJwsIssuer.IssuedConsumerJws): Decision => ({
  _tag: "Issued",
  consumerId: jws.consumerId,
  lpConsumerId: jws.claims.lp_consumer_id,
  attempts: jws.attempts
})

/** The program's own policy: quicker first retries and fewer of them than the defaults. */
export const policy = RetryPolicy.layer({
  maxAttempts: 3,
  baseDelay: Duration.millis(100),
  attemptTimeout: Duration.seconds(5),
  deadline: Duration.seconds(20)
})

/** The client for a running emulator (with a real account you would use `ConsumerJwsClient.layerConfig`). */
export const clientFor = (emulator: Emulator.Emulator) =>
  ConsumerJwsClient.layer(ConsumerJwsClient.makeSettings({
    accountId: emulator.accountId,
    clientId: emulator.clientId,
    clientSecret: emulator.clientSecret,
    csdsUrl: emulator.url
  })).pipe(Layer.provide(UndiciHttpClient.layer))

/** Issues for a few consumers, one of them invalid, against an in-process emulator. */
export const main: Effect.Effect<ReadonlyArray<Decision>, ConsumerJwsError.ConsumerJwsError | Emulator.EmulatorError> = Effect.gen(function*() {
  const emulator = yield* Emulator.make({ faults: { rate503: 0.1 } })
  const decisions = yield* Effect.forEach(["alice", "bob", " not-trimmed "], issueFor).pipe(
    Effect.provide(clientFor(emulator)),
    Effect.provide(policy)
  )
  for (const decision of decisions) yield* Console.log(JSON.stringify(decision))
  return decisions
}).pipe(Effect.scoped)

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) NodeRuntime.runMain(main)
