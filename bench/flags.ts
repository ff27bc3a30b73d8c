/**
 * The `--name=value` flags of the benchmark scripts.
 *
 * @module
 */

/**
 * Reads `--name=value` arguments into a map; a flag given without a value
 * is "true".
 *
 * @param args the command-line arguments
 * @returns each flag's value by name
 */
export function readFlags(args: readonly string[]): Map<string, string> {
  const values = new Map<string, string>();
  for (const arg of args) {
    const [name, value] = arg.replace(/^--/, "").split("=");
    values.set(name, value ?? "true");
  }
  return values;
}
