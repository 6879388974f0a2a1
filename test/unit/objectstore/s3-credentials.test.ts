import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  loadCredentialsFile,
  parseCredentialsFile,
  selectCredentials,
} from "../../../src/objectstore/aws-credentials.ts";

const file = "/credentials/cloud";

function parse(text: string) {
  const parsed = parseCredentialsFile(text, file);
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.error);
  return parsed.value;
}

test("reads the Velero credentials file format with several profiles", () => {
  const profiles = parse(
    [
      "# written by velero install",
      "[default]",
      "aws_access_key_id = AKIAEXAMPLE",
      "aws_secret_access_key=s3cr3t/with+slash=",
      "",
      "; a second profile",
      "[profile backup]",
      "AWS_ACCESS_KEY_ID = AKIABACKUP  # inline comment",
      "aws_secret_access_key = other",
      "aws_session_token = tok#en",
    ].join("\r\n"),
  );
  assert.deepEqual(selectCredentials(profiles, "default", file), {
    ok: true,
    value: { accessKeyId: "AKIAEXAMPLE", secretAccessKey: "s3cr3t/with+slash=" },
  });
  assert.deepEqual(selectCredentials(profiles, "backup", file), {
    ok: true,
    value: { accessKeyId: "AKIABACKUP", secretAccessKey: "other", sessionToken: "tok#en" },
  });
});

test("skips nested sub-settings and tolerates a byte-order mark", () => {
  const profiles = parse(
    "\uFEFF[default]\ns3 =\n  addressing_style = path\naws_access_key_id = A\naws_secret_access_key = B\n",
  );
  assert.deepEqual(selectCredentials(profiles, "default", file), {
    ok: true,
    value: { accessKeyId: "A", secretAccessKey: "B" },
  });
});

const bad: Array<[string, string, RegExp]> = [
  [
    "key before any profile",
    "aws_access_key_id = A\n",
    /^\/credentials\/cloud:1: 'aws_access_key_id' appears before any \[profile\] header$/,
  ],
  ["unclosed header", "[default\naws_access_key_id = A\n", /^\/credentials\/cloud:1: malformed profile header/],
  ["line without =", "[default]\n\naws_access_key_id A\n", /^\/credentials\/cloud:3: expected 'key = value'/],
];
for (const [name, text, expected] of bad) {
  test(`rejects a file with ${name}, naming file and line`, () => {
    const parsed = parseCredentialsFile(text, file);
    assert.equal(parsed.ok, false);
    if (!parsed.ok) assert.match(parsed.error, expected);
  });
}

test("a malformed line is reported without echoing its content (it may hold a secret)", () => {
  const parsed = parseCredentialsFile("[default]\nTOPSECRETVALUE\n", file);
  assert.equal(parsed.ok, false);
  if (!parsed.ok) assert.ok(!parsed.error.includes("TOPSECRETVALUE"), parsed.error);
});

test("a missing profile lists the profiles the file has", () => {
  const profiles = parse("[default]\naws_access_key_id = A\naws_secret_access_key = B\n[dr]\n");
  assert.deepEqual(selectCredentials(profiles, "backup", file), {
    ok: false,
    error: "/credentials/cloud: profile 'backup' not found; profiles found: default, dr",
  });
  assert.deepEqual(selectCredentials(parse(""), "default", file), {
    ok: false,
    error: "/credentials/cloud: profile 'default' not found; the file has no profiles",
  });
});

test("a profile without keys says which are missing", () => {
  const profiles = parse("[default]\naws_access_key_id = A\n[empty]\n");
  assert.deepEqual(selectCredentials(profiles, "default", file), {
    ok: false,
    error: "/credentials/cloud: profile 'default' has no aws_secret_access_key",
  });
  assert.deepEqual(selectCredentials(profiles, "empty", file), {
    ok: false,
    error: "/credentials/cloud: profile 'empty' has no aws_access_key_id and no aws_secret_access_key",
  });
});

test("loadCredentialsFile names an unreadable file and never prints the secret of a bad one", async () => {
  const dir = await mkdtemp(join(tmpdir(), "skiff-creds-"));
  try {
    await assert.rejects(
      loadCredentialsFile(join(dir, "missing"), "default"),
      /cannot read the credentials file .*missing/,
    );
    const path = join(dir, "cloud");
    await writeFile(path, "[default]\naws_access_key_id = A\naws_secret_access_key = SUPERSECRET\n");
    assert.deepEqual(await loadCredentialsFile(path, "default"), { accessKeyId: "A", secretAccessKey: "SUPERSECRET" });
    await assert.rejects(loadCredentialsFile(path, "other"), (err: Error) => {
      assert.match(err.message, /profile 'other' not found/);
      assert.ok(!err.message.includes("SUPERSECRET"));
      return true;
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
