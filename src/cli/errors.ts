// Errors the CLI raises itself: bad usage and failed commands (module errors pass through with their own codes).

/** Closed set of CLI error codes. */
export type CliErrorCode = 'USAGE' | 'FAILED';

/** A command failed in a way the CLI detected; the message is printed as `Error: …`. */
export class CliError extends Error {
  readonly code: CliErrorCode;
  constructor(message: string, options?: { code?: CliErrorCode; cause?: unknown }) {
    super(message, { cause: options?.cause });
    this.code = options?.code ?? 'USAGE';
    this.name = 'CliError';
  }
}
