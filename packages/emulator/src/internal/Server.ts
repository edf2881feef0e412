/**
 * The emulator's HTTP server on raw `node:http`: plain callbacks in the hot path, so the emulator is
 * never what limits a client benchmark. `Emulator.make` wraps it as a scoped resource.
 *
 * @internal
 */
import { ConsumerId } from "@consumer-jws/core"
import * as Crypto from "node:crypto"
import * as Http from "node:http"
import * as Either from "effect/Either"
import type { FaultCounts, Faults, Stats } from "../Emulator.js"
import * as FaultsPatch from "./FaultsPatch.js"
import { deriveSeed, mulberry32 } from "./Random.js"
import type { Signer } from "./Signer.js"

/** Everything the server needs, already validated. */
export interface Config {
  readonly port: number
  readonly accountId: string
  readonly clientId: string
  readonly clientSecret: string
  readonly includeExpiresIn: boolean
  readonly seed: number
  /** A request this soon after a 429 was sent is not counted in `requestsDuringRetryAfter`. */
  readonly retryAfterGraceMillis: number
  readonly faults: Faults
  readonly signer: Signer
}

/** A listening server. */
export interface RunningServer {
  readonly port: number
  readonly stats: () => Stats
  readonly reset: () => void
  readonly faults: () => Faults
  readonly setFaults: (patch: unknown) => Either.Either<Faults, string>
  /** Stops listening, ends pending latencies and destroys every socket, hanging ones included. */
  readonly close: () => Promise<void>
}

/** The CSDS services the emulator knows; all point at the emulator itself. */
export const services = ["idp", "sentinel", "asyncMessagingEnt", "agentVep", "msgHist", "leDataReporting"] as const

/** Beyond this many distinct IDs, new IDs are no longer tracked (a V8 Set holds at most 2^24 entries). */
export const maxTrackedConsumerIds = 10_000_000

// Signed ConsumerJWS per ext_consumer_id. RS256 (PKCS#1 v1.5) is deterministic, so a cached token is
// byte-identical to a freshly signed one. About 600 bytes an entry.
const consumerJwsCacheSize = 10_000
const appJwtCacheSize = 1_024
const maxBodyBytes = 64 * 1024

type RouteName = "csds" | "sentinel" | "idp" | "jwks" | "other"

type IdpFault = "rateLimited" | "reset" | "hang" | "429" | "500" | "503" | "malformed" | undefined

const csdsOnePath = /^\/api\/account\/([^/]+)\/service\/([^/]+)\/baseURI\.json$/
const csdsAllPath = /^\/api\/account\/([^/]+)\/service\/baseURI\.json$/
const sentinelPath = /^\/sentinel\/api\/account\/([^/]+)\/app\/token$/
const idpPath = /^\/api\/account\/([^/]+)\/consumer$/

const lpError = (code: number, title: string, details: string, errorCode?: number): string =>
  JSON.stringify({
    kind: "resp",
    code,
    body: errorCode === undefined ? { title, details } : { title, details, errorCode },
    type: ".ReqBody$ErrorResp"
  })

/** The body LivePerson answers with when the AppJWT is missing, expired or invalid. */
export const unauthorizedBody = lpError(401, "Unauthorized", "AppJWT expired or invalid", 40102)

const decodeSegment = (segment: string): string | undefined => {
  try {
    return decodeURIComponent(segment)
  } catch {
    return undefined
  }
}

const emptyFaultCounts = (): { -readonly [K in keyof FaultCounts]: number } => ({
  resets: 0,
  hangs: 0,
  malformed: 0,
  "429": 0,
  "500": 0,
  "503": 0,
  rateLimited: 0,
  csds503: 0,
  sentinel503: 0
})

