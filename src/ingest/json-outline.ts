/**
 * The structure of a JSON body without building any of it: where a value ends, the
 * members of an object that matter, how many elements an array has. One pass of byte
 * comparisons over the UTF-8 bytes as received (like nestingDepth() in json-body.ts, but
 * before decoding: JSON's structural characters are ASCII, and no byte of a multi-byte
 * UTF-8 sequence is below 0x80), so it costs about as much as reading the body once
 * (~20-30 ms for 10 MB) however it is shaped, where decoding those 10 MB costs 40-140 ms
 * and JSON.parse of 10 MB of `{},{},...` builds 3.4 million objects (seconds, gigabytes).
 * SDK routes use it to authenticate and count a request's messages before decoding or
 * parsing it. Only the few strings it returns (a key, member names) are decoded.
 *
 * Hand-written: the streaming tokenizers on npm (@streamparser/json's Tokenizer, the
 * fastest tried) call back once per token and took ~170 ms on those 10 MB, 6-8x this
 * scan, which is more than the whole event-loop budget of a request.
 *
 * On valid JSON the outline agrees with JSON.parse (a repeated member name: the last one,
 * as JSON.parse keeps); on invalid JSON (or bytes that are not UTF-8) it never throws and
 * still ends in linear time: the decoding and parse that follow report the error.
 */

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Where a value is: `bytes.subarray(start, end)`. */
export interface JsonRange {
  start: number;
  end: number;
}

export interface ArrayOutline {
  count: number;
  /** The first element's text, if any. */
  first: JsonRange | undefined;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

function isSpace(c: number | undefined): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** A member name longer than this (escapes included) is none of the names looked for. */
const MAX_NAME_CHARS = 128;

// Where objectMembers is within a member.
const BEFORE_NAME = 0;
const AFTER_NAME = 1;
const IN_VALUE = 2;

export class JsonScanner {
  /** Objects and arrays passed over so far. */
  containers = 0;
  /** Commas and colons passed over so far: one per further value or member. */
  separators = 0;

  constructor(readonly bytes: Uint8Array) {}

  /** The index of the first non-whitespace character at or after `i`. */
  skipSpace(i: number): number {
    const { bytes } = this;
    while (i < bytes.length && isSpace(bytes[i])) i++;
    return i;
  }

  /** Just past the string whose opening quote is at `i` (the text's end if unterminated). */
  private stringEnd(i: number): number {
    const { bytes } = this;
    for (let j = i + 1; j < bytes.length; j++) {
      const c = bytes[j];
      if (c === BACKSLASH) j++;
      else if (c === QUOTE) return j + 1;
    }
    return bytes.length;
  }

  /**
   * Just past the value that starts at `i` (no whitespace before it): a string, an object
   * or array (to its matching bracket, counted with the strings inside skipped), or a
   * number or literal (to the next delimiter). Always beyond `i` while text remains.
   */
  valueEnd(i: number): number {
    const { bytes } = this;
    const c = bytes[i];
    if (c === QUOTE) return this.stringEnd(i);
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      let depth = 0;
      for (let j = i; j < bytes.length; j++) {
        const d = bytes[j];
        if (d === QUOTE) j = this.stringEnd(j) - 1;
        else if (d === OPEN_OBJECT || d === OPEN_ARRAY) {
          depth++;
          this.containers++;
        } else if (d === CLOSE_OBJECT || d === CLOSE_ARRAY) {
          if (--depth === 0) return j + 1;
        } else if (d === COMMA || d === COLON) this.separators++;
      }
      return bytes.length;
    }
    let j = i;
    while (j < bytes.length) {
      const d = bytes[j];
      if (d === COMMA || d === CLOSE_OBJECT || d === CLOSE_ARRAY || d === COLON || isSpace(d)) {
        break;
      }
      j++;
    }
    return Math.max(j, Math.min(i + 1, bytes.length));
  }

