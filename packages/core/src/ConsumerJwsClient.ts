/**
 * The whole client in one layer: domain lookup, AppJWT and ConsumerJWS issuance for one account,
 * from explicit settings or from the environment.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { AccountId } from "./AccountId.js"
import * as AppJwtProvider from "./AppJwtProvider.js"
import * as ConsumerJwsIssuer from "./ConsumerJwsIssuer.js"
import * as CsdsUrl from "./CsdsUrl.js"
import * as DomainResolver from "./DomainResolver.js"
import * as RetryPolicy from "./RetryPolicy.js"

/** The settings of one account's client. */
export interface Settings {
  readonly accountId: AccountId
  readonly clientId: string
  readonly clientSecret: Redacted.Redacted<string>
  readonly csdsUrl: CsdsUrl.CsdsUrl
  /** How long a service domain is cached (default 10 minutes). */
  readonly domainTtl: Duration.Duration
  /** How long before its expiry the AppJWT is renewed (default 5 minutes). */
  readonly renewBefore: Duration.Duration
}

/**
 * The settings from configuration: `LP_ACCOUNT_ID`, `LP_CLIENT_ID`, `LP_CLIENT_SECRET` (redacted),
 * `LP_CSDS_URL` (default `https://api.liveperson.net`), `LP_DOMAIN_TTL`, `LP_APPJWT_RENEW_BEFORE`.
 */
export const config: Config.Config<Settings> = Config.all({
  accountId: Schema.Config("LP_ACCOUNT_ID", AccountId),
  clientId: Config.nonEmptyString("LP_CLIENT_ID"),
  clientSecret: Config.redacted("LP_CLIENT_SECRET"),
  csdsUrl: Schema.Config("LP_CSDS_URL", CsdsUrl.CsdsUrl).pipe(
    Config.withDefault(CsdsUrl.make(CsdsUrl.defaultUrl)),
    Config.map((url) => CsdsUrl.make(url))
  ),
  domainTtl: Config.duration("LP_DOMAIN_TTL").pipe(Config.withDefault(DomainResolver.defaultTtl)),
  renewBefore: Config.duration("LP_APPJWT_RENEW_BEFORE").pipe(Config.withDefault(AppJwtProvider.defaultRenewBefore))
})

/** Every service of the client. */
export type Services = DomainResolver.DomainResolver | AppJwtProvider.AppJwtProvider | ConsumerJwsIssuer.ConsumerJwsIssuer

/** The client's services from explicit settings. */
export const layer = (settings: Settings): Layer.Layer<Services, never, HttpClient.HttpClient> => {
  const resolver = DomainResolver.layer({ accountId: settings.accountId, csdsUrl: settings.csdsUrl, ttl: settings.domainTtl })
  const appJwts = AppJwtProvider.layer({
    accountId: settings.accountId,
    clientId: settings.clientId,
    clientSecret: settings.clientSecret,
    renewBefore: settings.renewBefore
  })
  const issuer = ConsumerJwsIssuer.layer({ accountId: settings.accountId })
  return issuer.pipe(Layer.provideMerge(appJwts), Layer.provideMerge(resolver))
}

/** The client's services and its retry policy, all from configuration (see {@link config} and `RetryPolicy.config`). */
export const layerConfig: Layer.Layer<Services, ConfigError.ConfigError, HttpClient.HttpClient> = Layer.unwrapEffect(
  Config.map(config, layer)
).pipe(Layer.provideMerge(RetryPolicy.layerConfig))

/** Settings with defaults for everything but the account and credentials. */
export const makeSettings = (options: {
  readonly accountId: string
  readonly clientId: string
  readonly clientSecret: Redacted.Redacted<string>
  readonly csdsUrl?: string | undefined
  readonly domainTtl?: Duration.DurationInput | undefined
  readonly renewBefore?: Duration.DurationInput | undefined
}): Settings => ({
  accountId: AccountId.make(options.accountId),
  clientId: options.clientId,
  clientSecret: options.clientSecret,
  csdsUrl: CsdsUrl.make(options.csdsUrl ?? CsdsUrl.defaultUrl),
  domainTtl: Duration.decode(options.domainTtl ?? DomainResolver.defaultTtl),
  renewBefore: Duration.decode(options.renewBefore ?? AppJwtProvider.defaultRenewBefore)
})
