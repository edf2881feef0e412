/**
 * A hook around every IDP request: where a bulk caller puts its shared rate limit and its pause
 * after a 429. Core's default lets every request through at once.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"

/** What came back from one IDP request, for the gate to learn from. */
export type Outcome =
  | { readonly _tag: "Answered"; readonly status: number; readonly retryAfterMillis: number | undefined }
  | { readonly _tag: "Failed" }

/** The gate every IDP request passes. */
export interface Gate {
  /** Waits until a new request may start. */
  readonly enter: Effect.Effect<void>
  /** Reports how the request that entered ended. */
  readonly leave: (outcome: Outcome) => Effect.Effect<void>
  /**
   * Optional, for gates passed millions of times: lets a request start at once when it need not
   * wait, and says so with `true`, with no runtime step; `false` means nothing was done, and the
   * request goes through `enter`.
   */
  readonly unsafeTryEnter?: () => boolean
  /** Optional: `leave` as a plain call, for gates whose bookkeeping is synchronous. */
  readonly unsafeLeave?: (outcome: Outcome) => void
}

/** A gate that never waits. */
export const open: Gate = { enter: Effect.void, leave: () => Effect.void, unsafeTryEnter: () => true, unsafeLeave: () => {} }

/** The gate in force: {@link open} unless the caller provides another (the bulk worker does). */
export class RequestGate extends Context.Reference<RequestGate>()("@consumer-jws/core/RequestGate", {
  defaultValue: (): Gate => open
}) {}
