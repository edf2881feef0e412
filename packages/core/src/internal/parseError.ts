/**
 * A Schema decoding failure as one line for an error message. Internal to core.
 */
import * as ParseResult from "effect/ParseResult"
import { maskTokens } from "./jwt.js"

/**
 * Each issue as `path: message` (the message alone at the top), joined by "; ", with anything shaped
 * like a JWT masked: a message quotes the value it got ("actual ..."), and an answer that is a
 * token where an object was expected would otherwise put the token in the error.
 */
export const describe = (error: ParseResult.ParseError): string =>
  maskTokens(
    ParseResult.ArrayFormatter.formatErrorSync(error)
      .map((issue) => issue.path.length === 0 ? issue.message : `${issue.path.join(".")}: ${issue.message}`)
      .join("; ")
  )
