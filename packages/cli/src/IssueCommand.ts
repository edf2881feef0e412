/**
 * `consumer-jws issue <consumer-id>...`: one ConsumerJWS per ID, as one JSON line each on stdout.
 *
 * @since 0.1.0
 */
import { ConsumerJwsClient, ConsumerJwsError, ConsumerJwsIssuer } from "@consumer-jws/core"
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as CliConfig from "./CliConfig.js"
import { NotAllIssuedError } from "./CliError.js"
import * as Help from "./internal/help.js"

/** The line written for an issued ID: the only place a token is ever unwrapped from `Redacted`. */
export const resultLine = (issued: ConsumerJwsIssuer.IssuedConsumerJws): string =>
  JSON.stringify({
    consumer_id: issued.consumerId,
    lp_consumer_id: issued.claims.lp_consumer_id,
    token: Redacted.value(issued.token)
  })

/**
 * Issues a token for each ID in turn, writing each result as it comes. A failed ID is reported on
 * stderr and the next one tried; an error that would fail every ID (credentials, domains) stops at once.
 */
export const issueAll = Effect.fn("IssueCommand.issueAll")(function*(consumerIds: ReadonlyArray<string>) {
  const issuer = yield* ConsumerJwsIssuer.ConsumerJwsIssuer
  let failed = 0
  for (const consumerId of consumerIds) {
    const outcome = yield* issuer.issueOutcome(consumerId)
    if (outcome._tag === "Issued") {
      yield* Console.log(resultLine(outcome.issued))
      continue
    }
    if (ConsumerJwsError.isFatalForBatch(outcome.error)) return yield* outcome.error
    failed++
    yield* Console.error(`${JSON.stringify(consumerId)}: ${outcome.error._tag}: ${outcome.error.message}`)
  }
  if (failed > 0) {
    return yield* new NotAllIssuedError({ notIssued: failed, total: consumerIds.length })
  }
})

/** The `issue` command. */
export const command = Command.make(
  "issue",
  {
    connection: CliConfig.options,
    consumerIds: Args.text({ name: "consumer-id" }).pipe(
      Args.withDescription("The consumer's external ID (ext_consumer_id); give one or more."),
      Args.atLeast(1)
    )
  },
  ({ connection, consumerIds }) =>
    Effect.gen(function*() {
      const settings = yield* CliConfig.settings(connection)
      yield* issueAll(consumerIds).pipe(
        Effect.provide(ConsumerJwsClient.layer(settings)),
        Effect.provide(CliConfig.retryPolicyLayer)
      )
    }).pipe(Effect.scoped)
).pipe(
  Command.withDescription(Help.describe(
    [
      "Issues a ConsumerJWS for each consumer ID and writes one JSON line per ID to stdout: " +
      '{"consumer_id","lp_consumer_id","token"}. A failed ID is reported on stderr and the others go on.',
      "Settings come from LP_ACCOUNT_ID, LP_CLIENT_ID, LP_CLIENT_SECRET and LP_CSDS_URL, or the flags. " +
      "Exit code: 0 all issued, 1 some failed, 2 bad configuration, 3 credentials rejected or domain unresolvable."
    ],
    [
      { does: "issue two tokens with settings from the environment", command: "consumer-jws issue alice bob" },
      {
        does: "secret from a file, account from a flag",
        command: "consumer-jws issue --account 12345678 --client-secret-file ./secret alice"
      },
      { does: "try it against a local emulator", command: "consumer-jws issue --emulator alice" }
    ]
  ))
)
