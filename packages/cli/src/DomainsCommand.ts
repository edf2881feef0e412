/**
 * `consumer-jws domains`: the account's service domains from the Domain API (CSDS).
 *
 * @since 0.1.0
 */
import { DomainResolver } from "@consumer-jws/core"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as CliConfig from "./CliConfig.js"
import * as Help from "./internal/help.js"

/** How the domains are written. */
export type Format = "json" | "table"

/** One JSON line per service: `{"service","baseURI"}`, or `{"service","error"}` when CSDS answered an unusable one. */
export const toJsonLines = (domains: ReadonlyArray<DomainResolver.ServiceDomain>): ReadonlyArray<string> =>
  domains.map(({ baseUri, service }) =>
    JSON.stringify(
      Either.match(baseUri, {
        onLeft: (error) => ({ service, error: error.message }),
        onRight: (baseURI) => ({ service, baseURI })
      })
    )
  )

/** The domains as an aligned two-column table with a header. */
export const toTable = (domains: ReadonlyArray<DomainResolver.ServiceDomain>): ReadonlyArray<string> => {
  const rows = domains.map(({ baseUri, service }) =>
    [service, Either.match(baseUri, { onLeft: (error) => `(unusable: ${error.baseUri})`, onRight: (uri) => uri })] as const
  )
  const width = Math.max("SERVICE".length, ...rows.map(([service]) => service.length))
  return [["SERVICE", "BASE URI"] as const, ...rows].map(([service, uri]) => `${service.padEnd(width)}  ${uri}`)
}

/** The `domains` command. */
export const command = Command.make(
  "domains",
  {
    connection: CliConfig.options,
    format: Options.choice("format", ["json", "table"]).pipe(
      Options.withDescription("json: one JSON line per service; table: aligned columns."),
      Options.withDefault("json" as Format)
    )
  },
  ({ connection, format }) =>
    Effect.gen(function*() {
      const account = yield* CliConfig.accountSettings(connection)
      const domains = yield* Effect.flatMap(DomainResolver.DomainResolver, (resolver) => resolver.resolveAll).pipe(
        Effect.provide(DomainResolver.layer(account)),
        Effect.provide(CliConfig.retryPolicyLayer)
      )
      const lines = format === "table" ? toTable(domains) : toJsonLines(domains)
      if (lines.length > 0) yield* Console.log(lines.join("\n"))
    }).pipe(Effect.scoped)
).pipe(
  Command.withDescription(Help.describe(
    [
      "Lists where each service of the account lives, from the Domain API (CSDS). Needs only the account " +
      "(LP_ACCOUNT_ID or --account) and, optionally, LP_CSDS_URL. Exit code 3 when the lookup fails."
    ],
    [
      { does: "the domains of an account, as JSON lines", command: "consumer-jws domains --account 12345678" },
      { does: "as a table", command: "consumer-jws domains --account 12345678 --format table" },
      { does: "the IDP domain only", command: "consumer-jws domains | jq -r 'select(.service==\"idp\").baseURI'" }
    ]
  ))
)
