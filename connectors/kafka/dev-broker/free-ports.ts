import { createServer, type Server } from 'node:net';

/**
 * Port helpers for local brokers: pick ports nobody listens on (tests run brokers side by side), and
 * check a chosen port before starting a JVM that would only fail on it seconds later.
 */

/**
 * Returns `count` distinct TCP ports that were free on `host` a moment ago (the kernel picks them).
 * All are held until the last is found, so they differ from each other; another process may still
 * take one before the caller binds it, so callers must handle "address in use" anyway.
 */
export async function findFreePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      ports.push(await listen(server, 0, host));
    }
    return ports;
  } finally {
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }
}

/** One free TCP port on `host`; see {@link findFreePorts}. */
export async function findFreePort(host = '127.0.0.1'): Promise<number> {
  const [port] = await findFreePorts(1, host);
  return port!;
}

/**
 * Whether a TCP server could listen on `host:port` right now. False only for "address in use";
 * any other failure (no such address, no permission) is thrown.
 */
export async function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  const server = createServer();
  try {
    await listen(server, port, host);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') return false;
    throw error;
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, exclusive: true }, () => {
      server.off('error', reject);
      const address = server.address();
      if (address === null || typeof address === 'string') reject(new Error(`no TCP address for ${host}:${port}`));
      else resolve(address.port);
    });
  });
}
