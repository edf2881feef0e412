/**
 * `consumer-jws decode <token>`: a ConsumerJWS's header and claims as JSON, without verifying it.
 *
 * @since 0.1.0
 */
import { ConsumerJwsClaims } from "@consumer-jws/core"
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Help from "./internal/help.js"
import * as Stdin from "./internal/stdin.js"

/** The JSON written for a decoded token. */
export const toJson = (decoded: ConsumerJwsClaims.DecodedConsumerJws): string =>
  JSON.stringify({ header: decoded.header, claims: decoded.claims }, null, 2)

/** The `decode` command. */
export const command = Command.make(
  "decode",
  {
    token: Args.text({ name: "token" }).pipe(
      Args.withDescription("The ConsumerJWS, or - to read it from stdin (keeps it out of the shell history and ps).")
    )
  },
  ({ token }) =>
    Effect.gen(function*() {
      const text = token === "-" ? yield* Stdin.readAll : token
      const decoded = yield* ConsumerJwsClaims.decode(Redacted.make(text.trim()))
      yield* Console.log(toJson(decoded))
    })
).pipe(
  Command.withDescription(Help.describe(
    [
      "Prints the header and claims of a ConsumerJWS (account_id, ext_consumer_id, lp_consumer_id) as JSON. " +
      "The signature is not verified: the key is LivePerson's. Exit code 1 when it is not a ConsumerJWS."
    ],
    [
      { does: "decode a token", command: "consumer-jws decode eyJraWQiOi..." },
      { does: "decode the token of the first result line", command: "head -1 out.jsonl | jq -r .token | consumer-jws decode -" }
    ]
  ))
)
