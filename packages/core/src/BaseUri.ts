/**
 * A service domain as CSDS gives it: a bare `host` or `host:port`, never a URL.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

const label = "(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
const hostname = `${label}(?:\\.${label})*`
const ipv6 = "\\[[0-9A-Fa-f:.]+\\]"
const port = "(?::(?:[1-9][0-9]{0,4}))?"
const bareHost = new RegExp(`^(?:${hostname}|${ipv6})${port}$`)

/**
 * Why `input` is not a bare `host` or `host:port`, or `undefined` when it is. A scheme, a path,
 * userinfo (`@`), a query, whitespace or an empty value are all refused: the value is put in front of
 * an API path, and anything but a host could send a request (and credentials) somewhere else.
 */
export const validate = (input: string): string | undefined => {
  if (input.length === 0) return "is empty"
  if (input.length > 261) return "is longer than a host name and port can be"
  if (/\s/.test(input)) return "contains whitespace"
  if (input.includes("://")) return "has a scheme; CSDS must answer a bare host"
  if (input.includes("@")) return "has userinfo ('@')"
  if (/[/?#]/.test(input)) return "has a path, query or fragment"
  if (!bareHost.test(input)) return "is not a valid host or host:port"
  const portText = /:(\d+)$/.exec(input)?.[1]
  if (portText !== undefined && !input.endsWith("]") && Number(portText) > 65535) return "has a port above 65535"
  return undefined
}

/** A bare `host` or `host:port` returned by the Domain API. */
export const BaseUri = Schema.String.pipe(
  Schema.filter((input) => {
    const reason = validate(input)
    return reason === undefined ? true : `a baseURI ${reason}`
  }, { identifier: "BaseUri" }),
  Schema.brand("BaseUri")
)

/** A bare `host` or `host:port`, validated. */
export type BaseUri = typeof BaseUri.Type

/** The host part of a base URI, without port or IPv6 brackets. */
export const host = (baseUri: BaseUri): string => {
  if (baseUri.startsWith("[")) return baseUri.slice(1, baseUri.indexOf("]"))
  const colon = baseUri.lastIndexOf(":")
  return colon === -1 ? baseUri : baseUri.slice(0, colon)
}

/** Whether a host name or address is on this machine: 127.0.0.0/8, `::1` or `localhost`. */
export const isLoopbackHost = (hostName: string): boolean => {
  const name = hostName.toLowerCase().replace(/^\[|\]$/g, "")
  if (name === "localhost" || name === "::1" || name === "0:0:0:0:0:0:0:1") return true
  const octets = name.split(".")
  return octets.length === 4 && octets[0] === "127" &&
    octets.every((octet) => /^\d{1,3}$/.test(octet) && Number(octet) <= 255)
}

/**
 * The origin to send requests to: `https://` for every domain, except a loopback host, which uses
 * `http://` so that the local emulator works. Nothing else ever goes over plain HTTP.
 */
export const toOrigin = (baseUri: BaseUri): string =>
  `${isLoopbackHost(host(baseUri)) ? "http" : "https"}://${baseUri}`
