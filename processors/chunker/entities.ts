// HTML character references: named (Latin-1 plus the typographic ones writers use) and numeric, decoded like a browser would.

// Names of U+00A0…U+00FF in code point order: the whole Latin-1 table costs one line and covers accented letters.
const LATIN1 =
  'nbsp iexcl cent pound curren yen brvbar sect uml copy ordf laquo not shy reg macr deg plusmn sup2 sup3 acute micro para middot ' +
  'cedil sup1 ordm raquo frac14 frac12 frac34 iquest Agrave Aacute Acirc Atilde Auml Aring AElig Ccedil Egrave Eacute Ecirc Euml ' +
  'Igrave Iacute Icirc Iuml ETH Ntilde Ograve Oacute Ocirc Otilde Ouml times Oslash Ugrave Uacute Ucirc Uuml Yacute THORN szlig ' +
  'agrave aacute acirc atilde auml aring aelig ccedil egrave eacute ecirc euml igrave iacute icirc iuml eth ntilde ograve oacute ' +
  'ocirc otilde ouml divide oslash ugrave uacute ucirc uuml yacute thorn yuml';

const OTHERS: Record<string, number> = {
  amp: 0x26, lt: 0x3c, gt: 0x3e, quot: 0x22, apos: 0x27,
  mdash: 0x2014, ndash: 0x2013, hellip: 0x2026, lsquo: 0x2018, rsquo: 0x2019, sbquo: 0x201a,
  ldquo: 0x201c, rdquo: 0x201d, bdquo: 0x201e, lsaquo: 0x2039, rsaquo: 0x203a, bull: 0x2022,
  prime: 0x2032, Prime: 0x2033, dagger: 0x2020, Dagger: 0x2021, permil: 0x2030, trade: 0x2122, euro: 0x20ac,
  ensp: 0x2002, emsp: 0x2003, thinsp: 0x2009, zwnj: 0x200c, zwj: 0x200d, lrm: 0x200e, rlm: 0x200f,
  larr: 0x2190, uarr: 0x2191, rarr: 0x2192, darr: 0x2193, harr: 0x2194, rArr: 0x21d2, lArr: 0x21d0,
  minus: 0x2212, le: 0x2264, ge: 0x2265, ne: 0x2260, asymp: 0x2248, infin: 0x221e, equiv: 0x2261, sum: 0x2211,
  OElig: 0x152, oelig: 0x153, Scaron: 0x160, scaron: 0x161, Yuml: 0x178, fnof: 0x192, circ: 0x2c6, tilde: 0x2dc,
  alpha: 0x3b1, beta: 0x3b2, gamma: 0x3b3, delta: 0x3b4, epsilon: 0x3b5, theta: 0x3b8, lambda: 0x3bb, mu: 0x3bc,
  pi: 0x3c0, sigma: 0x3c3, tau: 0x3c4, phi: 0x3c6, omega: 0x3c9, Delta: 0x394, Sigma: 0x3a3, Omega: 0x3a9,
  hearts: 0x2665, check: 0x2713, star: 0x2606, starf: 0x2605,
};

const NAMED: ReadonlyMap<string, string> = new Map([
  ...LATIN1.split(' ').map((name, i): [string, string] => [name, String.fromCodePoint(0xa0 + i)]),
  ...Object.entries(OTHERS).map(([name, cp]): [string, string] => [name, String.fromCodePoint(cp)]),
]);

// Legacy references browsers still accept without the semicolon ("&copy 2024", "a &amp b").
const WITHOUT_SEMICOLON = new Set(['amp', 'lt', 'gt', 'quot', 'nbsp', 'copy', 'reg']);

// Browsers read &#128;–&#159; as Windows-1252, which is what the author meant ("&#151;" is an em dash).
const WINDOWS_1252: Record<number, number> = {
  0x80: 0x20ac, 0x82: 0x201a, 0x83: 0x192, 0x84: 0x201e, 0x85: 0x2026, 0x86: 0x2020, 0x87: 0x2021, 0x88: 0x2c6,
  0x89: 0x2030, 0x8a: 0x160, 0x8b: 0x2039, 0x8c: 0x152, 0x8e: 0x17d, 0x91: 0x2018, 0x92: 0x2019, 0x93: 0x201c,
  0x94: 0x201d, 0x95: 0x2022, 0x96: 0x2013, 0x97: 0x2014, 0x98: 0x2dc, 0x99: 0x2122, 0x9a: 0x161, 0x9b: 0x203a,
  0x9c: 0x153, 0x9e: 0x17e, 0x9f: 0x178,
};

const REFERENCE = /&(?:#(\d{1,8})|#[xX]([0-9a-fA-F]{1,7})|([A-Za-z][A-Za-z0-9]{1,31}))(;?)/g;

function fromCodePoint(cp: number): string {
  const mapped = WINDOWS_1252[cp] ?? cp;
  if (mapped === 0 || mapped > 0x10ffff || (mapped >= 0xd800 && mapped <= 0xdfff)) return '\uFFFD';
  // Control characters carry no text; tab and newline are whitespace and stay.
  if ((mapped < 0x20 && mapped !== 0x09 && mapped !== 0x0a) || (mapped >= 0x7f && mapped < 0xa0)) return '';
  return String.fromCodePoint(mapped);
}

/** Decodes character references; unknown names and malformed references stay as written. */
export function decodeEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(REFERENCE, (whole, dec: string | undefined, hex: string | undefined, name: string | undefined, semi: string) => {
    if (dec !== undefined) return fromCodePoint(Number.parseInt(dec, 10));
    if (hex !== undefined) return fromCodePoint(Number.parseInt(hex, 16));
    if (name === undefined) return whole;
    if (semi === ';') return NAMED.get(name) ?? whole;
    return WITHOUT_SEMICOLON.has(name) ? (NAMED.get(name) ?? whole) : whole;
  });
}
