/**
 * A deliberately independent LivePerson client for the emulator's tests: plain `fetch`, no code
 * shared with `@consumer-jws/core`, so the emulator is checked against the documented API, not
 * against our own client's idea of it.
 */

/** What one HTTP exchange ended as. */
export type Outcome =
  | { readonly _tag: "Response"; readonly status: number; readonly headers: Headers; readonly text: string }
  | { readonly _tag: "Reset" }
  | { readonly _tag: "Timeout" }

export const exchange = async (url: string, init: RequestInit): Promise<Outcome> => {
  try {
    const response = await fetch(url, init)
    return { _tag: "Response", status: response.status, headers: response.headers, text: await response.text() }
  } catch (error) {
    if (error instanceof DOMException && (error.name === "TimeoutError" || error.name === "AbortError")) {
      return { _tag: "Timeout" }
    }
    return { _tag: "Reset" }
  }
}

/** The outcome as one word: the status, `reset` or `timeout`. */
export const label = (outcome: Outcome): string => outcome._tag === "Response" ? String(outcome.status) : outcome._tag.toLowerCase()

export const csdsUrl = (base: string, account: string, service?: string, query = "?version=1.0"): string =>
  service === undefined
    ? `${base}/api/account/${account}/service/baseURI.json${query}`
    : `${base}/api/account/${account}/service/${service}/baseURI.json${query}`

export const sentinelUrl = (base: string, account: string, query = "?v=1.0&grant_type=client_credentials"): string =>
  `${base}/sentinel/api/account/${account}/app/token${query}`

export const idpUrl = (base: string, account: string, query = "?v=1.0"): string =>
  `${base}/api/account/${account}/consumer${query}`

/** `POST` to Sentinel with form-encoded credentials. */
export const requestAppJwt = (base: string, account: string, clientId: string, clientSecret: string) =>
  exchange(sentinelUrl(base, account), {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ client_id: clientId, client_secret: clientSecret }).toString()
  })

/** An AppJWT from Sentinel; throws unless Sentinel answers 200. */
export const appJwt = async (base: string, account: string, clientId: string, clientSecret: string): Promise<string> => {
  const outcome = await requestAppJwt(base, account, clientId, clientSecret)
  if (outcome._tag !== "Response" || outcome.status !== 200) throw new Error(`Sentinel answered ${label(outcome)}`)
  return (JSON.parse(outcome.text) as { access_token: string }).access_token
}

/** `POST` to the IDP with a raw body and an optional `Authorization` header. */
export const requestConsumerJws = (
  base: string,
  account: string,
  authorization: string | undefined,
  body: string,
  timeoutMs = 5_000
) =>
  exchange(idpUrl(base, account), {
    method: "POST",
    headers: authorization === undefined
      ? { "content-type": "application/json" }
      : { "content-type": "application/json", authorization },
    body,
    signal: AbortSignal.timeout(timeoutMs)
  })

export const getJson = async (url: string): Promise<unknown> => {
  const response = await fetch(url)
  return response.json()
}

export const postJson = (url: string, body: string) =>
  exchange(url, { method: "POST", headers: { "content-type": "application/json" }, body })
