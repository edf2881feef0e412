/**
 * The settings of a command that talks to LivePerson, from flags and the environment: flags win.
 * The client secret is never a flag value (it would show in `ps`): it comes from `LP_CLIENT_SECRET`
 * or from the file named by `--client-secret-file`.
 *
 * @since 0.1.0
 */
import { AccountId, ConsumerJwsClient, CsdsUrl, RetryPolicy } from "@consumer-jws/core"
import { Emulator } from "@consumer-jws/emulator"
import * as Options from "@effect/cli/Options"
import * as FileSystem from "@effect/platform/FileSystem"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { InvalidConfigurationError, MissingConfigurationError, type Setting } from "./CliError.js"

/** The flags of the connection to LivePerson, shared by `issue`, `batch` and `domains`. */
export const options = {
  account: Options.text("account").pipe(
    Options.withDescription("The LivePerson account (site) ID. Overrides LP_ACCOUNT_ID."),
    Options.optional
  ),
  clientId: Options.text("client-id").pipe(
    Options.withDescription("The application's client ID. Overrides LP_CLIENT_ID."),
    Options.optional
  ),
  clientSecretFile: Options.text("client-secret-file").pipe(
    Options.withDescription("A file holding the client secret (else LP_CLIENT_SECRET). Never pass the secret itself."),
    Options.optional
  ),
  csdsUrl: Options.text("csds-url").pipe(
    Options.withDescription(`The Domain API (CSDS) origin. Overrides LP_CSDS_URL; default ${CsdsUrl.defaultUrl}.`),
    Options.optional
  ),
  emulator: Options.boolean("emulator").pipe(
    Options.withDescription("Run against an in-process emulator instead of LivePerson (for trying the command out).")
  )
}

/** The parsed connection flags. */
export interface Flags {
  readonly account: Option.Option<string>
  readonly clientId: Option.Option<string>
  readonly clientSecretFile: Option.Option<string>
  readonly csdsUrl: Option.Option<string>
  readonly emulator: boolean
}

/** Where an account's service domains are looked up: all `domains` needs. */
export interface AccountSettings {
  readonly accountId: AccountId.AccountId
  readonly csdsUrl: CsdsUrl.CsdsUrl
}

const accountSetting: Setting = { env: "LP_ACCOUNT_ID", flag: "--account" }
const clientIdSetting: Setting = { env: "LP_CLIENT_ID", flag: "--client-id" }
const secretSetting: Setting = { env: "LP_CLIENT_SECRET", flag: "--client-secret-file" }

// An empty variable counts as unset: `LP_ACCOUNT_ID= consumer-jws ...` is a common way to clear one.
const fromEnv = (name: string): Effect.Effect<Option.Option<string>> =>
  Config.option(Config.string(name)).pipe(
    Effect.map(Option.filter((value) => value.trim().length > 0)),
    Effect.orElseSucceed(() => Option.none<string>())
  )

const secretFromEnv: Effect.Effect<Option.Option<Redacted.Redacted<string>>> = Config.option(
  Config.redacted(secretSetting.env)
).pipe(
  Effect.map(Option.filter((secret) => Redacted.value(secret).length > 0)),
  Effect.orElseSucceed(() => Option.none())
)

const durationFromEnv = (name: string) =>
  Config.option(Config.duration(name)).pipe(
    Effect.map(Option.getOrUndefined),
    Effect.mapError(() => new InvalidConfigurationError({ setting: name, reason: "is not a duration such as 10 minutes" }))
  )

const readSecretFile = (path: string) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs.readFileString(path).pipe(
      Effect.mapError((error) =>
        new InvalidConfigurationError({ setting: "--client-secret-file", reason: `cannot read ${path} (${error.message})` })
      )
    )
    // A file written by `echo` ends in a newline that is not part of the secret.
    const secret = text.replace(/\r?\n$/, "")
    return secret.length === 0
      ? yield* new InvalidConfigurationError({ setting: "--client-secret-file", reason: `${path} is empty` })
      : Redacted.make(secret)
  })

// The schema's own messages, without the tree around them ("{ string | filter } └─ ...").
const validated = <A, I>(schema: Schema.Schema<A, I>, value: I, setting: string) =>
  Either.mapLeft(
    Schema.decodeEither(schema)(value),
    (error) =>
      new InvalidConfigurationError({
        setting,
        reason: ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => issue.message).join("; ")
      })
  )

const settingName = (flag: Option.Option<string>, setting: Setting) => Option.isSome(flag) ? setting.flag : setting.env

/**
 * Starts an emulator for `--emulator`, with the account, client ID and secret file when given, and
 * says so on stderr (stdout is for results).
 */
const startEmulator = (flags: Flags) =>
  Effect.gen(function*() {
    if (Option.isSome(flags.csdsUrl)) {
      return yield* new InvalidConfigurationError({ setting: "--csds-url", reason: "cannot be used with --emulator" })
    }
    const secret = Option.isSome(flags.clientSecretFile) ? yield* readSecretFile(flags.clientSecretFile.value) : undefined
    const emulator = yield* Emulator.make({
      ...(Option.isSome(flags.account) ? { accountId: flags.account.value } : {}),
      ...(Option.isSome(flags.clientId) ? { clientId: flags.clientId.value } : {}),
      ...(secret === undefined ? {} : { clientSecret: Redacted.value(secret) })
    })
    yield* Console.error(`Using an in-process emulator at ${emulator.url} (account ${emulator.accountId}).`)
    return emulator
  })