/** Starts the server; resolves once it listens on 127.0.0.1. */
export const start = (config: Config): Promise<RunningServer> => {
  const { accountId, clientId, clientSecret, signer } = config
  let faults = config.faults

  // ---- mutable state, all reset by `reset` except `inFlight` ----
  let routes: Record<RouteName, Record<string, number>> = { csds: {}, sentinel: {}, idp: {}, jwks: {}, other: {} }
  let faultCounts = emptyFaultCounts()
  let tokensIssued = 0
  let appJwtsIssued = 0
  let duplicateIssuances = 0
  let inFlight = 0
  let maxInFlight = 0
  let requestsDuringRetryAfter = 0
  // The latest end of a Retry-After whose grace has passed; the 429s still within their grace wait
  // in `recent429s` (in the order sent, so the oldest is first).
  let retryAfterUntil = 0
  let recent429s: Array<{ readonly sentAt: number; readonly until: number }> = []
  let issuedIds = new Set<string>()
  let issuedIdsTruncated = false
  let idpRandom = mulberry32(deriveSeed(config.seed, 0))
  let csdsRandom = mulberry32(deriveSeed(config.seed, 1))
  let sentinelRandom = mulberry32(deriveSeed(config.seed, 2))
  let bucketTokens = Math.max(1, faults.rateLimitPerSecond ?? 0)
  let bucketUpdated = Date.now()

  const consumerJwsCache = new Map<string, string>()
  const appJwtCache = new Map<string, { readonly aud: unknown; readonly exp: number }>()
  const timers = new Set<NodeJS.Timeout>()

  const count = (route: RouteName, outcome: string) => {
    const counts = routes[route]
    counts[outcome] = (counts[outcome] ?? 0) + 1
  }

  const send = (
    res: Http.ServerResponse,
    route: RouteName,
    status: number,
    body: string,
    headers?: Http.OutgoingHttpHeaders
  ) => {
    count(route, String(status))
    if (res.destroyed || res.writableEnded) return
    res.writeHead(status, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
      ...headers
    })
    res.end(body)
  }

  const later = (delayMs: number, run: () => void) => {
    if (delayMs <= 0) return run()
    const timer = setTimeout(() => {
      timers.delete(timer)
      run()
    }, delayMs)
    timers.add(timer)
  }

  const readBody = (req: Http.IncomingMessage, onBody: (body: string | undefined) => void) => {
    const chunks: Array<Buffer> = []
    let size = 0
    req.on("data", (chunk: Buffer) => {
      size += chunk.length
      if (size <= maxBodyBytes) chunks.push(chunk)
    })
    req.on("end", () => onBody(size > maxBodyBytes ? undefined : Buffer.concat(chunks).toString("utf8")))
  }

  const noteRetryAfter = (seconds: number) => {
    const sentAt = Date.now()
    recent429s.push({ sentAt, until: sentAt + seconds * 1000 })
  }

  // Whether a request arriving now ignores a Retry-After: it arrives more than the grace after some
  // 429 was sent and before that 429's Retry-After ended. Within the grace, requests other client
  // connections had already sent before the 429 reached the client may still be arriving.
  const insideRetryAfter = (arrival: number): boolean => {
    while (recent429s.length > 0 && arrival - recent429s[0]!.sentAt > config.retryAfterGraceMillis) {
      retryAfterUntil = Math.max(retryAfterUntil, recent429s.shift()!.until)
    }
    return arrival < retryAfterUntil
  }

  // Token bucket: refills at `rateLimitPerSecond`, holds as much (at least one request). Returns the
  // Retry-After in seconds when the request is over the limit, 0 when it may pass.
  const rateLimitRetryAfter = (now: number): number => {
    const limit = faults.rateLimitPerSecond
    if (limit === undefined) return 0
    bucketTokens = Math.min(Math.max(1, limit), bucketTokens + ((now - bucketUpdated) / 1000) * limit)
    bucketUpdated = now
    if (bucketTokens >= 1) {
      bucketTokens -= 1
      return 0
    }
    return Math.max(1, Math.ceil((1 - bucketTokens) / limit))
  }

  const appJwtAccepted = (authorization: string | undefined, account: string, nowSeconds: number): boolean => {
    // The raw token only: `Bearer <token>` fails verification like any other foreign string.
    if (authorization === undefined || authorization.length === 0) return false
    let claims = appJwtCache.get(authorization)
    if (claims === undefined) {
      const verified = signer.verify(authorization)
      if (
        verified === undefined || verified["iss"] !== "Sentinel" || verified["scope"] !== "msg.consumer" ||
        typeof verified["exp"] !== "number"
      ) return false
      claims = { aud: verified["aud"], exp: verified["exp"] }
      if (appJwtCache.size >= appJwtCacheSize) appJwtCache.delete(appJwtCache.keys().next().value!)
      appJwtCache.set(authorization, claims)
    }
    return claims.aud === account && nowSeconds < claims.exp
  }

  const lpConsumerId = (account: string, extConsumerId: string): string =>
    Crypto.createHash("sha256").update(`${account}\0${extConsumerId}`, "utf8").digest("hex")

  const consumerJws = (account: string, extConsumerId: string): Promise<string> => {
    const cached = consumerJwsCache.get(extConsumerId)
    if (cached !== undefined) return Promise.resolve(cached)
    return signer.sign({
      account_id: account,
      ext_consumer_id: extConsumerId,
      lp_consumer_id: lpConsumerId(account, extConsumerId)
    }).then((token) => {
      if (consumerJwsCache.size >= consumerJwsCacheSize) {
        consumerJwsCache.delete(consumerJwsCache.keys().next().value!)
      }
      consumerJwsCache.set(extConsumerId, token)
      return token
    })
  }

  const recordIssuance = (extConsumerId: string) => {
    tokensIssued++
    if (issuedIds.has(extConsumerId)) duplicateIssuances++
    else if (issuedIds.size < maxTrackedConsumerIds) issuedIds.add(extConsumerId)
    else issuedIdsTruncated = true
  }

  // ---- IDP ----

  const issueConsumerJws = (
    req: Http.IncomingMessage,
    res: Http.ServerResponse,
    account: string,
    query: URLSearchParams,
    body: string
  ) => {
    if (query.get("v") !== "1.0") {
      return send(res, "idp", 400, lpError(400, "Bad Request", "the query parameter v must be 1.0"))
    }
    if (account !== accountId) {
      return send(res, "idp", 404, lpError(404, "Not Found", `unknown account ${account}`))
    }
    if (!appJwtAccepted(req.headers.authorization, account, Date.now() / 1000)) {
      return send(res, "idp", 401, unauthorizedBody)
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(body)
    } catch {
      return send(res, "idp", 400, lpError(400, "Bad Request", "the body is not valid JSON"))
    }
    const extConsumerId = typeof parsed === "object" && parsed !== null
      ? (parsed as Record<string, unknown>)["ext_consumer_id"]
      : undefined
    if (typeof extConsumerId !== "string") {
      return send(
        res,
        "idp",
        400,
        lpError(400, "Bad Request", "the body must be a JSON object with a string ext_consumer_id")
      )
    }
    const reason = ConsumerId.validate(extConsumerId)
    if (reason !== undefined) {
      return send(res, "idp", 400, lpError(400, "Bad Request", `ext_consumer_id ${reason}`))
    }
    consumerJws(account, extConsumerId).then(
      (token) => {
        recordIssuance(extConsumerId)
        send(res, "idp", 201, JSON.stringify({ token }))
      },
      () => send(res, "idp", 500, lpError(500, "Internal Server Error", "signing failed"))
    )
  }

  const pickIdpFault = (current: Faults, draw: number): IdpFault => {
    let edge = current.rateReset
    if (draw < edge) return "reset"
    if (draw < (edge += current.rateHang)) return "hang"
    if (draw < (edge += current.rate429)) return "429"
    if (draw < (edge += current.rate500)) return "500"
    if (draw < (edge += current.rate503)) return "503"
    if (draw < (edge += current.rateMalformed)) return "malformed"
    return undefined
  }

  const idp = (req: Http.IncomingMessage, res: Http.ServerResponse, account: string, query: URLSearchParams) => {
    const current = faults
    const arrival = Date.now()
    inFlight++
    if (inFlight > maxInFlight) maxInFlight = inFlight
    res.once("close", () => inFlight--)
    if (insideRetryAfter(arrival)) requestsDuringRetryAfter++
    // Two draws for every IDP request, whatever happens, so a seed gives the same sequence.
    const faultDraw = idpRandom()
    const jitterDraw = idpRandom()
    const limitedFor = rateLimitRetryAfter(arrival)
    const fault: IdpFault = limitedFor > 0 ? "rateLimited" : pickIdpFault(current, faultDraw)
    if (fault === "hang") {
      // Never answered; the socket stays open until the client gives up or the server closes.
      faultCounts.hangs++
      count("idp", "hang")
      req.resume()
      return
    }
    const delayMs = current.latencyMs + Math.floor(jitterDraw * (current.latencyJitterMs + 1))
    readBody(req, (body) =>
      later(delayMs, () => {
        switch (fault) {
          case "rateLimited": {
            faultCounts.rateLimited++
            noteRetryAfter(limitedFor)
            return send(
              res,
              "idp",
              429,
              lpError(429, "Too Many Requests", `rate limit of ${current.rateLimitPerSecond} requests/s exceeded`),
              { "retry-after": String(limitedFor) }
            )
          }
          case "reset": {
            faultCounts.resets++
            count("idp", "reset")
            req.socket.resetAndDestroy()
            return
          }
          case "429": {
            faultCounts["429"]++
            noteRetryAfter(current.retryAfterSeconds)
            return send(res, "idp", 429, lpError(429, "Too Many Requests", "injected 429"), {
              "retry-after": String(current.retryAfterSeconds)
            })
          }
          case "500": {
            faultCounts["500"]++
            return send(res, "idp", 500, lpError(500, "Internal Server Error", "injected 500"))
          }
          case "503": {
            faultCounts["503"]++
            return send(res, "idp", 503, lpError(503, "Service Unavailable", "injected 503"))
          }
          case "malformed": {
            faultCounts.malformed++
            return send(res, "idp", 201, "{\"tok")
          }
          case undefined: {
            if (body === undefined) {
              return send(res, "idp", 413, lpError(413, "Payload Too Large", `the body exceeds ${maxBodyBytes} bytes`))
            }
            return issueConsumerJws(req, res, account, query, body)
          }
        }
      })
    )
  }

  // ---- Sentinel ----

  const sentinel = (req: Http.IncomingMessage, res: Http.ServerResponse, account: string, query: URLSearchParams) => {
    if (sentinelRandom() < faults.sentinel503Rate) {
      faultCounts.sentinel503++
      return send(res, "sentinel", 503, JSON.stringify({ error: "service_unavailable" }))
    }
    if (query.has("client_id") || query.has("client_secret")) {
      return send(
        res,
        "sentinel",
        400,
        JSON.stringify({
          error: "invalid_request",
          error_description: "client_id and client_secret belong in the form body, never in the URL"
        })
      )
    }
    if (query.get("v") !== "1.0" || query.get("grant_type") !== "client_credentials") {
      return send(
        res,
        "sentinel",
        400,
        JSON.stringify({ error: "invalid_request", error_description: "the query must hold v=1.0&grant_type=client_credentials" })
      )
    }
    if (account !== accountId) {
      return send(res, "sentinel", 404, JSON.stringify({ error: "not_found", error_description: `unknown account ${account}` }))
    }
    const contentType = req.headers["content-type"] ?? ""
    readBody(req, (body) => {
      if (body === undefined || !contentType.startsWith("application/x-www-form-urlencoded")) {
        return send(
          res,
          "sentinel",
          400,
          JSON.stringify({ error: "invalid_request", error_description: "expected an application/x-www-form-urlencoded body" })
        )
      }
      const form = new URLSearchParams(body)
      if (form.get("client_id") !== clientId || form.get("client_secret") !== clientSecret) {
        return send(
          res,
          "sentinel",
          401,
          JSON.stringify({ error: "invalid_client", error_description: "unknown client_id or wrong client_secret" })
        )
      }
      const lifetime = faults.appJwtLifetimeSeconds
      const iat = Math.floor(Date.now() / 1000)
      signer.sign({ aud: account, azp: clientId, scope: "msg.consumer", iss: "Sentinel", iat, exp: iat + lifetime })
        .then(
          (accessToken) => {
            appJwtsIssued++
            send(
              res,
              "sentinel",
              200,
              JSON.stringify(
                config.includeExpiresIn
                  ? { access_token: accessToken, token_type: "Bearer", expires_in: lifetime }
                  : { access_token: accessToken, token_type: "Bearer" }
              )
            )
          },
          () => send(res, "sentinel", 500, JSON.stringify({ error: "server_error" }))
        )
    })
  }

  // ---- CSDS ----

  const baseUri = () => `127.0.0.1:${port}`

  const csds = (res: Http.ServerResponse, account: string, service: string | undefined, query: URLSearchParams) => {
    if (csdsRandom() < faults.csds503Rate) {
      faultCounts.csds503++
      return send(res, "csds", 503, JSON.stringify({ error: "service unavailable" }))
    }
    if (query.get("version") !== "1.0") {
      return send(res, "csds", 400, JSON.stringify({ error: "the query parameter version must be 1.0" }))
    }
    if (account !== accountId) {
      return send(res, "csds", 404, JSON.stringify({ error: `unknown account ${account}` }))
    }
    if (service === undefined) {
      return send(
        res,
        "csds",
        200,
        JSON.stringify({ baseURIs: services.map((name) => ({ service: name, account, baseURI: baseUri() })) })
      )
    }
    if (!(services as ReadonlyArray<string>).includes(service)) {
      return send(res, "csds", 404, JSON.stringify({ error: `unknown service ${service}` }))
    }
    send(res, "csds", 200, JSON.stringify({ service, account, baseURI: baseUri() }))
  }

  // ---- control ----

  const faultsJson = () => JSON.stringify({ ...faults, rateLimitPerSecond: faults.rateLimitPerSecond ?? null })

  const control = (req: Http.IncomingMessage, res: Http.ServerResponse, path: string) => {
    const reply = (status: number, body: string) => {
      if (res.destroyed || res.writableEnded) return
      res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
      res.end(body)
    }
    if (path === "/__stats" && req.method === "GET") return reply(200, JSON.stringify(stats()))
    if (path === "/__reset" && req.method === "POST") {
      reset()
      return reply(200, JSON.stringify({ reset: true }))
    }
    if (path === "/__faults" && req.method === "GET") return reply(200, faultsJson())
    if (path === "/__faults" && req.method === "POST") {
      return readBody(req, (body) => {
        let patch: unknown
        try {
          patch = JSON.parse(body ?? "")
        } catch {
          return reply(400, JSON.stringify({ error: "the body is not valid JSON" }))
        }
        const applied = setFaults(patch)
        return Either.isLeft(applied)
          ? reply(400, JSON.stringify({ error: applied.left }))
          : reply(200, faultsJson())
      })
    }
    reply(404, JSON.stringify({ error: "unknown control route" }))
  }

  // ---- dispatch ----

  const methodNotAllowed = (res: Http.ServerResponse, route: RouteName, allowed: string) =>
    send(res, route, 405, JSON.stringify({ error: `use ${allowed}` }), { allow: allowed })

  const onRequest = (req: Http.IncomingMessage, res: Http.ServerResponse) => {
    const url = req.url ?? "/"
    const q = url.indexOf("?")
    const path = q === -1 ? url : url.slice(0, q)
    const query = new URLSearchParams(q === -1 ? "" : url.slice(q + 1))
    let match: RegExpExecArray | null
    if ((match = idpPath.exec(path)) !== null) {
      if (req.method !== "POST") return methodNotAllowed(res, "idp", "POST")
      const account = decodeSegment(match[1]!)
      if (account === undefined) return send(res, "idp", 400, lpError(400, "Bad Request", "malformed path"))
      return idp(req, res, account, query)
    }
    if ((match = sentinelPath.exec(path)) !== null) {
      if (req.method !== "POST") return methodNotAllowed(res, "sentinel", "POST")
      const account = decodeSegment(match[1]!)
      if (account === undefined) return send(res, "sentinel", 400, JSON.stringify({ error: "malformed path" }))
      return sentinel(req, res, account, query)
    }
    const one = csdsOnePath.exec(path)
    const all = one === null ? csdsAllPath.exec(path) : null
    if (one !== null || all !== null) {
      if (req.method !== "GET") return methodNotAllowed(res, "csds", "GET")
      const account = decodeSegment((one ?? all)![1]!)
      const service = one === null ? undefined : decodeSegment(one[2]!)
      if (account === undefined || (one !== null && service === undefined)) {
        return send(res, "csds", 400, JSON.stringify({ error: "malformed path" }))
      }
      return csds(res, account, service, query)
    }
    if (path === "/.well-known/jwks.json") {
      if (req.method !== "GET") return methodNotAllowed(res, "jwks", "GET")
      return send(res, "jwks", 200, jwksJson)
    }
    if (path.startsWith("/__")) return control(req, res, path)
    send(res, "other", 404, JSON.stringify({ error: `no route for ${req.method} ${path}` }))
  }

  const jwksJson = JSON.stringify(signer.jwks)

  const stats = (): Stats => ({
    routes: {
      csds: { ...routes.csds },
      sentinel: { ...routes.sentinel },
      idp: { ...routes.idp },
      jwks: { ...routes.jwks },
      other: { ...routes.other }
    },
    tokensIssued,
    appJwtsIssued,
    distinctConsumerIds: issuedIds.size,
    distinctConsumerIdsTruncated: issuedIdsTruncated,
    duplicateIssuances,
    inFlight,
    maxInFlight,
    requestsDuringRetryAfter,
    faults: { ...faultCounts }
  })

  const resetRandom = () => {
    idpRandom = mulberry32(deriveSeed(config.seed, 0))
    csdsRandom = mulberry32(deriveSeed(config.seed, 1))
    sentinelRandom = mulberry32(deriveSeed(config.seed, 2))
  }

  const resetBucket = () => {
    bucketTokens = Math.max(1, faults.rateLimitPerSecond ?? 0)
    bucketUpdated = Date.now()
  }

  const reset = () => {
    routes = { csds: {}, sentinel: {}, idp: {}, jwks: {}, other: {} }
    faultCounts = emptyFaultCounts()
    tokensIssued = 0
    appJwtsIssued = 0
    duplicateIssuances = 0
    maxInFlight = inFlight
    requestsDuringRetryAfter = 0
    retryAfterUntil = 0
    recent429s = []
    issuedIds = new Set()
    issuedIdsTruncated = false
    resetRandom()
    resetBucket()
  }

  const setFaults = (patch: unknown): Either.Either<Faults, string> => {
    const next = FaultsPatch.apply(faults, patch)
    if (Either.isRight(next)) {
      const limitChanged = next.right.rateLimitPerSecond !== faults.rateLimitPerSecond
      faults = next.right
      if (limitChanged) resetBucket()
    }
    return next
  }

  const server = Http.createServer({ keepAlive: true, noDelay: true }, (req, res) => {
    try {
      onRequest(req, res)
    } catch {
      send(res, "other", 500, JSON.stringify({ error: "internal emulator error" }))
    }
  })
  // Longer than common client keep-alive timeouts, so a client never reuses a socket the server is closing.
  server.keepAliveTimeout = 65_000
  server.headersTimeout = 66_000

  let port = config.port
  return new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(config.port, "127.0.0.1", () => {
      server.off("error", reject)
      const address = server.address()
      port = typeof address === "object" && address !== null ? address.port : config.port
      resolve({
        port,
        stats,
        reset,
        faults: () => faults,
        setFaults,
        close: () =>
          new Promise<void>((resolveClose) => {
            for (const timer of timers) clearTimeout(timer)
            timers.clear()
            server.close(() => resolveClose())
            server.closeAllConnections()
          })
      })
    })
  })
}
