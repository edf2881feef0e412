/**
 * `@consumer-jws/cli`: the `consumer-jws` command, built with `@effect/cli`.
 *
 * @since 0.1.0
 */

/** The command tree and running it to an exit code. */
export * as Cli from "./Cli.js"

/** `batch <input> --output <file>`. */
export * as BatchCommand from "./BatchCommand.js"

/** Settings from flags and the environment. */
export * as CliConfig from "./CliConfig.js"

/** The errors of the command itself. */
export * as CliError from "./CliError.js"

/** `decode <token>`. */
export * as DecodeCommand from "./DecodeCommand.js"

/** `demo`. */
export * as DemoCommand from "./DemoCommand.js"

/** `domains`. */
export * as DomainsCommand from "./DomainsCommand.js"

/** `emulator`. */
export * as EmulatorCommand from "./EmulatorCommand.js"

/** The exit codes. */
export * as ExitCode from "./ExitCode.js"

/** `issue <consumer-id>...`. */
export * as IssueCommand from "./IssueCommand.js"
