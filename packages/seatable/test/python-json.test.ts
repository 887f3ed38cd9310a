import { describe, expect, it } from '@jest/globals';
import { pythonJsonDumps } from '../src/testing/index.js';

describe('pythonJsonDumps', () => {
  it("matches Python's json.dumps bytes: spaces after separators, non-ASCII as \\uXXXX", () => {
    // Expected text printed by CPython 3: json.dumps({...}) of the same dict.
    const value = {
      event: 'update',
      data: {
        dtable_uuid: 'fae0a3a42ba94df88e8303fd385e37de',
        row_name: 'Prüfung ✓ 😀',
        op_time: 1649929622.589,
        row_data: [],
        op_app: null,
        n: [1, 2.5, true],
      },
    };
    expect(pythonJsonDumps(value)).toBe(
      '{"event": "update", "data": {"dtable_uuid": "fae0a3a42ba94df88e8303fd385e37de", ' +
        '"row_name": "Pr\\u00fcfung \\u2713 \\ud83d\\ude00", "op_time": 1649929622.589, "row_data": [], ' +
        '"op_app": null, "n": [1, 2.5, true]}}',
    );
  });

  it('escapes quotes, backslashes and control characters like Python', () => {
    expect(pythonJsonDumps('a"b\\c\nd\te\u0001f\u007f')).toBe('"a\\"b\\\\c\\nd\\te\\u0001f\\u007f"');
    expect(pythonJsonDumps({})).toBe('{}');
  });
});
