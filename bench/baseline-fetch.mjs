// Baseline B: what a user writes today. `fetch`, a fixed pool of async workers, no retries,
// JSON Lines out. No project code.
//
//   LP_CSDS_URL=.. LP_ACCOUNT_ID=.. LP_CLIENT_ID=.. LP_CLIENT_SECRET=.. node baseline-fetch.mjs <ids.csv> <out.jsonl> <concurrency>
import { createWriteStream, readFileSync } from "node:fs"

const [input, output, concurrencyText = "32"] = process.argv.slice(2)
const { LP_CSDS_URL: csds, LP_ACCOUNT_ID: account, LP_CLIENT_ID: clientId, LP_CLIENT_SECRET: clientSecret } = process.env
const scheme = (host) => (host.startsWith("127.") || host.startsWith("localhost") ? "http" : "https")

const domain = async (service) => {
  const response = await fetch(`${csds}/api/account/${account}/service/${service}/baseURI.json?version=1.0`)
  return (await response.json()).baseURI
}
const [idp, sentinel] = await Promise.all([domain("idp"), domain("sentinel")])
const tokenResponse = await fetch(
  `${scheme(sentinel)}://${sentinel}/sentinel/api/account/${account}/app/token?v=1.0&grant_type=client_credentials`,
  { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ client_id: clientId, client_secret: clientSecret }) }
)
const appJwt = (await tokenResponse.json()).access_token

const ids = readFileSync(input, "utf8").split(/\r?\n/).slice(1).filter((line) => line.length > 0)
const out = createWriteStream(output, { mode: 0o600 })
const url = `${scheme(idp)}://${idp}/api/account/${account}/consumer?v=1.0`
let next = 0
const worker = async () => {
  while (next < ids.length) {
    const id = ids[next++]
    const response = await fetch(url, { method: "POST", headers: { authorization: appJwt, "content-type": "application/json" }, body: JSON.stringify({ ext_consumer_id: id }) })
    const body = await response.json()
    out.write(JSON.stringify({ consumer_id: id, status: response.status === 201 ? "issued" : "failed", token: body.token }) + "\n")
  }
}
await Promise.all(Array.from({ length: Number(concurrencyText) }, worker))
await new Promise((resolve) => out.end(resolve))
