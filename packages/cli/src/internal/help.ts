/**
 * Help text: a command's description followed by examples.
 *
 * @internal
 */
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Span from "@effect/cli/HelpDoc/Span"

/** One example: the command line and what it does. */
export interface Example {
  readonly command: string
  readonly does: string
}

/** A description of a command: paragraphs, then its examples, each command line with a line saying what it does. */
export const describe = (paragraphs: ReadonlyArray<string>, examples: ReadonlyArray<Example>): HelpDoc.HelpDoc =>
  HelpDoc.blocks([
    ...paragraphs.map((text) => HelpDoc.p(text)),
    HelpDoc.p(Span.strong("Examples:")),
    ...examples.flatMap(({ command, does }) => [
      HelpDoc.p(Span.weak(`  # ${does}`)),
      HelpDoc.p(Span.code(`  $ ${command}`))
    ])
  ])
