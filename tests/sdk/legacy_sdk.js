// Drives countersign's DocuSign legacy-header dialect (SPEC §5) with the official Node.js SDK,
// docusign-esign, whose HTTP stack (axios over Node's http module) writes header values as
// ISO-8859-1: a password with `ä` or `é` reaches the server as single bytes, not UTF-8.
//
// Run with the directory tests/sdk/node-setup.sh prints on NODE_PATH:
//
//   NODE_PATH=$(tests/sdk/node-setup.sh | tail -n1)/node_modules \
//   COUNTERSIGN_URL=http://127.0.0.1:41234 DS_USERNAME=... DS_PASSWORD=... DS_INTEGRATOR_KEY=... \
//   DS_EXPECTED_ACCOUNT_NUMBER=... DS_EXPECTED_ACCOUNT_GUID=... DS_EXPECTED_USER_ID=... \
//   DS_SOBO_EMAIL=... DS_SOBO_USER_ID=... node tests/sdk/legacy_sdk.js
//
// Prints one line per check and, last, "N passed, N failed"; exits 1 if any check failed.
"use strict";

const net = require("net");
const docusign = require("docusign-esign");
const { env, check, assert, run } = require("./checks");

const URL = env("COUNTERSIGN_URL").replace(/\/+$/, "");
const USERNAME = env("DS_USERNAME");
const PASSWORD = env("DS_PASSWORD");
const INTEGRATOR_KEY = env("DS_INTEGRATOR_KEY");
const ACCOUNT_NUMBER = env("DS_EXPECTED_ACCOUNT_NUMBER");
const ACCOUNT_GUID = env("DS_EXPECTED_ACCOUNT_GUID");
const USER_ID = env("DS_EXPECTED_USER_ID");
const SOBO_EMAIL = env("DS_SOBO_EMAIL");
const SOBO_USER_ID = env("DS_SOBO_USER_ID");

function jsonHeader(username, password, sendOnBehalfOf) {
  const header = { Username: username, Password: password, IntegratorKey: INTEGRATOR_KEY };
  if (sendOnBehalfOf) {
    header.SendOnBehalfOf = sendOnBehalfOf;
  }
  return JSON.stringify(header);
}

function xmlEscape(text) {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

function xmlHeader(username, password, sendOnBehalfOf) {
  return (
    "<DocuSignCredentials>" +
    `<Username>${xmlEscape(username)}</Username>` +
    `<Password>${xmlEscape(password)}</Password>` +
    `<IntegratorKey>${xmlEscape(INTEGRATOR_KEY)}</IntegratorKey>` +
    (sendOnBehalfOf ? `<SendOnBehalfOf>${xmlEscape(sendOnBehalfOf)}</SendOnBehalfOf>` : "") +
    "</DocuSignCredentials>"
  );
}

/** The SDK's authentication API on a client that sends `header` as X-DocuSign-Authentication. */
function authenticationApi(header, basePath = `${URL}/restapi`) {
  const client = new docusign.ApiClient();
  client.setBasePath(basePath);
  client.addDefaultHeader("X-DocuSign-Authentication", header);
  return new docusign.AuthenticationApi(client);
}

function checkAccounts(info, userId) {
  const accounts = info.loginAccounts || [];
  assert(accounts.length > 0, `loginAccounts is empty: ${JSON.stringify(info)}`);
  const first = accounts[0];
  assert(first.accountId === ACCOUNT_NUMBER, `accountId ${first.accountId}, want ${ACCOUNT_NUMBER}`);
  assert(first.isDefault === "true", `isDefault ${first.isDefault}, want "true"`);
  assert(
    (first.userId || "").toLowerCase() === userId.toLowerCase(),
    `userId ${first.userId}, want ${userId}`,
  );
  assert(
    (first.baseUrl || "").endsWith(`/restapi/v2.1/accounts/${ACCOUNT_NUMBER}`),
    `baseUrl ${first.baseUrl}`,
  );
  return first;
}

/** The raw bytes of the first request the SDK sends, captured by a socket on loopback. */
function capturedRequest(header) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    const server = net.createServer((socket) => {
      socket.on("data", (chunk) => {
        chunks.push(chunk);
        if (Buffer.concat(chunks).includes("\r\n\r\n")) {
          socket.end("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
          server.close();
          resolve(Buffer.concat(chunks));
        }
      });
    });
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      authenticationApi(header, `http://127.0.0.1:${port}/restapi`)
        .login()
        .catch(() => {});
    });
  });
}

