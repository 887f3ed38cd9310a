import type { SeatableCellChange } from './types.js';
import { isRecord } from './op-types.js';

/**
 * Reads fields of an untrusted JSON object, collecting every problem (with its path) instead of
 * stopping at the first, so an `invalid_body` error can list all of them.
 */
export class FieldReader {
  constructor(
    readonly fields: Record<string, unknown>,
    private readonly path: string,
    readonly issues: string[],
  ) {}

  string(name: string): string {
    const value = this.fields[name];
    if (typeof value === 'string' && value !== '') return value;
    this.issues.push(`${this.path}.${name} must be a non-empty string`);
    return '';
  }

  /** Absent, null and '' are all "not given". */
  optionalString(name: string): string | null {
    const value = this.fields[name];
    if (value === undefined || value === null || value === '') return null;
    if (typeof value === 'string') return value;
    this.issues.push(`${this.path}.${name} must be a string when present`);
    return null;
  }

  /**
   * A field shown to people but never used to build the event, such as `row_name` (the primary
   * column's raw cell: a number, a formula's list, …). Refusing an unexpected type would count as a
   * delivery failure, and five of those switch the webhook off, so anything is accepted: numbers and
   * booleans as their text, other JSON as its JSON text, so the field stays one type.
   */
  displayText(name: string): string | null {
    const value = this.fields[name];
    if (value === undefined || value === null || value === '') return null;
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    return JSON.stringify(value);
  }

  number(name: string): number {
    const value = this.fields[name];
    if (typeof value === 'number' && Number.isFinite(value)) return value;
    this.issues.push(`${this.path}.${name} must be a number`);
    return 0;
  }

  /** A non-negative integer count, 1 when absent. */
  count(name: string): number {
    const value = this.fields[name];
    if (value === undefined || value === null) return 1;
    if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
    this.issues.push(`${this.path}.${name} must be a non-negative integer when present`);
    return 1;
  }

  /** A webhook `row_data` list of cell objects (absent or null is an empty list). */
  cells(name: string): SeatableCellChange[] {
    const value = this.fields[name];
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) {
      this.issues.push(`${this.path}.${name} must be a list of cells`);
      return [];
    }
    return value.flatMap((cell, index) => {
      const cellPath = `${this.path}.${name}[${index}]`;
      if (!isRecord(cell)) {
        this.issues.push(`${cellPath} must be an object`);
        return [];
      }
      const reader = new FieldReader(cell, cellPath, this.issues);
      const change: SeatableCellChange = {
        columnKey: reader.string('column_key'),
        value: cell.value ?? null,
      };
      const columnName = reader.displayText('column_name');
      const columnType = reader.displayText('column_type');
      if (columnName !== null) change.columnName = columnName;
      if (columnType !== null) change.columnType = columnType;
      if ('old_value' in cell) change.oldValue = cell.old_value;
      // The column's settings, e.g. a select's options, which say what an option id in `value` means.
      if (isRecord(cell.column_data)) change.columnData = cell.column_data;
      return [change];
    });
  }
}
