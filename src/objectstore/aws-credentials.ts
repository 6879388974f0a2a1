/**
 * The AWS shared credentials file, as Velero mounts it from the BackupStorageLocation's credential Secret:
 *
 *   [default]
 *   aws_access_key_id = AKIA...
 *   aws_secret_access_key = ...
 *   aws_session_token = ...      (optional)
 *
 * Parsing is pure and returns a value; errors name the file and line. Secret values never appear in any
 * message this module produces, so a bad file can be reported verbatim.
 */
import { readFile } from "node:fs/promises";

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export type CredentialsProfiles = Map<string, Map<string, string>>;

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

const sectionLine = /^\[\s*(?:profile\s+)?([^\]\s]+)\s*\]$/;
const keyLine = /^([A-Za-z0-9_.-]+)\s*=\s*(.*)$/;

/** Splits an INI-style credentials file into profiles of key/value pairs. Keys are lower-cased. */
export function parseCredentialsFile(text: string, fileName: string): ParseResult<CredentialsProfiles> {
  const profiles: CredentialsProfiles = new Map();
  let current: Map<string, string> | undefined;
  let nestedUnder: string | undefined;
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  for (const [index, raw] of lines.entries()) {
    const where = `${fileName}:${index + 1}`;
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    // An indented line continues a key whose value was left empty ("s3 =" followed by sub-settings);
    // such nested settings never carry credentials, so they are skipped.
    if (/^\s/.test(raw) && nestedUnder !== undefined) continue;
    nestedUnder = undefined;
    if (line.startsWith("[")) {
      const match = sectionLine.exec(line);
      if (!match) return { ok: false, error: `${where}: malformed profile header (expected [name])` };
      const name = match[1]!;
      current = profiles.get(name) ?? new Map();
      profiles.set(name, current);
      continue;
    }
    const match = keyLine.exec(line);
    if (!match) return { ok: false, error: `${where}: expected 'key = value' or '[profile]'` };
    const key = match[1]!.toLowerCase();
    if (!current) return { ok: false, error: `${where}: '${key}' appears before any [profile] header` };
    const value = stripInlineComment(match[2]!);
    if (value === "") nestedUnder = key;
    current.set(key, value);
  }
  return { ok: true, value: profiles };
}

/** Values may end with " # comment" or " ; comment"; the marker needs a space before it, as in the AWS CLI. */
function stripInlineComment(value: string): string {
  const at = value.search(/\s[#;]/);
  return (at === -1 ? value : value.slice(0, at)).trim();
}

/** Picks one profile's static credentials out of the parsed file. */
export function selectCredentials(
  profiles: CredentialsProfiles,
  profile: string,
  fileName: string,
): ParseResult<AwsCredentials> {
  const section = profiles.get(profile);
  if (!section) {
    const known = [...profiles.keys()];
    const hint = known.length ? `; profiles found: ${known.join(", ")}` : "; the file has no profiles";
    return { ok: false, error: `${fileName}: profile '${profile}' not found${hint}` };
  }
  const accessKeyId = section.get("aws_access_key_id") ?? "";
  const secretAccessKey = section.get("aws_secret_access_key") ?? "";
  const missing = [
    accessKeyId ? undefined : "aws_access_key_id",
    secretAccessKey ? undefined : "aws_secret_access_key",
  ].filter((name) => name !== undefined);
  if (missing.length) {
    return { ok: false, error: `${fileName}: profile '${profile}' has no ${missing.join(" and no ")}` };
  }
  const sessionToken = section.get("aws_session_token");
  return {
    ok: true,
    value: sessionToken ? { accessKeyId, secretAccessKey, sessionToken } : { accessKeyId, secretAccessKey },
  };
}

/** Reads and parses a credentials file; throws with the file's name on I/O or format errors. */
export async function loadCredentialsFile(path: string, profile: string): Promise<AwsCredentials> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new Error(`cannot read the credentials file ${path}: ${(err as Error).message}`, { cause: err });
  }
  const parsed = parseCredentialsFile(text, path);
  if (!parsed.ok) throw new Error(`invalid credentials file: ${parsed.error}`);
  const selected = selectCredentials(parsed.value, profile, path);
  if (!selected.ok) throw new Error(`invalid credentials file: ${selected.error}`);
  return selected.value;
}
