// What the Node.js SDK scripts share: reading required environment variables, running named
// checks that print "ok" or "FAIL" lines, and the closing "N passed, N failed" line with the
// exit status (1 when any check failed).
"use strict";

const results = [];

function env(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`environment variable ${name} must be set`);
  }
  return value;
}

async function check(name, fn) {
  try {
    const detail = await fn();
    results.push(true);
    console.log(`ok   ${name}${detail ? ` (${detail})` : ""}`);
  } catch (error) {
    results.push(false);
    console.log(`FAIL ${name}: ${error && error.stack ? error.stack : error}`);
  }
}

function assert(condition, message) {
  if (!condition) {
    throw new Error(message);
  }
}

/// Prints the summary and exits: 0 when every check passed.
function finish() {
  const passed = results.filter(Boolean).length;
  const failed = results.length - passed;
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

/// Runs `main`; an error outside any check is one failure.
function run(main) {
  main()
    .then(finish)
    .catch((error) => {
      console.log(`FAIL ${error && error.stack ? error.stack : error}`);
      console.log("0 passed, 1 failed");
      process.exit(1);
    });
}

module.exports = { env, check, assert, run };
