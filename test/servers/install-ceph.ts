/**
 * Installs Ceph radosgw for the S3 tests when it is missing (apt-get, as root).
 * `.ci/run` calls it (`node build/test/servers/install-ceph.js --run`) so the
 * install happens before the timed test run; the tests make the same check
 * and skip, saying why, only where it cannot work. Without `--run` it does
 * nothing, so the test runner's sweep of the test folder skips it.
 */
import { ensureCephInstalled } from "./radosgw.js";

if (process.argv.includes("--run")) {
  const reason = await ensureCephInstalled((line) => console.log(line));
  if (reason !== undefined) {
    console.error(reason);
    process.exit(1);
  }
  console.log("ceph radosgw is installed");
}
