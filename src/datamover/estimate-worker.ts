/**
 * Worker thread body of the size estimate: walks the tree given in workerData and posts the total. Running it
 * off the main thread keeps the extra metadata walk from slowing the backup's own walk.
 */
import { parentPort, workerData } from "node:worker_threads";
import { sumFileSizes } from "./estimate.ts";

parentPort?.postMessage(sumFileSizes(String(workerData)));
