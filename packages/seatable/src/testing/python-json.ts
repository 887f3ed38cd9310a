/**
 * `json.dumps(value)` with Python's defaults, byte for byte where it matters for signatures:
 * separators `", "` and `": "`, and `ensure_ascii` (everything outside printable ASCII as `\uXXXX`,
 * UTF-16 surrogate pairs for astral characters). Numbers use JavaScript's shortest form, which equals
 * Python's `repr` except for integral floats (Python writes `1.0`) and exponents.
 */
export function pythonJsonDumps(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('json.dumps output for NaN/Infinity is not JSON');
      return String(value);
    case 'string':
      return pythonString(value);
    case 'object':
      if (Array.isArray(value)) return `[${value.map(pythonJsonDumps).join(', ')}]`;
      return `{${Object.entries(value as Record<string, unknown>)
        .filter(([, item]) => item !== undefined)
        .map(([key, item]) => `${pythonString(key)}: ${pythonJsonDumps(item)}`)
        .join(', ')}}`;
    default:
      throw new TypeError(`json.dumps cannot encode a ${typeof value}`);
  }
}

const SHORT_ESCAPES: Readonly<Record<string, string>> = {
  '"': '\\"',
  '\\': '\\\\',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};

function pythonString(text: string): string {
  // Python's ESCAPE_ASCII: anything but `"`/`\` in printable ASCII (space to `~`) is escaped.
  return `"${text.replace(/[\\"]|[^ -~]/g, (char) => SHORT_ESCAPES[char] ?? `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`)}"`;
}
