// Floor C: `node:http` with a keep-alive agent and the same fixed pool, no Effect, no retries,
// JSON Lines out. No project code.
//
//   LP_CSDS_URL=.. LP_ACCOUNT_ID=.. LP_CLIENT_ID=.. LP_CLIENT_SECRET=.. node baseline-http.mjs <ids.csv> <out.jsonl> <concurrency>
import { createWriteStream, readFileSync } from "node:fs"
import * as http from "node:http"

const [input, output, concurrencyText = "32"] = process.argv.slice(2)
const concurrency = Number(concurrencyText)
const { LP_CSDS_URL: csds, LP_ACCOUNT_ID: account, LP_CLIENT_ID: clientId, LP_CLIENT_SECRET: clientSecret } = process.env
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency })

const request = (url, { method = "GET", headers = {}, body } = {}) =>
  new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent }, (response) => {
      const chunks = []
      response.on("data", (chunk) => chunks.push(chunk))
      response.on("end", () => resolve({ status: response.statusCode, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) }))
      response.on("error", reject)
    })
    req.on("error", reject)
    req.end(body)
  })

const domain = async (service) =>
  (await request(`${csds}/api/account/${account}/service/${service}/baseURI.json?version=1.0`)).body.baseURI
const [idp, sentinel] = await Promise.all([domain("idp"), domain("sentinel")])
const form = new URLSearchParams({ client_id: clientId, client_secret: clientSecret }).toString()
const appJwt = (await request(`http://${sentinel}/sentinel/api/account/${account}/app/token?v=1.0&grant_type=client_credentials`, {
  method: "POST",
  headers: { "content-type": "application/x-www-form-urlencoded", "content-length": Buffer.byteLength(form) },
  body: form
})).body.access_token

const ids = readFileSync(input, "utf8").split(/\r?\n/).slice(1).filter((line) => line.length > 0)
const out = createWriteStream(output, { mode: 0o600 })
const url = `http://${idp}/api/account/${account}/consumer?v=1.0`
let next = 0
const worker = async () => {
  while (next < ids.length) {
    const id = ids[next++]
    const body = JSON.stringify({ ext_consumer_id: id })
    const response = await request(url, {
      method: "POST",
      headers: { authorization: appJwt, "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      body
    })
    out.write(JSON.stringify({ consumer_id: id, status: response.status === 201 ? "issued" : "failed", token: response.body.token }) + "\n")
  }
}
await Promise.all(Array.from({ length: concurrency }, worker))
await new Promise((resolve) => out.end(resolve))
