/** `npm run env:up`: the same local environment as `npm start` (kept so both names work). */
import "../../scripts/start.ts";