async function expectRefusal(promise, status, errorCode) {
  try {
    await promise;
  } catch (error) {
    const response = error.response;
    assert(response, `no HTTP response: ${error}`);
    assert(response.status === status, `status ${response.status}, want ${status}`);
    assert(
      response.data && response.data.errorCode === errorCode,
      `body ${JSON.stringify(response.data)}, want errorCode ${errorCode}`,
    );
    return `${response.status} ${errorCode}`;
  }
  throw new Error("the request succeeded");
}

async function main() {
  await check("the SDK sends the non-ASCII password as ISO-8859-1 bytes", async () => {
    const raw = await capturedRequest(jsonHeader(USERNAME, PASSWORD));
    assert(!/^[\x00-\x7f]*$/.test(PASSWORD), "the password must hold a non-ASCII character");
    assert(raw.includes(Buffer.from(PASSWORD, "latin1")), "the password's Latin-1 bytes were not sent");
    assert(!raw.includes(Buffer.from(PASSWORD, "utf8")), "the password went out as UTF-8");
    return `${Buffer.from(PASSWORD, "latin1").toString("hex")}`;
  });

  await check("login() with a JSON header and a non-ASCII password", async () => {
    const info = await authenticationApi(jsonHeader(USERNAME, PASSWORD)).login({
      includeAccountIdGuid: "true",
    });
    const first = checkAccounts(info, USER_ID);
    assert(
      (first.accountIdGuid || "").toLowerCase() === ACCOUNT_GUID.toLowerCase(),
      `accountIdGuid ${first.accountIdGuid}, want ${ACCOUNT_GUID}`,
    );
    return `account ${first.accountId}`;
  });

  await check("login() with an XML header and a non-ASCII password", async () => {
    const info = await authenticationApi(xmlHeader(USERNAME, PASSWORD)).login();
    return `account ${checkAccounts(info, USER_ID).accountId}`;
  });

  await check("login() sending on behalf of another user (JSON)", async () => {
    const info = await authenticationApi(jsonHeader(USERNAME, PASSWORD, SOBO_EMAIL)).login();
    const first = checkAccounts(info, SOBO_USER_ID);
    assert(
      (first.email || "").toLowerCase() === SOBO_EMAIL.toLowerCase(),
      `email ${first.email}, want ${SOBO_EMAIL}`,
    );
    return `acting as ${first.email}`;
  });

  await check("login() sending on behalf of another user (XML)", async () => {
    const info = await authenticationApi(xmlHeader(USERNAME, PASSWORD, SOBO_USER_ID)).login();
    return `acting as ${checkAccounts(info, SOBO_USER_ID).email}`;
  });

  await check("api_password=true with SendOnBehalfOf is refused", () =>
    expectRefusal(
      authenticationApi(jsonHeader(USERNAME, PASSWORD, SOBO_EMAIL)).login({ apiPassword: "true" }),
      401,
      "USER_LACKS_PERMISSIONS",
    ),
  );

  await check("a wrong non-ASCII password is a wrong password", () =>
    expectRefusal(
      authenticationApi(jsonHeader(USERNAME, `${PASSWORD}ü`)).login(),
      401,
      "USER_AUTHENTICATION_FAILED",
    ),
  );

  console.log(`docusign-esign ${require("docusign-esign/package.json").version}`);
}

run(main);
