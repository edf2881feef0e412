/**
 * The Domain API (CSDS) URL: where an account's service domains are looked up.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import * as BaseUri from "./BaseUri.js"

/** LivePerson's public Domain API. */
export const defaultUrl = "https://api.liveperson.net"

/**
 * Why `input` is not a usable CSDS URL, or `undefined`. It must be an `https://` origin, or an
 * `http://` one on a loopback host (the emulator); no userinfo, path, query or fragment.
 */
export const validate = (input: string): string | undefined => {
  let url: URL
  try {
    url = new URL(input)
  } catch {
    return "is not a URL (expected e.g. https://api.liveperson.net)"
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return "must start with https://"
  if (url.username !== "" || url.password !== "") return "must not contain userinfo"
  if ((url.pathname !== "/" && url.pathname !== "") || url.search !== "" || url.hash !== "") {
    return "must be an origin only, without a path, query or fragment"
  }
  if (url.protocol === "http:" && !BaseUri.isLoopbackHost(url.hostname)) {
    return "must use https:// (plain http:// is allowed only on a loopback host such as 127.0.0.1)"
  }
  return undefined
}

/** A validated CSDS origin such as `https://api.liveperson.net`, without a trailing slash. */
export const CsdsUrl = Schema.String.pipe(
  Schema.filter((input) => {
    const reason = validate(input)
    return reason === undefined ? true : `a CSDS URL ${reason}`
  }, { identifier: "CsdsUrl" }),
  Schema.brand("CsdsUrl")
)

/** A validated CSDS origin. */
export type CsdsUrl = typeof CsdsUrl.Type

/** Normalizes a valid CSDS URL to its origin (no trailing slash). Throws on an invalid one. */
export const make = (input: string): CsdsUrl => CsdsUrl.make(new URL(CsdsUrl.make(input)).origin)
