/**
 * Numeric flags whose parse error names the flag: `@effect/cli`'s `Options.integer` and `Options.float`
 * say only "'abc' is not a float", which leaves a person to guess which of a long command line's
 * flags it means.
 *
 * @internal
 */
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as Effect from "effect/Effect"

const wholeNumber = /^[+-]?\d+$/
const decimalNumber = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i

const numeric = (name: string, pseudoName: string, pattern: RegExp, what: string): Options.Options<number> =>
  Options.text(name).pipe(
    Options.withPseudoName(pseudoName),
    Options.mapEffect((text) =>
      pattern.test(text)
        ? Effect.succeed(Number(text))
        : Effect.fail(ValidationError.invalidValue(HelpDoc.p(`Invalid option --${name}: expected ${what}, got '${text}'.`)))
    )
  )

/** A flag holding a whole number, such as `--concurrency 32`. */
export const integer = (name: string): Options.Options<number> => numeric(name, "integer", wholeNumber, "a whole number")

/** A flag holding a number, such as `--rate 12.5` or `--rate 1e3`. */
export const number = (name: string): Options.Options<number> => numeric(name, "number", decimalNumber, "a number")
