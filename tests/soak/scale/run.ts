// One scale run: start the scale server in its own process, open `count`
// concurrent WebSocket clients that each echo one message, measure the
// server's memory with all of them open, close them all (close handshake),
// stop the server with SIGTERM. Used by `deno task scale` and by
// tests/scale_deno_test.ts.
import { withDeadline } from "../../interop/peers/bounded.ts";
import { closeSessions, openSessions } from "./clients.ts";
import { ScaleServer, type ServerStats } from "./server_process.ts";

/** Handshakes (and close handshakes) in flight at once. */
export const CONCURRENCY = 256;

/** Most connections per destination address before spreading over
 * 127.0.0.x (the ephemeral port range is about 28,000 wide). */
const CONNECTIONS_PER_ADDRESS = 20_000;

/** What {@linkcode runScale} measured. */
export interface ScaleReport {
  /** Connections asked for. */
  count: number;
  /** Connections that echoed their message. */
  served: number;
  /** Why the others were not served, counted. */
  failures: Record<string, number>;
  /** How the close handshakes ended, counted ("clean" is the goal). */
  closes: Record<string, number>;
  /** Server memory before, with every connection open, after closing. */
  before: ServerStats;
  open: ServerStats;
  after: ServerStats;
  /** (open.rss - before.rss) / served, bytes. */
  rssPerConnection: number;
  /** (open.heapUsed - before.heapUsed) / served, bytes. */
  heapPerConnection: number;
  /** (open.external - before.external) / served, bytes. */
  externalPerConnection: number;
  /** Milliseconds to open and echo every connection. */
  openMilliseconds: number;
  /** The server's exit code after SIGTERM. */
  exitCode: number;
}

/** The open-files limit of this process, from /proc (Linux), or null. */
export async function openFilesLimit(): Promise<number | null> {
  try {
    const limits = await Deno.readTextFile("/proc/self/limits");
    for (const line of limits.split("\n")) {
      if (line.startsWith("Max open files")) {
        const soft = line.slice("Max open files".length).trim().split(/\s+/)[0];
        return soft === "unlimited" ? Infinity : Number(soft);
      }
    }
  } catch {
    // Not Linux.
  }
  return null;
}

/**
 * Runs the scale scenario with `count` connections.
 *
 * @param count how many concurrent connections
 * @param deadline milliseconds each phase (open, close) may take
 */
export async function runScale(
  count: number,
  deadline: number,
): Promise<ScaleReport> {
  const spread = Math.max(1, Math.ceil(count / CONNECTIONS_PER_ADDRESS));
  const server = await ScaleServer.start({
    maxConnections: count + 64,
    hostname: spread > 1 ? "0.0.0.0" : "127.0.0.1",
  });
  let sessions: Awaited<ReturnType<typeof openSessions>>["sessions"] = [];
  try {
    const before = await server.stats();
    const started = performance.now();
    const opened = await withDeadline(
      openSessions({ port: server.port, spread }, count, CONCURRENCY),
      deadline,
      `opening ${count} connections`,
    );
    sessions = opened.sessions;
    const openMilliseconds = performance.now() - started;
    const open = await server.stats();
    const closes = await withDeadline(
      closeSessions(sessions, CONCURRENCY),
      deadline,
      `closing ${count} connections`,
    );
    const after = await server.stats();
    const exitCode = await server.stop();
    const served = Math.max(1, opened.served);
    return {
      count,
      served: opened.served,
      failures: Object.fromEntries(opened.failures),
      closes: Object.fromEntries(closes),
      before,
      open,
      after,
      rssPerConnection: (open.rss - before.rss) / served,
      heapPerConnection: (open.heapUsed - before.heapUsed) / served,
      externalPerConnection: (open.external - before.external) / served,
      openMilliseconds,
      exitCode,
    };
  } catch (error) {
    for (const session of sessions) session.abort();
    await server.kill();
    throw error;
  }
}

const MIB = 1024 * 1024;

/** The report as a few lines of text. */
export function formatReport(report: ScaleReport): string {
  const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
  const mib = (bytes: number) => `${(bytes / MIB).toFixed(1)} MiB`;
  return [
    `connections: ${report.served} of ${report.count} served (echoed) in ${
      (report.openMilliseconds / 1000).toFixed(1)
    } s` +
    (Object.keys(report.failures).length > 0
      ? `; not served: ${JSON.stringify(report.failures)}`
      : ""),
    `server RSS: ${mib(report.before.rss)} idle, ${
      mib(report.open.rss)
    } with ${report.open.openSockets} sockets open, ${
      mib(report.after.rss)
    } after closing (${report.after.openSockets} open)`,
    `per connection: RSS ${kib(report.rssPerConnection)}, V8 heap ${
      kib(report.heapPerConnection)
    }, ArrayBuffers ${kib(report.externalPerConnection)}`,
    `V8 heap: ${mib(report.before.heapUsed)} idle, ${
      mib(report.open.heapUsed)
    } open, ${mib(report.after.heapUsed)} after closing; ArrayBuffers ${
      mib(report.before.external)
    }, ${mib(report.open.external)}, ${mib(report.after.external)}`,
    `close handshakes: ${
      JSON.stringify(report.closes)
    }; server exit code ${report.exitCode}`,
  ].join("\n");
}
