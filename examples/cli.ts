/**
 * The command line the demos share: where to listen (`--port`/`PORT`,
 * `--hostname`/`HOST`), and one line that says what to do when starting
 * fails, instead of a stack trace.
 *
 * @module
 */

/** Where to listen, from the command line and the environment. */
export interface ListenSettings {
  /** The port. */
  port: number;
  /** The address. */
  hostname: string;
}

function parsePort(text: string, source: string): number {
  const port = Number(text);
  if (
    text.trim() === "" || !Number.isInteger(port) || port < 0 || port > 65535
  ) {
    throw new RangeError(`${source}: "${text}" is not a port number`);
  }
  return port;
}

/**
 * Reads `--port N` / `--port=N` and `--hostname H` / `--hostname=H` from
 * `args`, falling back to `PORT` and `HOST` in `env`, then to the defaults.
 *
 * @param args the command-line arguments
 * @param env reads an environment variable
 * @param defaults the demo's own port and address
 * @returns the port and address to listen on
 * @throws {RangeError} for a port that is not 0-65535, an unknown argument
 * or a flag without its value
 */
export function parseListenSettings(
  args: readonly string[],
  env: (name: string) => string | undefined,
  defaults: ListenSettings,
): ListenSettings {
  let port: number | undefined;
  let hostname: string | undefined;
  for (let index = 0; index < args.length; index++) {
    const arg = args[index];
    const equals = arg.indexOf("=");
    const flag = equals === -1 ? arg : arg.slice(0, equals);
    if (flag !== "--port" && flag !== "--hostname") {
      throw new RangeError(`unknown argument "${arg}"`);
    }
    let value: string | undefined;
    if (equals !== -1) value = arg.slice(equals + 1);
    else value = args[++index];
    if (value === undefined) throw new RangeError(`${flag} needs a value`);
    if (flag === "--port") port = parsePort(value, "--port");
    else hostname = value;
  }
  if (port === undefined) {
    const fromEnv = env("PORT");
    port = fromEnv === undefined ? defaults.port : parsePort(fromEnv, "PORT");
  }
  hostname ??= env("HOST") ?? defaults.hostname;
  return { port, hostname };
}

/**
 * Prints what is wrong with the command line and the usage, in two lines,
 * and exits with status 2.
 *
 * @param name the demo, for messages ("echo server")
 * @param message what is wrong
 * @param usage the usage line
 */
export function exitWithUsage(
  name: string,
  message: string,
  usage: string,
): never {
  console.error(`${name}: ${message}`);
  console.error(`usage: ${usage}`);
  Deno.exit(2);
}

/**
 * Parses the command line, or exits with the usage ({@linkcode exitWithUsage}).
 *
 * @param name the demo, for messages ("echo server")
 * @param usage the usage line
 * @param defaults the demo's own port and address
 * @param args the arguments left to parse; default `Deno.args`
 * @returns where to listen
 */
export function listenSettingsOrExit(
  name: string,
  usage: string,
  defaults: ListenSettings,
  args: readonly string[] = Deno.args,
): ListenSettings {
  try {
    return parseListenSettings(
      args,
      (variable) => Deno.env.get(variable),
      defaults,
    );
  } catch (error) {
    exitWithUsage(name, (error as Error).message, usage);
  }
}

/**
 * Starts a server, or prints in one line why it could not listen and what
 * to do, and exits with status 1.
 *
 * @param name the demo, for messages
 * @param settings where it tried to listen
 * @param start starts the server
 * @param explain the demo's own line for errors it knows, or undefined
 * @returns the started server
 */
export async function startOrExit<T>(
  name: string,
  settings: ListenSettings,
  start: () => Promise<T>,
  explain: (error: unknown) => string | undefined = () => undefined,
): Promise<T> {
  try {
    return await start();
  } catch (error) {
    const line = explain(error) ?? describeListenFailure(error, settings);
    console.error(`${name}: ${line}`);
    Deno.exit(1);
  }
}

/**
 * One line for why listening failed, with what to do about it.
 *
 * @param error what `Deno.listen` threw
 * @param settings where it tried to listen
 * @returns the line
 */
export function describeListenFailure(
  error: unknown,
  settings: ListenSettings,
): string {
  const where = `${settings.hostname}:${settings.port}`;
  if (error instanceof Deno.errors.AddrInUse) {
    return `${where} is already in use; choose another port with --port N (or PORT=N)`;
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return `no permission to listen on ${where}; use a port above 1023 or allow it (--allow-net)`;
  }
  if (error instanceof Deno.errors.AddrNotAvailable) {
    return `${settings.hostname} is not an address of this machine; use --hostname 0.0.0.0 or 127.0.0.1`;
  }
  return `cannot listen on ${where}: ${
    error instanceof Error ? error.message : String(error)
  }`;
}
