// Which Host headers the server answers (defeats DNS rebinding: a web page whose name is made to resolve to this
// machine still sends its own name), which Origins may change state, and the warning shown when the server is
// reachable from other machines.
import { hostname, networkInterfaces } from 'node:os';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** An address that listens on every interface. */
export function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '' || host === '[::]';
}

/** A host name as it appears in a Host header: lower case, no trailing dot, IPv6 addresses in brackets. */
export function hostKey(name: string): string {
  const n = name.trim().toLowerCase().replace(/\.$/, '');
  return n.includes(':') && !n.startsWith('[') ? `[${n}]` : n;
}

export interface HostNameSources {
  /** Addresses of this machine's interfaces (for a wildcard address). Default: `os.networkInterfaces()`. */
  interfaces?: string[];
  /** This machine's name. Default: `os.hostname()`. */
  machine?: string;
}

/**
 * The host names a request may name: the loopback names, the address the server listens on (for a wildcard
 * address, every address and the name of this machine), and the names given with `--allow-host`.
 */
export function allowedHostNames(listen: string, extra: readonly string[] = [], src: HostNameSources = {}): Set<string> {
  const names = ['localhost', '127.0.0.1', '::1', ...extra];
  if (isWildcard(listen)) {
    const ifaces =
      src.interfaces ??
      Object.values(networkInterfaces())
        .flat()
        .map((i) => i?.address ?? '')
        .filter((a) => a !== '');
    const machine = src.machine ?? hostname();
    names.push(...ifaces, machine);
    if (!machine.includes('.')) names.push(`${machine}.local`);
  } else names.push(listen);
  return new Set(names.filter((n) => n.trim() !== '').map(hostKey));
}

/** Splits a Host header into name and port (undefined when absent); null when it is not a host[:port]. */
export function parseHostHeader(header: string): { name: string; port: number | undefined } | null {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]/@]+)(?::(\d{1,5}))?$/.exec(header.trim());
  if (!m) return null;
  return { name: hostKey(m[1]), port: m[2] === undefined ? undefined : Number(m[2]) };
}

/** Whether a Host header names this server: an allowed name, and its port (or none, which means 80). */
export function hostAllowed(header: string | undefined, names: ReadonlySet<string>, port: number): boolean {
  const h = parseHostHeader(header ?? '');
  return h !== null && names.has(h.name) && (h.port ?? 80) === port;
}

/** Whether an Origin header is this server's own page (http, same name and port as the Host header). */
export function sameOriginRequest(origin: string, hostHeader: string | undefined, port: number): boolean {
  let u: URL;
  try {
    u = new URL(origin);
  } catch {
    return false;
  }
  const h = parseHostHeader(hostHeader ?? '');
  return u.protocol === 'http:' && h !== null && hostKey(u.hostname) === h.name && Number(u.port || '80') === port;
}

/** The warning printed when the server listens on an address other machines can reach. */
export function exposureWarning(host: string, port: number, allowed: readonly string[]): string {
  const where = isWildcard(host) ? 'every network address of this computer' : host;
  return [
    '',
    `*** WARNING: mvfa serve listens on ${where} (port ${port}), not only on this computer. ***`,
    'Anyone on the network who can reach that address, and any program they run, can without a login:',
    '  - upload images (patient data) and read every score and heatmap of every user of the page,',
    '  - download the results lists and the adapters trained on the page, train new ones and switch the model.',
    'The traffic is plain HTTP: images and results cross the network unencrypted.',
    `Requests must name the server as one of: ${allowed.join(', ')} (add names with --allow-host).`,
    'Use this only on a network where everyone may see these images, or keep the default --host 127.0.0.1',
    'and put an authenticating HTTPS proxy in front.',
    '',
  ].join('\n');
}
