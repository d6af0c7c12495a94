// Loading an optional cloud SDK: a package that is not installed is named with the command that
// installs it; a package that is installed but cannot load because a package it needs is
// missing (a broken or partial install) is not called "not installed", and the message names
// the missing one. Real module-resolution failures, from import() and from require().
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { StorageError } from "../../src/errors.js";
import { loadOptionalSdk } from "../../src/store/cloud/load-sdk.js";

describe("loadOptionalSdk", () => {
  let dir: string;
  let requireHere: NodeJS.Require;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "taquba-load-sdk-"));
    // "sdk-pkg" is installed, but "sdk-dep", which it needs, is not.
    const pkg = join(dir, "node_modules", "sdk-pkg");
    await mkdir(pkg, { recursive: true });
    await writeFile(
      join(pkg, "package.json"),
      JSON.stringify({ name: "sdk-pkg", main: "index.js" }),
    );
    await writeFile(join(pkg, "index.js"), 'require("sdk-dep");\n');
    await writeFile(join(pkg, "index.mjs"), 'import "sdk-dep";\n');
    await writeFile(join(dir, "app.js"), "");
    requireHere = createRequire(join(dir, "app.js"));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const loaders: Record<string, (name: string) => () => Promise<unknown>> = {
    "import()": (name) => () =>
      name === "sdk-pkg"
        ? import(pathToFileURL(join(dir, "node_modules", "sdk-pkg", "index.mjs")).href)
        : import(name),
    "require()": (name) => async () => requireHere(name),
  };

  for (const [how, loader] of Object.entries(loaders)) {
    it(`${how}: a package that is not installed is named, with the command that installs it`, async () => {
      await assert.rejects(
        loadOptionalSdk("no-such-sdk-pkg", loader("no-such-sdk-pkg"), "S3Store"),
        (err) => {
          assert.ok(err instanceof StorageError, String(err));
          assert.equal(err.permanent, true);
          assert.equal(
            err.message,
            'S3Store needs the optional package "no-such-sdk-pkg", which is not installed: run `npm install no-such-sdk-pkg`',
          );
          return true;
        },
      );
    });

    it(`${how}: an installed package missing a package it needs is not called "not installed"`, async () => {
      await assert.rejects(loadOptionalSdk("sdk-pkg", loader("sdk-pkg"), "S3Store"), (err) => {
        assert.ok(err instanceof StorageError, String(err));
        assert.equal(err.permanent, true);
        assert.doesNotMatch(err.message, /which is not installed/);
        assert.match(
          err.message,
          /^S3Store could not load the package "sdk-pkg": "sdk-dep", which it needs, cannot be found \(a broken or partial install\): reinstall it \(`npm install sdk-pkg`\)$/,
        );
        return true;
      });
    });
  }
});
