/**
 * The exit codes of the `consumer-jws` command, and which error ends a run with which code.
 *
 * @since 0.1.0
 */
import { ConsumerJwsError } from "@consumer-jws/core"
import * as FiberRef from "effect/FiberRef"

/** Every ID was issued (or the command did what it was asked). */
export const success = 0

/** Some rows failed or were rejected; for `issue`, some IDs failed. */
export const someFailed = 1

/** Bad usage or configuration: a flag, a missing setting, an input file, an existing output. */
export const usage = 2

/** The run stopped early: the credentials were rejected or a domain could not be resolved. */
export const stoppedEarly = 3

/** Stopped by SIGINT or SIGTERM (128 + SIGINT, as shells report it); a batch can be resumed. */
export const interrupted = 130

/** One of the exit codes above. */
export type ExitCode = typeof success | typeof someFailed | typeof usage | typeof stoppedEarly | typeof interrupted

/**
 * The code the process exits with when a signal stops the command: {@link interrupted} unless the
 * command sets another. The `emulator` command sets {@link success}: a signal is how it is meant to end.
 */
export const whenInterrupted: FiberRef.FiberRef<ExitCode> = FiberRef.unsafeMake<ExitCode>(interrupted)

/** The code for an error of the issuance flow that ended a command. */
export const ofConsumerJwsError = (error: ConsumerJwsError.ConsumerJwsError): ExitCode =>
  ConsumerJwsError.isFatalForBatch(error) ? stoppedEarly : someFailed
