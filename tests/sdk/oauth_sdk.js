// Drives countersign's DocuSign OAuth 2.0 JWT Grant (SPEC §12) with the official Node.js SDK,
// docusign-esign, which builds its OAuth URLs as "https://" + the OAuth base path, reads the
// token answer into OAuthToken and the user info into UserInfo.
//
// Run with the directory tests/sdk/node-setup.sh prints on NODE_PATH and the server's
// certificate trusted through NODE_EXTRA_CA_CERTS:
//
//   NODE_PATH=$(tests/sdk/node-setup.sh | tail -n1)/node_modules NODE_EXTRA_CA_CERTS=ca.pem \
//   COUNTERSIGN_URL=https://127.0.0.1:41234 DS_INTEGRATOR_KEY=... DS_PRIVATE_KEY_FILE=... \
//   DS_USER_ID=... DS_EMAIL=... DS_ACCOUNT_GUID=... node tests/sdk/oauth_sdk.js
//
// Prints one line per check and, last, "N passed, N failed"; exits 1 if any check failed.
"use strict";

const fs = require("fs");
const https = require("https");
const docusign = require("docusign-esign");
const { env, check, assert, run } = require("./checks");

const URL = env("COUNTERSIGN_URL").replace(/\/+$/, "");
const HOST = new globalThis.URL(URL).host;
const KEY = env("DS_INTEGRATOR_KEY");
const PRIVATE_KEY = fs.readFileSync(env("DS_PRIVATE_KEY_FILE"));
const USER_ID = env("DS_USER_ID");
const EMAIL = env("DS_EMAIL");
const ACCOUNT_GUID = env("DS_ACCOUNT_GUID");

/// GET a path of the server with a bearer token (Node's https, trusting NODE_EXTRA_CA_CERTS).
function get(path, token) {
  return new Promise((resolve, reject) => {
    https
      .get(`${URL}${path}`, { headers: { Authorization: `Bearer ${token}` } }, (response) => {
        let body = "";
        response.on("data", (chunk) => {
          body += chunk;
        });
        response.on("end", () => resolve({ status: response.statusCode, body }));
      })
      .on("error", reject);
  });
}

async function main() {
  const client = new docusign.ApiClient();
  client.setOAuthBasePath(HOST);
  let accessToken;

  await check("requestJWTUserToken returns exactly access_token, token_type and expires_in", async () => {
    const response = await client.requestJWTUserToken(KEY, USER_ID, ["signature", "impersonation"], PRIVATE_KEY, 3600);
    const body = response.body;
    assert(Object.keys(body).sort().join(",") === "access_token,expires_in,token_type", JSON.stringify(body));
    assert(body.token_type === "Bearer", body.token_type);
    assert(body.expires_in === 3600, body.expires_in);
    const token = docusign.ApiClient.OAuth.OAuthToken.constructFromObject(body);
    assert(token.accessToken === body.access_token, "OAuthToken reads the token");
    accessToken = body.access_token;
    return `${accessToken.slice(0, 8)}…`;
  });

  await check("getUserInfo describes the user and the account", async () => {
    const info = await client.getUserInfo(accessToken);
    assert(info.sub === USER_ID, info.sub);
    assert(info.email === EMAIL, info.email);
    assert(info.accounts.length === 1, JSON.stringify(info.accounts));
    const account = info.accounts[0];
    assert(account.accountId === ACCOUNT_GUID, account.accountId);
    assert(account.isDefault === "true" || account.isDefault === true, account.isDefault);
    assert(account.baseUri === URL, account.baseUri);
    return account.accountName;
  });

  await check("the token is accepted as oauth_jwt", async () => {
    const answer = await get("/v1/whoami", accessToken);
    assert(answer.status === 200, answer.status);
    const principal = JSON.parse(answer.body);
    assert(principal.auth_method === "oauth_jwt", answer.body);
    assert(principal.actor === KEY, answer.body);
  });

  await check("requestJWTApplicationToken gives an oauth_application token", async () => {
    const response = await client.requestJWTApplicationToken(KEY, ["signature"], PRIVATE_KEY, 3600);
    const answer = await get("/v1/whoami", response.body.access_token);
    assert(JSON.parse(answer.body).auth_method === "oauth_application", answer.body);
  });

  await check("a user without consent gets consent_required", async () => {
    try {
      await client.requestJWTUserToken(KEY, env("DS_UNCONSENTED_USER_ID"), ["signature", "impersonation"], PRIVATE_KEY, 3600);
    } catch (error) {
      assert(error.response && error.response.status === 400, error.message);
      assert(error.response.data.error === "consent_required", JSON.stringify(error.response.data));
      return "400 consent_required";
    }
    throw new Error("the token was issued");
  });
}

run(main);
