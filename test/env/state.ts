/**
 * The state file through which the test command shares its running servers with every test process
 * (named by SKIFF_TEST_ENV). It holds paths and endpoints; the private key stays in the kubeconfig file.
 */
import { readFile, writeFile } from "node:fs/promises";
import type { ClusterConnection } from "./cluster.ts";
import type { S3Endpoint } from "./s3.ts";

export const stateFileVariable = "SKIFF_TEST_ENV";

export interface EnvState {
  version: 1;
  cluster?: ClusterConnection;
  s3?: S3Endpoint;
}

export async function writeState(path: string, state: EnvState): Promise<void> {
  await writeFile(path, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
}

export async function readState(path: string): Promise<EnvState> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new Error(`${stateFileVariable}=${path}: cannot read the test environment state file`, { cause: err });
  }
  const state = JSON.parse(text) as EnvState;
  if (state.version !== 1) throw new Error(`${path}: unsupported state file version ${String(state.version)}`);
  return state;
}
