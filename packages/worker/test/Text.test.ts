import { assert, describe, it } from "@effect/vitest"
import { decodeUtf8, TextFault } from "../src/internal/text.js"

// The text decoded from `chunks` as they would come from a file or a pipe, or the fault it stops on.
const decoded = async (chunks: ReadonlyArray<ReadonlyArray<number>>): Promise<string | TextFault> => {
  async function* source() {
    for (const chunk of chunks) yield Uint8Array.from(chunk)
  }
  let text = ""
  try {
    for await (const piece of decodeUtf8(source())) text += piece
  } catch (error) {
    if (error instanceof TextFault) return error
    throw error
  }
  return text
}

const utf16 = "the file is UTF-16, not UTF-8 (save it as UTF-8)"

describe("decodeUtf8", () => {
  it("names a UTF-16 byte order mark, however the first bytes are split", async () => {
    for (const chunks of [[[0xff, 0xfe, 0x61, 0]], [[0xff], [0xfe, 0x61, 0]], [[0xfe], [], [0xff, 0, 0x61]]]) {
      const result = await decoded(chunks)
      assert.instanceOf(result, TextFault, JSON.stringify(chunks))
      assert.strictEqual((result as TextFault).reason, utf16)
    }
  })

  it("decodes UTF-8 split anywhere, a one-byte input included, and names the line of a bad byte", async () => {
    assert.strictEqual(await decoded([[0x61]]), "a")
    assert.strictEqual(await decoded([[0xef, 0xbb, 0xbf, 0x61], [0x0a, 0xc3], [0xa9]]), "a\né")
    assert.strictEqual(await decoded([]), "")
    const bad = await decoded([[0x61, 0x0a], [0x62, 0x0a, 0xff]])
    assert.instanceOf(bad, TextFault)
    assert.strictEqual((bad as TextFault).line, 3)
    assert.strictEqual((bad as TextFault).reason, "the file is not valid UTF-8 (save it as UTF-8)")
  })
})
