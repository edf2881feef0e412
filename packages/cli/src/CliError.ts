/**
 * The errors of the command itself: configuration that is missing or invalid, and runs that ended
 * with some IDs not issued. Each says what to do, and none holds a secret.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/** One setting, by its environment variable and the flag that overrides it. */
export const Setting = Schema.Struct({
  /** `LP_ACCOUNT_ID`, ... */
  env: Schema.String,
  /** `--account`, ... */
  flag: Schema.String
})

/** One setting, by its environment variable and the flag that overrides it. */
export type Setting = typeof Setting.Type

/** Settings the command needs are set neither in the environment nor by a flag. */
export class MissingConfigurationError extends Schema.TaggedError<MissingConfigurationError>()(
  "MissingConfigurationError",
  { missing: Schema.Array(Setting) }
) {
  override get message() {
    return `Missing configuration: ${this.missing.map(({ env, flag }) => `${env} (or ${flag})`).join(", ")}`
  }
}

/** A setting is present but unusable: a malformed account ID or URL, an unreadable secret file. */
export class InvalidConfigurationError extends Schema.TaggedError<InvalidConfigurationError>()(
  "InvalidConfigurationError",
  {
    /** The environment variable or flag, as the user wrote it. */
    setting: Schema.String,
    reason: Schema.String
  }
) {
  override get message() {
    return `Invalid ${this.setting}: ${this.reason}.`
  }
}

/** Some IDs of an `issue` or some rows of a `batch` were not issued; the details were reported above. */
export class NotAllIssuedError extends Schema.TaggedError<NotAllIssuedError>()("NotAllIssuedError", {
  /** IDs (or rows) not issued: failed or rejected. */
  notIssued: Schema.Number,
  total: Schema.Number,
  /** What to do about them, when there is something. */
  hint: Schema.optional(Schema.String)
}) {
  override get message() {
    return `${this.notIssued} of ${this.total} were not issued.${this.hint === undefined ? "" : ` ${this.hint}`}`
  }
}

/** A batch stopped before its end because every row would fail alike; nothing more was sent. */
export class StoppedEarlyError extends Schema.TaggedError<StoppedEarlyError>()("StoppedEarlyError", {
  /** The tag of the error that stopped it: `AuthenticationError`, `DomainLookupError`, `BadDomainError`. */
  error: Schema.String,
  reason: Schema.String,
  /** The command that carries on once the cause is fixed. */
  resumeCommand: Schema.String
}) {
  override get message() {
    return `${this.error}: ${this.reason} Once fixed, carry on with: ${this.resumeCommand}`
  }
}

/** Every error of the command itself. */
export type CliError = MissingConfigurationError | InvalidConfigurationError | NotAllIssuedError | StoppedEarlyError
