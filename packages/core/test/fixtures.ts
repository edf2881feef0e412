/**
 * A scripted in-memory LivePerson for pure retry, timeout and caching tests driven by `TestClock`.
 * Flow tests over real HTTP run against the emulator in the repository's `test/` folder.
 */
import { HttpClient, HttpClientError, HttpClientResponse } from "@effect/platform"
import { Effect, Layer, Redacted } from "effect"
import { ConsumerJwsClient } from "../src/index.js"

export const accountId = "le31457780"
export const clientId = "client-id"
export const clientSecret = "s3cr3t-client-secret"

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url")

/** An unsigned JWT-shaped token with the given claims (the client never verifies signatures). */
export const jwt = (claims: Record<string, unknown>) =>
  `${base64url({ alg: "RS256", typ: "JWT", kid: "test" })}.${base64url(claims)}.c2lnbmF0dXJl`

export const consumerJws = (extConsumerId: string, account = accountId) =>
  jwt({ account_id: account, ext_consumer_id: extConsumerId, lp_consumer_id: "ab".repeat(32) })

/** A scripted answer: a status and body, a transport failure, or never answering. */
export type Answer =
  | { readonly status: number; readonly body?: unknown; readonly headers?: Record<string, string> }
  | "reset"
  | "hang"

export interface Recorded {
  readonly method: string
  readonly url: URL
  readonly headers: Record<string, string>
  readonly body: string
}

/**
 * A fake HttpClient. `routes` maps `csds`, `sentinel` and `idp` to a function of the request number
 * (0-based, per route) giving the answer; the defaults answer like LivePerson.
 */
export const makeFake = (routes: {
  readonly csds?: (n: number, request: Recorded) => Answer
  readonly sentinel?: (n: number, request: Recorded) => Answer
  readonly idp?: (n: number, request: Recorded) => Answer
} = {}) => {
  const requests: Array<Recorded> = []
  const counts = { csds: 0, sentinel: 0, idp: 0 }
  const defaults = {
    csds: (): Answer => ({ status: 200, body: { service: "idp", account: accountId, baseURI: "lp.example.com" } }),
    sentinel: (): Answer => ({ status: 200, body: { access_token: jwt({ exp: Math.floor(Date.now() / 1000) + 3600 }), token_type: "Bearer" } }),
    idp: (_: number, request: Recorded): Answer => ({ status: 201, body: { token: consumerJws(JSON.parse(request.body).ext_consumer_id) } })
  }
  const client = HttpClient.make((request, url) =>
    Effect.gen(function*() {
      const body = request.body._tag === "Uint8Array" ? new TextDecoder().decode(request.body.body) : ""
      const recorded: Recorded = { method: request.method, url, headers: { ...request.headers }, body }
      requests.push(recorded)
      const route = url.pathname.includes("/baseURI.json") ? "csds" : url.pathname.includes("/sentinel/") ? "sentinel" : "idp"
      const answer = (routes[route] ?? defaults[route])(counts[route]++, recorded)
      if (answer === "hang") return yield* Effect.never
      if (answer === "reset") {
        return yield* new HttpClientError.RequestError({ request, reason: "Transport", cause: new Error("socket hang up") })
      }
      const text = answer.body === undefined ? "" : typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body)
      return HttpClientResponse.fromWeb(request, new Response(text, { status: answer.status, headers: answer.headers ?? {} }))
    })
  )
  const clientLayer = Layer.succeed(HttpClient.HttpClient, client)
  const layer = ConsumerJwsClient.layer(
    ConsumerJwsClient.makeSettings({ accountId, clientId, clientSecret: Redacted.make(clientSecret) })
  ).pipe(Layer.provide(clientLayer))
  return { requests, counts, layer, clientLayer }
}
