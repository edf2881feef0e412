/**
 * The emulator's RSA key: RS256 signing, verification of its own tokens, and the JWKS.
 *
 * @internal
 */
import * as Crypto from "node:crypto"
import * as Fs from "node:fs/promises"
import { calculateJwkThumbprint } from "jose"
import type { JsonWebKeySet } from "../Emulator.js"

/** Signs and verifies compact RS256 JWS with one key. */
export interface Signer {
  readonly kid: string
  readonly modulusBits: number
  readonly jwks: JsonWebKeySet
  /** Signs `claims` (serialised in their own key order) under the header `{kid, typ, alg}`. */
  readonly sign: (claims: object) => Promise<string>
  /** The claims of a token this key signed, or `undefined` for anything else. */
  readonly verify: (token: string) => Record<string, unknown> | undefined
}

const base64url = (text: string): string => Buffer.from(text, "utf8").toString("base64url")

/** Where the key comes from: a PEM file (PKCS#8 or PKCS#1) or a fresh key of `keyBits` bits. */
export type KeySource =
  | { readonly _tag: "File"; readonly path: string }
  | { readonly _tag: "Generate"; readonly keyBits: number }

const loadPrivateKey = async (source: KeySource): Promise<Crypto.KeyObject> => {
  if (source._tag === "File") {
    const pem = await Fs.readFile(source.path, "utf8")
    const key = Crypto.createPrivateKey(pem)
    if (key.asymmetricKeyType !== "rsa") {
      throw new Error(`${source.path} holds a ${key.asymmetricKeyType ?? "non-asymmetric"} key; RS256 needs an RSA key`)
    }
    return key
  }
  const { privateKey } = await new Promise<Crypto.KeyPairKeyObjectResult>((resolve, reject) =>
    Crypto.generateKeyPair(
      "rsa",
      { modulusLength: source.keyBits },
      (error, publicKey, privateKey) => error ? reject(error) : resolve({ publicKey, privateKey })
    )
  )
  return privateKey
}

/**
 * Builds a signer. Signing uses node:crypto with a callback, so RSA private-key operations run on
 * libuv's thread pool and use every core: jose's WebCrypto path measured about 2.5 times slower here,
 * and jose refuses RSA keys under 2048 bits (LivePerson's documented example used 1024).
 */
export const make = async (source: KeySource): Promise<Signer> => {
  const privateKey = await loadPrivateKey(source)
  const publicKey = Crypto.createPublicKey(privateKey)
  const { n, e } = publicKey.export({ format: "jwk" })
  if (n === undefined || e === undefined) throw new Error("the RSA public key has no modulus or exponent")
  const kid = `emulator-${(await calculateJwkThumbprint({ kty: "RSA", n, e })).slice(0, 16)}`
  const encodedHeader = base64url(JSON.stringify({ kid, typ: "JWT", alg: "RS256" }))

  const sign = (claims: object): Promise<string> => {
    const signingInput = `${encodedHeader}.${base64url(JSON.stringify(claims))}`
    return new Promise((resolve, reject) =>
      Crypto.sign(
        "sha256",
        Buffer.from(signingInput, "utf8"),
        privateKey,
        (error, signature) => error ? reject(error) : resolve(`${signingInput}.${signature.toString("base64url")}`)
      )
    )
  }

  const verify = (token: string): Record<string, unknown> | undefined => {
    const parts = token.split(".")
    if (parts.length !== 3) return undefined
    const [header, payload, signature] = parts as [string, string, string]
    if (header !== encodedHeader) return undefined
    try {
      const valid = Crypto.verify(
        "sha256",
        Buffer.from(`${header}.${payload}`, "utf8"),
        publicKey,
        Buffer.from(signature, "base64url")
      )
      if (!valid) return undefined
      const claims: unknown = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"))
      return typeof claims === "object" && claims !== null && !Array.isArray(claims)
        ? claims as Record<string, unknown>
        : undefined
    } catch {
      return undefined
    }
  }

  return {
    kid,
    modulusBits: privateKey.asymmetricKeyDetails?.modulusLength ?? 0,
    jwks: { keys: [{ kty: "RSA", n, e, kid, alg: "RS256", use: "sig" }] },
    sign,
    verify
  }
}
