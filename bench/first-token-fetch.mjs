// Baseline B for one ID: what a user writes for a single token with `fetch`. Prints the same JSON
// line as `consumer-jws issue <id>`. No project code.
//
//   LP_CSDS_URL=.. LP_ACCOUNT_ID=.. LP_CLIENT_ID=.. LP_CLIENT_SECRET=.. node first-token-fetch.mjs <consumer-id>
const [consumerId] = process.argv.slice(2)
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
const response = await fetch(`${scheme(idp)}://${idp}/api/account/${account}/consumer?v=1.0`, {
  method: "POST",
  headers: { authorization: appJwt, "content-type": "application/json" },
  body: JSON.stringify({ ext_consumer_id: consumerId })
})
const { token } = await response.json()
const claims = JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString("utf8"))
process.stdout.write(JSON.stringify({ consumer_id: consumerId, lp_consumer_id: claims.lp_consumer_id, token }) + "\n")