  /**
   * The members named in `wanted` of the object whose `{` is at `start`, each with its
   * value's range (the last of a repeated name). `arrays` names members whose array
   * value is outlined on the way (`onArray`), so the object is still read once. Undefined
   * when no object starts there. One loop over the bytes: a body may hold millions of
   * members, and each costs a few comparisons (names are matched on their bytes, decoded
   * only when they hold an escape).
   */
  objectMembers(
    start: number,
    wanted: readonly string[],
    arrays: readonly string[] = [],
    onArray: (name: string, outline: ArrayOutline & JsonRange) => void = () => {},
  ): Map<string, JsonRange> | undefined {
    const { bytes } = this;
    if (bytes[start] !== OPEN_OBJECT) return undefined;
    this.containers++;
    const members = new Map<string, JsonRange>();
    const names = wanted.map((name) => ({ name, bytes: Buffer.from(name) }));
    let state = BEFORE_NAME;
    let name: string | undefined;
    let depth = 0; // inside the current value
    let valueStart = -1;
    let valueEnd = -1;
    const record = () => {
      if (name !== undefined) members.set(name, { start: valueStart, end: valueEnd });
    };
    for (let j = start + 1; j < bytes.length; j++) {
      const c = bytes[j] as number;
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
      if (depth === 0) {
        if (state === BEFORE_NAME) {
          if (c !== QUOTE) return members; // `}` (empty object, or trailing comma) or not JSON
          const end = this.stringEnd(j);
          name = this.matchName(j, end, names);
          j = end - 1;
          state = AFTER_NAME;
          continue;
        }
        if (state === AFTER_NAME) {
          if (c !== COLON) return members;
          this.separators++;
          state = IN_VALUE;
          valueStart = -1;
          continue;
        }
        if (c === COMMA || c === CLOSE_OBJECT) {
          if (valueStart >= 0) record();
          if (c === CLOSE_OBJECT) return members;
          this.separators++;
          state = BEFORE_NAME;
          continue;
        }
        if (valueStart < 0) {
          valueStart = j;
          if (c === OPEN_ARRAY && name !== undefined && arrays.includes(name)) {
            const outline = this.arrayElements(j);
            onArray(name, outline);
            valueEnd = outline.end;
            j = outline.end - 1;
            continue;
          }
        }
      }
      if (c === QUOTE) j = this.stringEnd(j) - 1;
      else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
        depth++;
        this.containers++;
      } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
        if (depth === 0) return members; // not JSON
        depth--;
      } else if (c === COMMA || c === COLON) this.separators++;
      valueEnd = j + 1;
    }
    return members;
  }

  /**
   * The elements of the array whose `[` is at `start`: how many, the first one's range,
   * and (when `ranges` is given) every element's range pushed onto it. One loop over the
   * bytes, and no object per element unless asked: a body may hold millions of them.
   */
  arrayElements(start: number, ranges?: JsonRange[]): ArrayOutline & JsonRange {
    const { bytes } = this;
    const length = bytes.length;
    let containers = 1;
    let separators = 0;
    let count = 0;
    let first: JsonRange | undefined;
    let depth = 0; // inside the current element
    let elementStart = -1;
    let elementEnd = -1;
    let end = length;
    for (let j = start + 1; j < length; j++) {
      const c = bytes[j] as number;
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
      if (depth === 0) {
        if (c === COMMA || c === CLOSE_ARRAY) {
          if (c === COMMA || elementStart >= 0) {
            if (count++ === 0) first = { start: elementStart, end: elementEnd };
            ranges?.push({ start: elementStart, end: elementEnd });
            elementStart = -1;
          }
          if (c === CLOSE_ARRAY) {
            end = j + 1;
            break;
          }
          separators++;
          continue;
        }
        if (elementStart < 0) elementStart = j;
      }
      if (c === QUOTE) j = this.stringEnd(j) - 1;
      else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
        depth++;
        containers++;
      } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
        if (depth === 0) break; // not JSON
        depth--;
      } else if (c === COMMA || c === COLON) separators++;
      elementEnd = j + 1;
    }
    if (end === length && elementStart >= 0) {
      if (count++ === 0) first = { start: elementStart, end: elementEnd };
      ranges?.push({ start: elementStart, end: elementEnd });
    }
    this.containers += containers;
    this.separators += separators;
    return { count, first, start, end };
  }

  /**
   * Which of `names` the member name whose quotes are at `start` and `end - 1` is: compared
   * byte by byte, decoded only when it holds an escape (`"write\u004bey"`).
   */
  private matchName(
    start: number,
    end: number,
    names: readonly { name: string; bytes: Uint8Array }[],
  ): string | undefined {
    const length = end - start - 2;
    if (length > MAX_NAME_CHARS) return undefined;
    const { bytes } = this;
    for (let k = start + 1; k < end - 1; k++) {
      if (bytes[k] === BACKSLASH) {
        const decoded = this.stringAt({ start, end });
        return names.find((n) => n.name === decoded)?.name;
      }
    }
    outer: for (const candidate of names) {
      if (candidate.bytes.length !== length) continue;
      for (let k = 0; k < length; k++) {
        if (bytes[start + 1 + k] !== candidate.bytes[k]) continue outer;
      }
      return candidate.name;
    }
    return undefined;
  }

  /** The string at `range`, as JSON.parse reads it; undefined for any other value. */
  stringAt(range: JsonRange): string | undefined {
    if (this.bytes[range.start] !== QUOTE) return undefined;
    try {
      const value: unknown = JSON.parse(utf8.decode(this.bytes.subarray(range.start, range.end)));
      return typeof value === 'string' ? value : undefined;
    } catch {
      return undefined;
    }
  }

  /** The text at `range` (UTF-8 decoded; throws a TypeError for bytes that are not UTF-8). */
  textAt(range: JsonRange): string {
    return utf8.decode(this.bytes.subarray(range.start, range.end));
  }
}
