/**
 * `@consumer-jws/emulator`: a local LivePerson server (CSDS, Sentinel, IDP) with fault injection.
 *
 * @since 0.1.0
 */

/** The emulator as a scoped resource, its options, faults and stats. */
export * as Emulator from "./Emulator.js"

/** Emulator options from command-line flags (the bin and the CLI). */
export * as EmulatorOptions from "./EmulatorOptions.js"
