/** `skiff policy test DIR|FILE...`: runs fixture triples and prints pass/fail per case, with diffs. */
import type { CommandRun } from "./commands.ts";
import { checkPathArguments } from "./path-arguments.ts";
import { findFixtureFiles, runFixtureFile } from "./policy-fixtures.ts";

const usage =
  "Usage: skiff policy test DIR|FILE...\n  Runs the fixture files (test.yaml, *.test.yaml) found under each path.\n";

export const run: CommandRun = async ({ argv, stdout, stderr }) => {
  const early = checkPathArguments({ argv, stdout, stderr }, usage);
  if (early !== undefined) return early;
  let passed = 0;
  let failed = 0;
  let loadFailures = 0;
  for (const path of argv) {
    let files: string[];
    try {
      files = await findFixtureFiles(path);
    } catch (err) {
      stderr.write(`skiff policy test: ${path}: ${(err as Error).message}\n`);
      loadFailures++;
      continue;
    }
    if (files.length === 0) {
      stderr.write(`skiff policy test: no fixture files under ${path}\n`);
      loadFailures++;
    }
    for (const file of files) {
      const report = await runFixtureFile(file);
      for (const e of report.loadErrors) stderr.write(`LOAD ERROR ${e}\n`);
      loadFailures += report.loadErrors.length;
      for (const c of report.cases) {
        if (c.passed) {
          passed++;
          stdout.write(`PASS ${file}: ${c.name}\n`);
        } else {
          failed++;
          stdout.write(`FAIL ${file}: ${c.name}\n`);
          for (const f of c.failures) stdout.write(`${f.replace(/^/gm, "    ")}\n`);
        }
      }
    }
  }
  stdout.write(`${passed} passed, ${failed} failed${loadFailures ? `, ${loadFailures} load errors` : ""}\n`);
  if (loadFailures > 0) return 2;
  return failed > 0 ? 1 : 0;
};
