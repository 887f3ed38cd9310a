import { plainToInstance, Transform } from 'class-transformer';
import { parse as parseConnectionString } from 'pg-connection-string';
import {
  IsBoolean,
  IsIn,
  IsOptional,
  IsString,
  Matches,
  MinLength,
  ValidateBy,
  validateSync,
} from 'class-validator';

const toBoolean = ({ value }: { value: unknown }) =>
  value === undefined || value === ''
    ? undefined
    : value === 'true' || value === '1'
      ? true
      : value === 'false' || value === '0'
        ? false
        : value;
/** Decimal digits only: `Number` would also take `0x1F90` (8080) and `1e3` (1000). */
const toInt = ({ value }: { value: unknown }) =>
  value === undefined || value === ''
    ? undefined
    : typeof value === 'string' && /^\s*\d+\s*$/.test(value)
      ? Number(value)
      : NaN;
const emptyToUndefined = ({ value }: { value: unknown }) => (value === '' ? undefined : value);

/**
 * One rule with one message: separate IsInt, Min and Max each failed on `abc` (NaN), and their three
 * messages contradicted one another.
 */
const IsIntegerIn = (min: number, max: number, what: string) =>
  Satisfies(
    'isIntegerIn',
    (value) => Number.isInteger(value) && (value as number) >= min && (value as number) <= max,
    `must be ${what} from ${min} to ${max}`,
  );

/** A rule of its own: the value passes `test`, or the variable is reported with `message`. */
function Satisfies(name: string, test: (value: unknown) => boolean, message: string): PropertyDecorator {
  return ValidateBy({ name, validator: { validate: test, defaultMessage: () => message } });
}

const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1000, kib: 1024, mb: 1000 ** 2, mib: 1024 ** 2 };
const SIZE = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i;
const MIN_BODY = 1024;
/** Bodies are held in memory whole: more than this is surely a slip of the unit. */
const MAX_BODY = 1024 ** 3;

/** `1048576`, `512kb`, `1mib`… in bytes; NaN when it is not such a size. */
export function parseSize(text: string): number {
  const match = SIZE.exec(text.trim());
  const unit = match ? SIZE_UNITS[(match[2] || 'b').toLowerCase()] : undefined;
  return unit === undefined ? NaN : Math.floor(Number(match![1]) * unit);
}

/** Whether node-postgres can read it: its parser takes what the URL class refuses (`user:pw@/db?host=/socket`). */
function parsesAsConnectionString(url: string): boolean {
  try {
    parseConnectionString(url);
    return true;
  } catch {
    return false;
  }
}

/** One delay of a retry schedule at most: a longer one is surely a slip of the unit. */
const MAX_RETRY_DELAY_SECONDS = 30 * 86_400;

/** The environment as Herald reads it (contract §2). Validated once at start. */
export class Environment {
  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^postgres(ql)?:\/\//, { message: 'must be a postgres:// URL' })
  // A URL the driver cannot parse (a port that is no number, a password with an unescaped `/`) failed
  // each connect attempt alike, and was retried for 30 s as if the database were away.
  @Satisfies(
    'parsableUrl',
    (value) => typeof value !== 'string' || parsesAsConnectionString(value),
    'is not a valid URL (percent-encode any of : / ? # @ % in the user name or password)',
  )
  DATABASE_URL?: string;

  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  HERALD_DATA_DIR?: string;

