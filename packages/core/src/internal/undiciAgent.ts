/**
 * undici's `Agent` alone. The package's index also loads its fetch, WebSocket, EventSource and
 * caches, about 1 MB more of the CLI's bundle, compiled and run at every start; an HTTP client
 * needs none of them. Internal to core.
 */
import type { Agent as UndiciAgent } from "undici"
// @ts-expect-error: undici types its index only; this file's export is its `Agent` class.
import AgentClass from "undici/lib/dispatcher/agent.js"

/** undici's `Agent` class. */
export const Agent: typeof UndiciAgent = AgentClass
