/**
 * Writing a command line a person can paste into a POSIX shell.
 *
 * @internal
 */

const safe = /^[A-Za-z0-9_@%+=:,./-]+$/

/** One word, single-quoted when it holds anything a shell would interpret. */
export const quote = (word: string): string => (safe.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`)

/** A command line from its words. */
export const commandLine = (words: ReadonlyArray<string>): string => words.map(quote).join(" ")