/** The account and Domain API of a command that needs no credentials (`domains`). */
export const accountSettings: (
  flags: Flags
) => Effect.Effect<
  AccountSettings,
  MissingConfigurationError | InvalidConfigurationError | Emulator.EmulatorError,
  FileSystem.FileSystem | Scope.Scope
> = Effect.fn("CliConfig.accountSettings")(function*(flags: Flags) {
  if (flags.emulator) {
    const emulator = yield* startEmulator(flags)
    return { accountId: AccountId.make(emulator.accountId), csdsUrl: CsdsUrl.make(emulator.url) }
  }
  const account = Option.isSome(flags.account) ? flags.account : yield* fromEnv(accountSetting.env)
  if (Option.isNone(account)) return yield* new MissingConfigurationError({ missing: [accountSetting] })
  return {
    accountId: yield* validated(AccountId.AccountId, account.value, settingName(flags.account, accountSetting)),
    csdsUrl: yield* csdsUrlOf(flags)
  }
})

const csdsUrlOf = (flags: Flags) =>
  Effect.gen(function*() {
    const url = Option.isSome(flags.csdsUrl) ? flags.csdsUrl : yield* fromEnv("LP_CSDS_URL")
    if (Option.isNone(url)) return CsdsUrl.make(CsdsUrl.defaultUrl)
    const setting = Option.isSome(flags.csdsUrl) ? "--csds-url" : "LP_CSDS_URL"
    const checked = yield* validated(CsdsUrl.CsdsUrl, url.value, setting)
    return CsdsUrl.make(checked)
  })

/**
 * The client's settings: from the flags and the environment, or from an in-process emulator with
 * `--emulator` (stopped when the scope closes). Every missing setting is named in one error.
 */
export const settings: (
  flags: Flags
) => Effect.Effect<
  ConsumerJwsClient.Settings,
  MissingConfigurationError | InvalidConfigurationError | Emulator.EmulatorError,
  FileSystem.FileSystem | Scope.Scope
> = Effect.fn("CliConfig.settings")(function*(flags: Flags) {
  const domainTtl = yield* durationFromEnv("LP_DOMAIN_TTL")
  const renewBefore = yield* durationFromEnv("LP_APPJWT_RENEW_BEFORE")
  if (flags.emulator) {
    const emulator = yield* startEmulator(flags)
    return ConsumerJwsClient.makeSettings({
      accountId: emulator.accountId,
      clientId: emulator.clientId,
      clientSecret: emulator.clientSecret,
      csdsUrl: emulator.url,
      domainTtl,
      renewBefore
    })
  }
  const account = Option.isSome(flags.account) ? flags.account : yield* fromEnv(accountSetting.env)
  const clientId = Option.isSome(flags.clientId) ? flags.clientId : yield* fromEnv(clientIdSetting.env)
  // The file is read only once nothing is missing, so a missing setting is reported first.
  const secret = Option.isSome(flags.clientSecretFile)
    ? Option.some(readSecretFile(flags.clientSecretFile.value))
    : Option.map(yield* secretFromEnv, Effect.succeed)
  if (Option.isNone(account) || Option.isNone(clientId) || Option.isNone(secret)) {
    const missing = [
      ...(Option.isNone(account) ? [accountSetting] : []),
      ...(Option.isNone(clientId) ? [clientIdSetting] : []),
      ...(Option.isNone(secret) ? [secretSetting] : [])
    ]
    return yield* new MissingConfigurationError({ missing })
  }
  const accountId = yield* validated(AccountId.AccountId, account.value, settingName(flags.account, accountSetting))
  const csdsUrl = yield* csdsUrlOf(flags)
  const clientSecret = yield* secret.value
  return ConsumerJwsClient.makeSettings({ accountId, clientId: clientId.value, clientSecret, csdsUrl, domainTtl, renewBefore })
})

/**
 * The retry policy from `LP_ATTEMPT_TIMEOUT`, `LP_DEADLINE`, `LP_MAX_ATTEMPTS`, `LP_RETRY_BASE_DELAY` and
 * `LP_RETRY_MAX_DELAY`, defaults otherwise; a malformed value is a configuration error.
 */
export const retryPolicyLayer: Layer.Layer<never, InvalidConfigurationError> = RetryPolicy.layerConfig.pipe(
  Layer.mapError((error) => {
    const [first, ...rest] = configProblems(error)
    return new InvalidConfigurationError({
      setting: first?.setting ?? "retry policy",
      reason: [first?.reason ?? String(error), ...rest.map((problem) => `${problem.setting}: ${problem.reason}`)].join("; ")
    })
  })
)

// Each setting a `ConfigError` names, with why, in order: "LP_MAX_ATTEMPTS", "expected an integer ...".
const configProblems = (error: ConfigError.ConfigError): Array<{ readonly setting: string; readonly reason: string }> => {
  switch (error._op) {
    case "And":
    case "Or":
      return [...configProblems(error.left), ...configProblems(error.right)]
    default:
      return [{ setting: error.path.join("."), reason: error.message.replace(/^Expected /, "expected ") }]
  }
}
