import { crc32, deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodePng } from './png.js';
import { checkRender } from './screenshot.js';

function chunk(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([Buffer.from(type, 'latin1'), body])), 0);
  return Buffer.concat([head, body, crc]);
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Encodes `pixels` (`channels` bytes a pixel), row y with filter `filters[y % filters.length]`. */
function encodePng(
  width: number,
  height: number,
  channels: 3 | 4,
  pixels: Uint8Array,
  filters: number[],
): Buffer {
  const stride = width * channels;
  const raw = Buffer.alloc(height * (stride + 1));
  for (let y = 0; y < height; y++) {
    const filter = filters[y % filters.length] as number;
    raw[y * (stride + 1)] = filter;
    for (let x = 0; x < stride; x++) {
      const at = (yy: number, xx: number) => (yy < 0 || xx < 0 ? 0 : (pixels[yy * stride + xx] as number));
      const [a, b, c] = [at(y, x - channels), at(y - 1, x), at(y - 1, x - channels)];
      const predictor = [0, a, b, (a + b) >> 1, paeth(a, b, c)][filter] as number;
      raw[y * (stride + 1) + 1 + x] = ((pixels[y * stride + x] as number) - predictor) & 0xff;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = channels === 4 ? 6 : 2;
  const data = deflateSync(raw);
  // split the image data over two IDAT chunks, as encoders do for big images
  const half = Math.floor(data.length / 2);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', data.subarray(0, half)),
    chunk('IDAT', data.subarray(half)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function gradient(width: number, height: number, channels: number): Uint8Array {
  const pixels = new Uint8Array(width * height * channels);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 37 + Math.floor(i / 7) * 11) & 0xff;
  return pixels;
}

describe('decodePng', () => {
  it('decodes RGBA through every scanline filter', () => {
    const pixels = gradient(7, 10, 4);
    const image = decodePng(encodePng(7, 10, 4, pixels, [0, 1, 2, 3, 4]));
    expect(image.width).toBe(7);
    expect(image.height).toBe(10);
    expect(Buffer.from(image.rgba).equals(Buffer.from(pixels))).toBe(true);
  });

  it('decodes RGB into RGBA with full alpha', () => {
    const pixels = gradient(5, 6, 3);
    const image = decodePng(encodePng(5, 6, 3, pixels, [4, 3, 2, 1, 0]));
    expect([...image.rgba.subarray(0, 8)]).toEqual([
      pixels[0],
      pixels[1],
      pixels[2],
      255,
      pixels[3],
      pixels[4],
      pixels[5],
      255,
    ]);
    expect(image.rgba.length).toBe(5 * 6 * 4);
  });

  it('refuses what is not a PNG', () => {
    expect(() => decodePng(Buffer.from('GIF89a not a png'))).toThrow('not a PNG');
  });
});

/** A white RGB image with `blocks` of colour, each `[colour, pixel count]`. */
function imageWith(blocks: [number[], number][]): Buffer {
  const width = 250;
  const height = 250;
  const pixels = new Uint8Array(width * height * 3).fill(255);
  let at = 0;
  for (const [rgb, count] of blocks) {
    for (let i = 0; i < count; i++, at++) pixels.set(rgb, at * 3);
  }
  return encodePng(width, height, 3, pixels, [1]);
}

describe('checkRender', () => {
  const colours = { Ballast: '#4e79a7', naive: '#e15759' };

  it('passes a page with enough ink and both colours', () => {
    const check = checkRender(
      decodePng(
        imageWith([
          [[0x4e, 0x79, 0xa7], 12_000],
          [[0xe1, 0x57, 0x59], 12_000],
        ]),
      ),
      colours,
    );
    expect(check.ok).toBe(true);
    expect(check.colourPixels).toEqual({ Ballast: 12_000, naive: 12_000 });
    expect(check.nonWhite).toBeCloseTo(0.384, 5);
  });

  it('fails a blank page', () => {
    const check = checkRender(decodePng(imageWith([])), colours);
    expect(check.ok).toBe(false);
    expect(check.message).toContain('blank');
  });

  it('fails when one mode’s colour is missing', () => {
    const check = checkRender(
      decodePng(
        imageWith([
          [[0x4e, 0x79, 0xa7], 12_000],
          [[0, 0, 0], 3_000],
        ]),
      ),
      colours,
    );
    expect(check.ok).toBe(false);
    expect(check.message).toContain('colour of naive missing');
  });

  it('does not take the table’s mode markers alone for a chart', () => {
    // The 4 px borders of the mode rows: a couple of thousand pixels, the charts tens of thousands.
    const check = checkRender(
      decodePng(
        imageWith([
          [[0x4e, 0x79, 0xa7], 12_000],
          [[0xe1, 0x57, 0x59], 1_800],
          [[0, 0, 0], 3_000],
        ]),
      ),
      colours,
    );
    expect(check.ok).toBe(false);
    expect(check.message).toContain('colour of naive missing');
  });
});
