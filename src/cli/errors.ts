/** An error meant for the user: printed as one line, no stack trace, with its own exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
  }
}

/** Exit codes shared by every subcommand. */
export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
} as const;

const FILE_ERRORS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'is a directory',
  ELOOP: 'is a symbolic link (not followed: remove it or give another path)',
  ENOSPC: 'no space left on the device',
  EFBIG: 'file too large',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
};

/** A readable reason for a file system error (ENOENT → "no such file"). */
export function fileErrorReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return (e.code && FILE_ERRORS[e.code]) ?? e.message;
}

export function fileErrorText(path: string, err: unknown): string {
  return `cannot read ${path}: ${fileErrorReason(err)}`;
}

/** Why a port could not be listened on, in words; `hint` says what to do when it is taken. */
export function listenErrorReason(err: unknown, hint: string): string {
  const e = err as NodeJS.ErrnoException;
  return e.code === 'EADDRINUSE' ? `the port is in use (${hint})` : e.code === 'EACCES' ? 'permission denied' : e.code === 'EADDRNOTAVAIL' ? 'no such local address' : e.message;
}

/**
 * A capture command's failure as one line: a file that is not (or no longer) a capture, or a file
 * system error on the input or on the file being written.
 */
export function captureFailure(e: unknown, input: string): CliError {
  if (e instanceof CliError) return e;
  const err = e as NodeJS.ErrnoException;
  if (err.code === undefined) return new CliError(err.message);
  return new CliError(err.path !== undefined && err.path !== input ? `cannot write ${err.path}: ${fileErrorReason(e)}` : fileErrorText(input, e));
}
