/**
 * Installs Debian's Chromium for the dashboard's browser test when it is
 * missing (apt-get, as root). `.ci/run` calls it
 * (`node build/test/servers/install-chromium.js --run`) so the install
 * happens before the timed test run; the test makes the same check itself.
 * Without `--run` it does nothing, so the test runner's sweep of the test
 * folder skips it.
 */
import { ensureChromiumInstalled } from "./chromium.js";

if (process.argv.includes("--run")) {
  const result = await ensureChromiumInstalled((line) => console.log(line));
  if ("reason" in result) {
    console.error(result.reason);
    process.exit(result.skip ? 0 : 1);
  }
  console.log(`chromium is installed: ${result.executable}`);
}
