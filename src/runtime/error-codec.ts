import { BadRecordError, ConfigurationError, EddyError, UserFunctionError, type ErrorDomain } from '../core/errors.ts';

/** An error as plain data, to cross from a worker thread to the job manager. */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly stack: string | undefined;
  readonly domain: ErrorDomain;
  readonly isRetriable: boolean;
  readonly operatorUid: string | undefined;
  readonly subtask: number | undefined;
  /** BadRecordError only. */
  readonly location: string | undefined;
  /** The message of the cause (UserFunctionError: what the user function threw). */
  readonly causeMessage: string | undefined;
}

/** Turns any thrown value into plain data; non-Eddy errors become domain `internal`, not retriable. */
export function serializeError(error: unknown): SerializedError {
  const eddy = error instanceof EddyError ? error : undefined;
  const cause = error instanceof Error ? error.cause : undefined;
  return {
    name: error instanceof Error ? error.name : 'Error',
    message: error instanceof Error ? error.message : String(error),
    stack: error instanceof Error ? error.stack : undefined,
    domain: eddy?.domain ?? 'internal',
    isRetriable: eddy?.isRetriable ?? false,
    operatorUid: eddy?.operatorUid,
    subtask: eddy?.subtask,
    location: error instanceof BadRecordError ? error.location : undefined,
    causeMessage: cause === undefined ? undefined : cause instanceof Error ? cause.message : String(cause),
  };
}

/** Rebuilds the error with its class where it is one of Eddy's, so that callers can test `instanceof`. */
export function deserializeError(data: SerializedError): EddyError {
  const origin = { operatorUid: data.operatorUid, subtask: data.subtask };
  let error: EddyError;
  if (data.name === 'UserFunctionError' && data.operatorUid !== undefined && data.subtask !== undefined) {
    const cause = new Error(data.causeMessage ?? data.message);
    error = new UserFunctionError(data.operatorUid, data.subtask, cause);
  } else if (data.name === 'BadRecordError' && data.location !== undefined) {
    const prefix = `${data.location}: `;
    const message = data.message.startsWith(prefix) ? data.message.slice(prefix.length) : data.message;
    error = new BadRecordError(message, data.location, origin);
  } else if (data.name === 'ConfigurationError') {
    error = new ConfigurationError(data.message, origin);
  } else {
    error = new EddyError(data.message, { ...origin, domain: data.domain, isRetriable: data.isRetriable });
    error.name = data.name;
  }
  if (data.stack !== undefined) error.stack = data.stack;
  return error;
}
