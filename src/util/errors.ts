// The base of errors about what was asked or given (an option, a file, a folder, a list): the command line exits
// with code 2 for them (a usage error), and with 1 for anything else.

/** Exit code of the command line for a usage error. */
export const EXIT_USAGE = 2;

/** Something asked or given cannot be used; the message says what. Subclasses set only their `name`. */
export class RefusedInputError extends Error {
  readonly exitCode = EXIT_USAGE;
  constructor(message: string) {
    super(message);
    this.name = 'RefusedInputError';
  }
}
