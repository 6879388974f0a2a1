/**
 * Regular expressions in policies run on attacker-controlled input (the admitted object), and a JavaScript regex
 * cannot be interrupted by the cost budget. Kubernetes uses RE2 (linear time); here patterns are vetted instead:
 * RE2's syntax subset (no backreferences, no lookaround) and no nested quantifiers, the shape behind
 * catastrophic backtracking such as (a+)+.
 */
export function vetRegex(pattern: string): string | undefined {
  try {
    new RegExp(pattern);
  } catch (err) {
    return `invalid regular expression ${JSON.stringify(pattern)}: ${(err as Error).message}`;
  }
  if (/\\[1-9]|\\k<|\(\?<?[=!]/.test(pattern)) {
    return `regular expression ${JSON.stringify(pattern)} uses backreferences or lookaround, which RE2 does not support`;
  }
  if (hasNestedQuantifier(pattern)) {
    return `regular expression ${JSON.stringify(pattern)} repeats a group that itself repeats (e.g. (a+)+): it can take exponential time`;
  }
  return undefined;
}

interface GroupInfo {
  /** Some atom inside repeats (*, +, {n,m}). */
  repeats: boolean;
  /** Some atom inside must match exactly once per pass (an unquantified literal or class). */
  anchored: boolean;
}

/**
 * True when a repeated group holds a repeated atom and nothing that must match once per pass, such as (a+)+,
 * (\w+\s?)+ or ((a|b)*)*: these match one string in exponentially many ways. Groups like (-[a-z0-9]+)* are
 * accepted: the literal "-" pins each pass.
 */
function hasNestedQuantifier(pattern: string): boolean {
  let i = 0;
  let dangerous = false;
  const quantifierAt = (at: number): string | undefined => {
    const ch = pattern[at];
    if (ch === "*" || ch === "+" || ch === "?") return ch;
    if (ch === "{" && /^\{\d*(,\d*)?\}/.test(pattern.slice(at))) return pattern.slice(at, pattern.indexOf("}", at) + 1);
    return undefined;
  };
  const skipQuantifier = (q: string | undefined) => {
    if (!q) return;
    i += q.length;
    if (pattern[i] === "?") i++; // lazy
  };
  const repeatsMany = (q: string | undefined) => q !== undefined && q !== "?" && !/^\{(\d+)(,\1)?\}$/.test(q);
  const parseGroup = (): GroupInfo => {
    const info: GroupInfo = { repeats: false, anchored: false };
    while (i < pattern.length && pattern[i] !== ")") {
      const ch = pattern[i];
      if (ch === "|") {
        i++;
        continue;
      }
      let inner: GroupInfo | undefined;
      if (ch === "(") {
        i++;
        if (pattern[i] === "?")
          i +=
            pattern[i + 1] === "<" && pattern[i + 2] !== "=" && pattern[i + 2] !== "!"
              ? pattern.indexOf(">", i) - i + 1
              : 2;
        inner = parseGroup();
        i++; // ")"
      } else if (ch === "[") {
        i++;
        while (i < pattern.length && pattern[i] !== "]") i += pattern[i] === "\\" ? 2 : 1;
        i++;
      } else if (ch === "\\") {
        i += 2;
      } else {
        i++;
      }
      const q = quantifierAt(i);
      skipQuantifier(q);
      if (inner && repeatsMany(q) && inner.repeats && !inner.anchored) dangerous = true;
      if (repeatsMany(q) || inner?.repeats) info.repeats = true;
      const once = q === undefined || /^\{(\d+)(,\1)?\}$/.test(q);
      if (once && (inner ? inner.anchored : ch !== "^" && ch !== "$")) info.anchored = true;
    }
    return info;
  };
  while (i < pattern.length) {
    parseGroup();
    i++; // an unbalanced ")" (RegExp already rejected those)
  }
  return dangerous;
}
