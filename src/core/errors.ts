/**
 * Errors carry a domain (whose fault it is), a retriable flag (may the same action succeed if tried
 * again?) and, where known, the operator uid and subtask they came from. Only retriable external
 * errors are retried; a user or internal error fails fast.
 */
export type ErrorDomain = 'user' | 'external' | 'internal';

/** How an {@link EddyError} is classified. Defaults: domain `internal`, not retriable, no operator. */
export interface EddyErrorOptions {
  readonly domain?: ErrorDomain;
  readonly isRetriable?: boolean;
  readonly cause?: unknown;
  readonly operatorUid?: string;
  readonly subtask?: number;
}

/**
 * The base of every error Eddy throws on purpose; anything else reaching the runtime is treated as a
 * user-code failure.
 */
export class EddyError extends Error {
  readonly domain: ErrorDomain;
  readonly isRetriable: boolean;
  /** Where the error came from; set at creation or once by the runtime ({@link attributeTo}). */
  operatorUid: string | undefined;
  subtask: number | undefined;

  constructor(message: string, options: EddyErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'EddyError';
    this.domain = options.domain ?? 'internal';
    this.isRetriable = options.isRetriable ?? false;
    this.operatorUid = options.operatorUid;
    this.subtask = options.subtask;
  }

  /** Records the operator subtask the error came from, unless it is already known. Returns this. */
  attributeTo(operatorUid: string, subtask: number): this {
    if (this.operatorUid === undefined) {
      this.operatorUid = operatorUid;
      this.subtask = subtask;
    }
    return this;
  }
}

/** A mistake in the job definition, its arguments or its configuration: fix the input, don't retry. */
export class ConfigurationError extends EddyError {
  constructor(message: string, options: Omit<EddyErrorOptions, 'domain' | 'isRetriable'> = {}) {
    super(message, { ...options, domain: 'user', isRetriable: false });
    this.name = 'ConfigurationError';
  }
}

/** A record that cannot be read or does not satisfy the job's schema. */
export class BadRecordError extends EddyError {
  readonly location: string;
  constructor(message: string, location: string, options: Omit<EddyErrorOptions, 'domain' | 'isRetriable'> = {}) {
    super(`${location}: ${message}`, { ...options, domain: 'user', isRetriable: false });
    this.name = 'BadRecordError';
    this.location = location;
  }
}

/** Wraps an exception thrown by user code with the operator it came from. */
export class UserFunctionError extends EddyError {
  constructor(operatorUid: string, subtask: number, cause: unknown) {
    super(`user function of operator '${operatorUid}' (subtask ${subtask}) threw: ${describeError(cause)}`, {
      domain: 'user',
      isRetriable: true,
      cause,
      operatorUid,
      subtask,
    });
    this.name = 'UserFunctionError';
  }
}

/** An error's message, or `String(error)` for a thrown non-Error. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** Exhaustiveness check for discriminated unions: `default: return assertNever(x)`. */
export function assertNever(value: never, what = 'value'): never {
  throw new EddyError(`unexpected ${what}: ${JSON.stringify(value)}`);
}
