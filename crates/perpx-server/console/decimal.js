// Exact decimal arithmetic on the API's decimal strings, with BigInt: money and sizes are never
// floats here. A value is { v: BigInt, s: scale } meaning v / 10^s. Charts alone convert to
// Number (toNumber), for drawing.

const TEN = 10n;

function pow10(n) {
  let r = 1n;
  for (let i = 0; i < n; i++) r *= TEN;
  return r;
}

/** Parses "-123.4500" → { v: -1234500n, s: 4 }. Throws on anything else. */
export function parse(text) {
  const t = String(text).trim();
  const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(t);
  if (!m || (m[2] === '' && (m[3] === undefined || m[3] === ''))) throw new Error(`not a decimal: '${text}'`);
  const frac = m[3] || '';
  const v = BigInt((m[2] || '0') + frac);
  return { v: m[1] === '-' ? -v : v, s: frac.length };
}

/** parse, or null for null/undefined/empty/invalid input. */
export function tryParse(text) {
  if (text === null || text === undefined || text === '') return null;
  try {
    return parse(text);
  } catch {
    return null;
  }
}

export function fromInt(n) {
  return { v: BigInt(n), s: 0 };
}

function align(a, b) {
  const s = Math.max(a.s, b.s);
  return [a.v * pow10(s - a.s), b.v * pow10(s - b.s), s];
}

export function add(a, b) {
  const [x, y, s] = align(a, b);
  return { v: x + y, s };
}

export function sub(a, b) {
  const [x, y, s] = align(a, b);
  return { v: x - y, s };
}

export function mul(a, b) {
  return { v: a.v * b.v, s: a.s + b.s };
}

export function neg(a) {
  return { v: -a.v, s: a.s };
}

export function abs(a) {
  return { v: a.v < 0n ? -a.v : a.v, s: a.s };
}

export function cmp(a, b) {
  const [x, y] = align(a, b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function isZero(a) {
  return a.v === 0n;
}

export function sign(a) {
  return a.v < 0n ? -1 : a.v > 0n ? 1 : 0;
}

/** Integer division rounding half away from zero. */
function divRound(n, d) {
  if (d < 0n) {
    n = -n;
    d = -d;
  }
  const q = n / d;
  const r = n % d;
  const twice = (r < 0n ? -r : r) * 2n;
  if (twice >= d) return n < 0n ? q - 1n : q + 1n;
  return q;
}

/** a / b to `scale` decimals (half away from zero); null when b is zero. */
export function div(a, b, scale) {
  if (b.v === 0n) return null;
  // a.v/10^a.s ÷ b.v/10^b.s = a.v·10^b.s / (b.v·10^a.s); times 10^scale.
  const n = a.v * pow10(b.s + scale);
  const d = b.v * pow10(a.s);
  return { v: divRound(n, d), s: scale };
}

/** Rounds (half away from zero) or pads to exactly `scale` decimals. */
export function round(a, scale) {
  if (scale >= a.s) return { v: a.v * pow10(scale - a.s), s: scale };
  return { v: divRound(a.v, pow10(a.s - scale)), s: scale };
}

/** Rounds down (toward −∞) to a multiple of `step` (a decimal). */
export function floorTo(a, step) {
  const [x, y, s] = align(a, step);
  let q = x / y;
  if (x % y !== 0n && x < 0n) q -= 1n;
  return { v: q * y, s };
}

/** Text with exactly `decimals` decimals, optionally with thousands separators. */
export function format(a, decimals, group = false) {
  const r = round(a, decimals);
  const negative = r.v < 0n;
  let digits = (negative ? -r.v : r.v).toString().padStart(decimals + 1, '0');
  let int = decimals ? digits.slice(0, -decimals) : digits;
  const frac = decimals ? digits.slice(-decimals) : '';
  if (group) int = int.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const zero = r.v === 0n;
  return `${negative && !zero ? '-' : ''}${int}${frac ? '.' + frac : ''}`;
}

/** A decimal string reformatted to `decimals` decimals; '—' for a missing value. */
export function fmt(text, decimals, group = false) {
  const d = tryParse(text);
  return d === null ? '—' : format(d, decimals, group);
}

/** For charts only. */
export function toNumber(a) {
  return Number(a.v) / Number(pow10(a.s));
}

/** The number of decimals a step such as "0.001" has. */
export function decimalsOf(step) {
  return parse(step).s;
}
