import { isUtf8 } from 'node:buffer';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { invalidInput } from '../errors.js';
import { maxRunbookBytes } from './limits.js';

/**
 * The bytes of a runbook file become its text only when they are text (issue 22): UTF-8, and
 * no NUL. A byte that is not UTF-8 used to become U+FFFD silently — in an interface name, a
 * different name from the one the author wrote — and a NUL cannot be passed to any program.
 * Either is refused (exit 2, nothing run) with the file, line and column, as a YAML error is.
 */

/** Reads a runbook file's text: at most `maxRunbookBytes`, UTF-8, no NUL; else exit 2. */
export function readRunbookFile(file: string): string {
  const fd = openSync(file, 'r');
  try {
    // The size first: a file far too large (or /dev/zero) is refused before it is read.
    const { size, isFile } = statOf(fd);
    if (isFile && size > maxRunbookBytes) throw tooLarge(file, size);
    const bytes = readAtMost(fd, maxRunbookBytes + 1);
    if (bytes.length > maxRunbookBytes) throw tooLarge(file, bytes.length, true);
    return decodeRunbookBytes(bytes, file);
  } finally {
    closeSync(fd);
  }
}

function statOf(fd: number): { size: number; isFile: boolean } {
  const stat = fstatSync(fd);
  return { size: stat.size, isFile: stat.isFile() };
}

/** Up to `limit` bytes of `fd` (a pipe or a device has no size to check first). */
function readAtMost(fd: number, limit: number): Buffer {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const chunk = Buffer.alloc(Math.min(64 * 1024, limit - total));
    if (chunk.length === 0) break;
    const read = readSync(fd, chunk, 0, chunk.length, null);
    if (read === 0) break;
    chunks.push(chunk.subarray(0, read));
    total += read;
  }
  return Buffer.concat(chunks, total);
}

function tooLarge(file: string, size: number, atLeast = false) {
  return invalidInput(
    `${file}: too large for a runbook (${atLeast ? 'more than ' : ''}${size} bytes; at most ${maxRunbookBytes}); nothing was run`,
    'a runbook is a page or two: split a large one with include:, and repeat steps with foreach: rather than writing them out',
  );
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** `bytes` as text if they are UTF-8 without NUL; else exit 2 naming the line and column. */
export function decodeRunbookBytes(bytes: Uint8Array, file: string): string {
  const nul = bytes.indexOf(0);
  if (nul === -1 && isUtf8(bytes)) return strictUtf8.decode(bytes); // the usual case, at native speed
  const invalid = firstInvalidUtf8(bytes, nul === -1 ? bytes.length : nul);
  if (invalid !== undefined) {
    const byte = (bytes[invalid] ?? 0).toString(16).padStart(2, '0');
    throw invalidInput(
      `${file}: not UTF-8 text: the byte 0x${byte} at ${where(bytes, invalid)} is not part of a UTF-8 character; nothing was run`,
      'save the file as UTF-8 (e.g. iconv -f LATIN1 -t UTF-8)',
    );
  }
  if (nul !== -1)
    throw invalidInput(
      `${file}: a NUL byte at ${where(bytes, nul)}: a runbook is text, and no command can be given a NUL; nothing was run`,
      'remove it (a binary file, or a file saved as UTF-16?)',
    );
  return strictUtf8.decode(bytes);
}

/** "line L, column C" of byte `offset`: the column counts characters, as an editor does. */
function where(bytes: Uint8Array, offset: number): string {
  let lineStart = 0;
  let line = 1;
  for (let i = 0; i < offset; i++) {
    if (bytes[i] === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  // Everything before `offset` is valid UTF-8 (the first problem is at `offset`).
  const column = [...strictUtf8.decode(bytes.subarray(lineStart, offset))].length + 1;
  return `line ${line}, column ${column}`;
}

/**
 * The offset of the first byte in `bytes[0, end)` that is not part of a well-formed UTF-8
 * character (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), or undefined.
 */
export function firstInvalidUtf8(bytes: Uint8Array, end = bytes.length): number | undefined {
  let i = 0;
  while (i < end) {
    const b = bytes[i] as number;
    if (b < 0x80) {
      i++;
      continue;
    }
    // The length of the sequence and the range its second byte must be in (RFC 3629, table 3-7).
    let length: number;
    let low = 0x80;
    let high = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) length = 2;
    else if (b >= 0xe0 && b <= 0xef) {
      length = 3;
      if (b === 0xe0) low = 0xa0; // overlong
      if (b === 0xed) high = 0x9f; // surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      length = 4;
      if (b === 0xf0) low = 0x90; // overlong
      if (b === 0xf4) high = 0x8f; // above U+10FFFF
    } else return i;
    if (i + length > end) return i;
    const second = bytes[i + 1] as number;
    if (second < low || second > high) return i;
    for (let k = 2; k < length; k++) {
      const next = bytes[i + k] as number;
      if (next < 0x80 || next > 0xbf) return i;
    }
    i += length;
  }
  return undefined;
}
