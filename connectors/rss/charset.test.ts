// Feed body decoding: WHATWG windows-1252 for every latin1 label, the prolog's encoding, and a UTF-8 BOM winning.
import { describe, expect, it } from 'vitest';
import { decodeFeed } from './charset.ts';

const high = Uint8Array.from({ length: 32 }, (_, i) => 0x80 + i);

describe('decodeFeed', () => {
  it('reads 0x80–0x9F as windows-1252 for iso-8859-1, latin1 and windows-1252, the five unassigned bytes as themselves', () => {
    for (const label of ['windows-1252', 'ISO-8859-1', 'latin1', 'us-ascii']) {
      const text = decodeFeed(high, `text/xml; charset=${label}`);
      expect(text).toBe('€\u0081‚ƒ„…†‡ˆ‰Š‹Œ\u008dŽ\u008f\u0090‘’“”•–—˜™š›œ\u009džŸ');
    }
    expect(decodeFeed(Uint8Array.of(0xe9, 0xa0, 0xff), 'text/xml; charset="iso-8859-1"')).toBe('é\u00a0ÿ');
  });

  it("takes the XML prolog's encoding when Content-Type names none, and a UTF-8 BOM over both", () => {
    const body = Buffer.concat([Buffer.from('<?xml version="1.0" encoding="ISO-8859-1"?><t>'), Buffer.from([0x93, 0x80, 0x94]), Buffer.from('</t>')]);
    expect(decodeFeed(body, 'application/xml')).toBe('<?xml version="1.0" encoding="ISO-8859-1"?><t>“€”</t>');
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('<t>€</t>')]);
    expect(decodeFeed(bom, 'text/xml; charset=windows-1252')).toBe('<t>€</t>');
    expect(decodeFeed(Buffer.from('<t>ü</t>'), 'text/xml; charset=no-such-charset')).toBe('<t>ü</t>');
  });
});