  @IsOptional()
  @Transform(toInt)
  @IsIntegerIn(1, 65_535, 'an integer port')
  PORT?: number;

  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^https?:\/\/[^/?#\s]+(\/[^?#\s]*)?$/, {
    message: 'must be an http(s) URL without a query or fragment (ingest URLs are built on it)',
  })
  HERALD_PUBLIC_URL?: string;

  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^\s*(\*|https?:\/\/[^/?#\s,]+)(\s*,\s*https?:\/\/[^/?#\s,]+)*\s*$/, {
    message: 'must be * or comma-separated origins such as https://admin.example.com (no path)',
  })
  HERALD_CORS_ORIGINS?: string;

  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^\S+$/, { message: 'must be a host name or address, without spaces' })
  HOST?: string;

  @IsOptional()
  @Transform(emptyToUndefined)
  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL?: string;

  @IsOptional()
  @Transform(emptyToUndefined)
  @IsString()
  @MinLength(16, { message: 'must be at least 16 characters' })
  HERALD_ADMIN_TOKEN?: string;

  @IsOptional()
  @Transform(toInt)
  @IsIntegerIn(1, 3650, 'a whole number of days')
  HERALD_RETENTION_DAYS?: number;

  @IsOptional()
  @Transform(toBoolean)
  @IsBoolean({ message: 'must be true or false' })
  HERALD_ALLOW_PRIVATE_TARGETS?: boolean;

  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^\s*\d+(\.\d+)?(\s*,\s*\d+(\.\d+)?)*\s*$/, {
    message: 'must be comma-separated seconds, e.g. 0,5,300',
  })
  @Satisfies(
    'retryDelaysInRange',
    // A value that is no list of numbers is refused by the rule above, with its own message.
    (value) =>
      typeof value !== 'string' ||
      value.split(',').every((delay) => !(Number(delay) > MAX_RETRY_DELAY_SECONDS)),
    `each delay must be at most ${MAX_RETRY_DELAY_SECONDS} seconds (30 days)`,
  )
  HERALD_RETRY_SCHEDULE?: string;

  @IsOptional()
  @Transform(toInt)
  @IsIntegerIn(10, 1_000_000, 'an integer')
  HERALD_SOCKET_MAX_BUFFER?: number;

  @IsOptional()
  @Transform(toInt)
  @IsIntegerIn(1, 3_600, 'a whole number of seconds')
  HERALD_REQUEST_TIMEOUT?: number;

  @IsOptional()
  @Transform(toInt)
  @IsIntegerIn(0, 120, 'a whole number of seconds')
  HERALD_SHUTDOWN_DELAY?: number;

  @IsOptional()
  @Transform(toInt)
  @IsIntegerIn(1, 86_400, 'a whole number of seconds')
  HERALD_STREAM_AUTH_RETRY?: number;

  @IsOptional()
  @Transform(toBoolean)
  @IsBoolean({ message: 'must be true or false' })
  HERALD_TRUST_PROXY?: boolean;

  @IsOptional()
  @Transform(emptyToUndefined)
  @Satisfies(
    'bodySize',
    (value) => {
      const bytes = typeof value === 'string' ? parseSize(value) : NaN;
      return bytes >= MIN_BODY && bytes <= MAX_BODY;
    },
    'must be a size from 1kib to 1024mib, such as 1048576, 512kb or 1mib',
  )
  HERALD_MAX_BODY?: string;

  @IsOptional()
  @Transform(emptyToUndefined)
  @Matches(/^rediss?:\/\/[^/\s]+(\/\d+)?$/, {
    message: 'must be a redis:// or rediss:// URL, e.g. redis://redis:6379/0',
  })
  REDIS_URL?: string;
}

export class ConfigurationError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigurationError';
  }
}

/** Variables whose values carry credentials: an error names them without echoing the value into logs. */
const SECRET_VARIABLES = new Set(['DATABASE_URL', 'HERALD_ADMIN_TOKEN', 'REDIS_URL']);

/** Validates the environment and throws one error naming every bad variable. */
export function validateEnvironment(env: NodeJS.ProcessEnv): Environment {
  const environment = plainToInstance(Environment, { ...env }, { excludeExtraneousValues: false });
  const errors = validateSync(environment, { whitelist: true, forbidUnknownValues: false });
  if (errors.length > 0) {
    throw new ConfigurationError(
      errors.map((error) => {
        const value = SECRET_VARIABLES.has(error.property)
          ? '(value hidden)'
          : JSON.stringify(env[error.property]);
        return `${error.property}=${value}: ${Object.values(error.constraints ?? {}).join('; ')}`;
      }),
    );
  }
  return environment;
}
