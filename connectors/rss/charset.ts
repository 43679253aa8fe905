// Feed bytes to text: the charset from Content-Type or the XML prolog, with WHATWG's windows-1252 for latin1 labels.

/** WHATWG: every one of these labels decodes as windows-1252 (browsers read "ISO-8859-1" pages that way too). */
const WINDOWS_1252_LABELS = new Set([
  'ansi_x3.4-1968',
  'ascii',
  'cp1252',
  'cp819',
  'csisolatin1',
  'ibm819',
  'iso-8859-1',
  'iso-ir-100',
  'iso8859-1',
  'iso88591',
  'iso_8859-1',
  'iso_8859-1:1987',
  'l1',
  'latin1',
  'us-ascii',
  'windows-1252',
  'x-cp1252',
]);

/**
 * windows-1252 bytes 0x80–0x9F (WHATWG index). 0x81, 0x8D, 0x8F, 0x90 and 0x9D map to themselves. Node built without
 * full ICU maps the whole range to C1 controls, losing €, smart quotes and dashes, hence this table.
 */
const HIGH_CONTROLS = [
  0x20ac, 0x0081, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008d, 0x017d, 0x008f,
  0x0090, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x009d, 0x017e, 0x0178,
] as const;

/** Decodes windows-1252 bytes: one UTF-16 code unit per byte, the table above for 0x80–0x9F. */
export function decodeWindows1252(bytes: Uint8Array): string {
  const units = new Uint16Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number;
    units[i] = b >= 0x80 && b < 0xa0 ? (HIGH_CONTROLS[b - 0x80] as number) : b;
  }
  let out = '';
  for (let i = 0; i < units.length; i += 8192) out += String.fromCharCode(...units.subarray(i, i + 8192));
  return out;
}

/** The charset the server declared in Content-Type, else the XML prolog's encoding, else utf-8. */
export function declaredCharset(contentType: string | null, head: Uint8Array): string {
  const declared = /charset\s*=\s*["']?([\w.:-]+)/i.exec(contentType ?? '')?.[1];
  if (declared) return declared;
  const prolog = decodeWindows1252(head.subarray(0, 200));
  return /<\?xml[^>]*encoding\s*=\s*["']([\w.:-]+)["']/i.exec(prolog)?.[1] ?? 'utf-8';
}

/** Decodes a feed body: a UTF-8 byte order mark wins, then the declared charset; an unknown charset reads as utf-8. */
export function decodeFeed(bytes: Uint8Array, contentType: string | null): string {
  const utf8Bom = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
  const charset = utf8Bom ? 'utf-8' : declaredCharset(contentType, bytes).trim().toLowerCase();
  if (WINDOWS_1252_LABELS.has(charset)) return decodeWindows1252(bytes);
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(charset);
  } catch {
    decoder = new TextDecoder('utf-8');
  }
  return decoder.decode(bytes);
}
